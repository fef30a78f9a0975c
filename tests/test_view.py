"""The viewer's library side: saved reports and their identity, run diffs, the page's data, serving."""

import json
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import ida
from ida.experience import ExperienceDB
from ida.hypertext import parse
from ida.overseer.saved import ReportError, check_matches, load_report, report_path, save_report
from ida.scenarios import vase
from ida.transcript import load_transcript
from ida.view import DiffError, RunInput, build_payload, open_runs, render_html, run_diff, write_page
from ida.view.payload import policy_kind
from ida.view.serve import make_server
from ida.view.svg import curves_svg
from tests.conftest import ROOT

EXAMPLES = ROOT / "transcripts" / "examples"


@pytest.fixture
def replay(tmp_path):
    return vase.replay(vase.parse_room(vase.DEFAULT_ROOM), ExperienceDB(tmp_path / "exp.sqlite"))


def _data(html: str, block: str = "ida-data"):
    m = re.search(rf'<script type="application/json" id="{block}">(.*?)</script>', html, re.S)
    assert m, f"no {block} block"
    return json.loads(m.group(1))


def test_a_saved_report_round_trips_and_knows_its_transcript(replay, tmp_path):
    path = replay.first.save(tmp_path / "run1.jsonl")
    saved = save_report(replay.report, report_path(path), replay.applied)
    assert saved.name == "run1.report.json"
    r = load_report(saved)
    check_matches(r, load_transcript(path), saved)  # the tree read back is the same tree
    (v,) = [v for v in r.visits if v.blamed]
    assert v.node == replay.changed_at and v.target == "carefully" and v.edits[0].op == "add"
    (e,) = r.applied.entries
    assert (e.key, e.run_id, e.node_id, e.feedback) == ("vase", replay.first.run_id, v.node, "the vase broke at step 3")
    with pytest.raises(ReportError, match=f"for run {replay.first.run_id}, not run {replay.second.run_id}"):
        check_matches(r, replay.second, saved)
    changed = load_transcript(path)
    changed.nodes[4].answer = parse("sideways")
    with pytest.raises(ReportError, match="another version"):
        check_matches(r, changed, saved)


def test_a_file_that_is_no_report_is_refused_in_one_line(tmp_path):
    (tmp_path / "x.json").write_text('{"feedback": 3}')
    with pytest.raises(ReportError, match="not a backward report"):
        load_report(tmp_path / "x.json")


def test_the_run_diff_parts_where_the_vase_replay_says(replay):
    d = run_diff(replay.first, replay.second)
    assert d.first_b == d.first_a == replay.changed_at
    assert d.marks_b[replay.changed_at] == "changed"
    assert d.marks_b[replay.first.root] == "answer"  # the plan changed only because its subanswer did
    assert set(d.marks_b) == {replay.first.root, replay.changed_at}
    same = run_diff(replay.first, replay.first)
    assert same.first_b is None and not same.marks_b


def test_a_diff_of_different_questions_is_refused():
    a, b = load_transcript(EXAMPLES / "vase-run1.jsonl"), load_transcript(EXAMPLES / "sorted-six.jsonl")
    with pytest.raises(DiffError, match="different questions"):
        run_diff(a, b)


def test_a_diff_finds_asks_that_changed():
    @ida.scripted
    def lister(ws):
        q = ws.question_text
        if q.startswith("item"):
            return q.upper()
        n = int(q.split()[-1])
        parts = []
        for i in range(n):
            parts.append((yield f"ask item {i}"))
        return ",".join(parts)

    a, b = ida.run("list 2", lister), ida.run("list 2", lister)
    b.nodes[0].steps[1].action = "ask item 7"  # as if run 2 had asked another question second
    b.nodes[2].question = parse("item 7")
    d = run_diff(a, b)
    assert d.first_b == 0 and d.marks_b[2] == "added" and d.marks_a[2] == "removed" and 1 not in d.marks_b


def test_the_payload_has_a_column_a_field_and_marks_shared_nodes():
    tree = load_transcript(EXAMPLES / "permutation-size8-seed1.jsonl")
    payload, details = build_payload([RunInput(tree, "p")], "t")
    (run,) = payload.runs
    assert len(run["q"]) == len(run["a"]) == len(run["kids"]) == len(run["np"]) == len(tree)
    assert run["q"][0] == tree.root_node.question.text() and run["cost"][0] == len(tree.root_node.steps)
    shared = [n.id for n in tree.nodes if len(n.parents) > 1]  # asked again: a memo hit
    assert shared and all(run["np"][i] == len(tree.nodes[i].parents) for i in range(len(tree)))
    assert details[0]["lines"][0] == tree.root_node.lines
    assert [s[1] for s in details[0]["steps"][0]] == [s.action for s in tree.root_node.steps]


def test_pointers_name_the_messages_the_workspace_named():
    tree = load_transcript(EXAMPLES / "sorted-six.jsonl")
    _, (d,) = build_payload([RunInput(tree, "s")], "t")

    def full(i):  # expand a message of the table, as the page does click by click
        text, refs = d["msgs"][i]
        for k in range(len(refs), 0, -1):
            text = text.replace(f"${k}", "[" + full(refs[k - 1]) + "]")
        return text

    root = tree.root_node
    names = dict(d["ptr"][0])
    first = root.question.children[0]
    assert full(names["$1"]) == first.text()
    assert root.steps[0].action == "unlock $1" and root.steps[0].result == "1 $2"
    assert full(names["$2"]) == first.children[0].text()  # what `unlock $1` showed as $2


def test_policy_kinds():
    assert [policy_kind(p) for p in ("human", "memo(human)", "distilled:policy", "deferring(a, b)", "sorted-H",
                                     "overseer:rules")] == ["person", "automated", "model", "model", "script", "overseer"]


def test_text_from_data_cannot_break_out_of_the_page(tmp_path):
    evil = "what is </script><script>alert(1)</script> <!-- & x?"
    @ida.scripted
    def fine(ws):
        yield "reply fine"

    tree = ida.run(f"[{evil}] ok?", fine)
    html = render_html(*build_payload([RunInput(tree, "<b>label</b>")], "<title>"))
    assert "alert(1)</script>" not in html and "<b>label</b>" not in html
    assert html.count("</script>") == 3  # the two data blocks and the code
    assert evil in json.dumps(_data(html)["runs"][0]["q"])  # and the text is all there


def test_open_runs_reads_the_report_beside_a_transcript_and_refuses_a_stranger(replay, tmp_path):
    one = replay.first.save(tmp_path / "run1.jsonl")
    two = replay.second.save(tmp_path / "run2.jsonl")
    save_report(replay.report, report_path(one), replay.applied)
    runs = open_runs([one, two])
    assert runs[0].report is not None and runs[1].report is None
    with pytest.raises(ReportError, match="not for any transcript given"):
        open_runs([two], [report_path(one)])
    page = write_page(tmp_path / "p.html", runs)
    data = _data(page.read_text())
    assert data["reports"][0]["run"] == 0 and data["diffs"][0]["first_b"] == replay.changed_at


def test_curves_svg_draws_a_polyline_a_curve_with_escaped_names():
    svg = curves_svg([100, 200, 300], {"IDA": [0.1, 0.5, 0.9], "<defers>": [1.0, 0.5, 0.0]})
    assert svg.startswith("<svg") and svg.count("<polyline") == 2 and "&lt;defers&gt;" in svg
    top = re.search(r'data-name="IDA"[^>]*points="([^"]+)"', svg).group(1).split()
    assert float(top[0].split(",")[1]) > float(top[-1].split(",")[1])  # rising accuracy goes up the page


def test_serve_lists_a_folder_and_builds_pages(replay, tmp_path):
    folder = tmp_path / "runs"
    one = replay.first.save(folder / "run1.jsonl")
    replay.second.save(folder / "sub" / "run2.jsonl")
    save_report(replay.report, report_path(one), replay.applied)
    server = make_server(folder, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        listing = urllib.request.urlopen(base + "/").read().decode()
        assert "run1.jsonl" in listing and "sub/run2.jsonl" in listing and "backward report" in listing
        page = urllib.request.urlopen(base + "/view?t=run1.jsonl&t=sub/run2.jsonl").read().decode()
        data = _data(page)
        assert len(data["runs"]) == 2 and data["diffs"][0]["first_b"] == replay.changed_at and data["reports"]
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + "/view?t=../../etc/passwd")
        assert e.value.code == 400
    finally:
        server.shutdown()
        server.server_close()


def test_the_page_needs_nothing_from_outside():
    for name in ("page.html", "page.js", "page.css"):
        text = (Path(ida.__file__).parent / "view" / name).read_text()
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), name

"""`ida view`, the --view flags and the otel/hf exports, through the real command line."""

import json
import re
import shutil

import pytest

from tests.conftest import ROOT

EXAMPLES = ROOT / "transcripts" / "examples"


def _data(path):
    m = re.search(r'<script type="application/json" id="ida-data">(.*?)</script>', path.read_text(), re.S)
    return json.loads(m.group(1))


@pytest.fixture
def vase_dir(cli, tmp_path):
    r = cli("vase", "--view", "--out", "v")
    assert r.returncode == 0, r.stderr
    return tmp_path / "v"


def _one_line_exit_2(r, words):
    assert r.returncode == 2, r.stdout + r.stderr
    assert words in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_vase_view_writes_the_page_with_blame_and_diff(vase_dir):
    (page,) = vase_dir.glob("vase-*.html")
    data = _data(page)
    assert [r["label"] for r in data["runs"]] == ["run 1", "run 2"]
    (report,) = data["reports"]
    blamed = [v["node"] for v in report["visits"] if v["blamed"]]
    assert blamed == [data["diffs"][0]["first_b"]]  # the node blamed in run 1 is where run 2 changed
    assert report["applied"]["entries"][0]["key"] == "vase"
    assert list(vase_dir.glob("run1-*.report.json"))


def test_view_writes_one_page_beside_the_transcript(cli, tmp_path):
    shutil.copy(EXAMPLES / "sorted-six.jsonl", tmp_path / "s.jsonl")
    r = cli("view", "s.jsonl")
    assert r.returncode == 0, r.stderr
    assert "wrote s.html (1 run(s), 6 nodes)" in r.stdout
    assert _data(tmp_path / "s.html")["runs"][0]["nodes"] == 6


def test_backward_saves_a_report_that_view_reads(cli, tmp_path):
    assert cli("run", "weights", "--seed", "2", "--db", "exp.sqlite", "--out", "w.jsonl").returncode == 0
    r = cli("backward", "w.jsonl", "--target", "150", "--overseer", "oracle", "--db", "exp.sqlite")
    assert r.returncode == 0 and "report saved: w.report.json" in r.stdout
    saved = json.loads((tmp_path / "w.report.json").read_text())
    assert saved["applied"] is None and any(v["edits"] for v in saved["visits"])  # a dry run proposes
    r = cli("view", "w.jsonl", "--out", "w.html")
    assert r.returncode == 0 and "1 report(s)" in r.stdout
    assert _data(tmp_path / "w.html")["reports"][0]["feedback"] == "150"


def test_fix_view_saves_rounds_reports_and_the_page(cli, tmp_path):
    r = cli("fix", "weights", "--seed", "2", "--db", "exp.sqlite", "--overseer", "oracle", "--view", "--out", "f")
    assert r.returncode == 0, r.stderr
    (page,) = (tmp_path / "f").glob("fix-*.html")
    data = _data(page)
    assert [x["label"] for x in data["runs"]] == ["round 1", "round 2"]
    assert data["reports"][0]["run"] == 0 and data["diffs"][0]["first_b"] is not None


def test_a_report_for_another_run_is_refused(cli, vase_dir):
    (report,) = vase_dir.glob("run1-*.report.json")
    (run2,) = vase_dir.glob("run2-*.jsonl")
    _one_line_exit_2(cli("view", str(run2), "--report", str(report)), "not for any transcript given")


def test_two_transcripts_of_different_questions_are_refused(cli):
    r = cli("view", str(EXAMPLES / "vase-run1.jsonl"), str(EXAMPLES / "sorted-six.jsonl"), "--out", "x.html")
    _one_line_exit_2(r, "ask different questions")
    ok = cli("view", str(EXAMPLES / "vase-run1.jsonl"), str(EXAMPLES / "sorted-six.jsonl"), "--out", "x.html",
             "--no-diff")
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize("content, words", [
    ("<html>not a transcript</html>\n", "not JSON"),
    ('{"kind": "header", "run_id": "x"}\n', "a header and no nodes"),
])
def test_a_non_transcript_is_one_line(cli, tmp_path, content, words):
    (tmp_path / "bad.jsonl").write_text(content)
    _one_line_exit_2(cli("view", "bad.jsonl"), words)


def test_a_malformed_report_is_one_line(cli, tmp_path):
    shutil.copy(EXAMPLES / "sorted-six.jsonl", tmp_path / "s.jsonl")
    (tmp_path / "r.json").write_text("[1, 2]")
    _one_line_exit_2(cli("view", "s.jsonl", "--report", "r.json"), "not a backward report")
    (tmp_path / "s.report.json").write_text("{")  # one found beside the transcript is read, and checked, too
    _one_line_exit_2(cli("view", "s.jsonl"), "not a backward report")


def test_export_otel_spans_carry_openinference_attributes_and_blame(cli, vase_dir):
    (run1,) = vase_dir.glob("run1-*.jsonl")
    r = cli("export", str(run1), "--format", "otel", "--out", "t.json")
    assert r.returncode == 0, r.stderr
    doc = json.loads((vase_dir.parent / "t.json").read_text())
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    attrs = [{a["key"]: next(iter(a["value"].values())) for a in s["attributes"]} for s in spans]
    nodes = [(s, a) for s, a in zip(spans, attrs) if a["openinference.span.kind"] == "CHAIN"]
    assert len(nodes) == 6 and len({s["traceId"] for s in spans}) == 1
    root, root_attrs = nodes[0]
    assert "parentSpanId" not in root and root_attrs["input.value"].startswith("plan how to carry the box")
    ids = {s["spanId"] for s in spans}
    assert all(s["parentSpanId"] in ids for s in spans[1:])
    assert all(int(s["startTimeUnixNano"]) < int(s["endTimeUnixNano"]) for s in spans)
    blamed = [a for _, a in nodes if a.get("ida.blame.blamed") is True]
    assert [a["input.value"] for a in blamed] == ["how should I move past the vase?"]
    assert blamed[0]["ida.blame.target"] == "carefully"
    retrievers = [a for a in attrs if a["openinference.span.kind"] == "RETRIEVER"]
    assert {a["input.value"] for a in retrievers} == {"lamp", "rug", "vase", "chair"}


def test_export_hf_rows_share_one_schema(cli, tmp_path):
    from ida.export import HF_COLUMNS

    shutil.copy(EXAMPLES / "multiply-351x5019.jsonl", tmp_path / "m.jsonl")
    assert cli("export", "m.jsonl", "--format", "hf").returncode == 0
    rows = [json.loads(line) for line in (tmp_path / "m.hf.jsonl").read_text().splitlines()]
    assert rows and all(tuple(r) == HF_COLUMNS for r in rows)
    assert {r["mode"] for r in rows} == {"policy", "answer"}
    root_answer = next(r for r in rows if r["mode"] == "answer" and r["node"] == 0)
    assert root_answer["completion"] == "1761669" and root_answer["step"] == -1


@pytest.mark.parametrize("args, words", [
    (["view"], "give at least one transcript"),
    (["view", "--serve", "no-such-folder"], "not a folder"),
])
def test_view_usage_mistakes_are_one_line(cli, args, words):
    _one_line_exit_2(cli(*args), words)

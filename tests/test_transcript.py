"""Transcript format v2: messages once, steps as deltas, streamed reading, one validation."""

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ida
from ida.hypertext import msg
from ida.overseer.blame import NodeContext
from ida.tasks import get
from ida.transcript import SCHEMA_VERSION, TranscriptError, load_transcript, read_transcript, summarize

EXAMPLES = Path(__file__).resolve().parents[1] / "transcripts" / "examples"


def same(a: ida.Tree, b: ida.Tree) -> None:
    assert (a.run_id, a.task, a.root, a.db_revision, a.created, a.corrects, a.meta) == \
           (b.run_id, b.task, b.root, b.db_revision, b.created, b.corrects, b.meta)
    assert len(a) == len(b)
    for x, y in zip(a.nodes, b.nodes):
        assert (x.id, x.question, x.answer, x.failure, x.policy, x.parents, x.depth, x.lines) == \
               (y.id, y.question, y.answer, y.failure, y.policy, y.parents, y.depth, y.lines)
        assert x.steps == y.steps


def sorted_tree(size: int) -> ida.Tree:
    task = get("sorted")
    return ida.run(task.instance(1, size).question, task.policy, task="sorted")


def test_v2_stores_each_message_once_and_grows_linearly(tmp_path):
    sizes = {}
    for n in (200, 800):
        tree = sorted_tree(n)
        path = tree.save(tmp_path / f"s{n}.jsonl")
        with path.open(encoding="utf-8") as f:
            records = [json.loads(line) for line in f]
        assert records[0] == {**records[0], "kind": "header", "schema_version": SCHEMA_VERSION}
        ids = [r["id"] for r in records if r["kind"] == "message"]
        assert len(ids) == len(set(ids))  # each message once
        assert sum(r["kind"] == "node" for r in records) == len(tree)
        sizes[n] = path.stat().st_size / len(tree)
        same(tree, load_transcript(path))
    assert sizes[800] < 1.15 * sizes[200]  # bytes per node flat: the v1 file grew with the depth


def test_every_shipped_example_loads_resaves_as_v2_and_loads_equal(tmp_path):
    files = sorted(EXAMPLES.glob("*.jsonl"))
    assert len(files) >= 5
    for f in files:
        old = load_transcript(f)
        path = old.save(tmp_path / f.name)
        assert json.loads(path.open(encoding="utf-8").readline())["schema_version"] == 2
        same(old, load_transcript(path))
        assert read_transcript(f) == read_transcript(path)  # the full-text view of both versions agrees


def test_v1_steps_get_their_kind_and_error():
    tree = load_transcript(EXAMPLES / "sorted-six.jsonl")
    assert [s.kind for s in tree.nodes[0].steps] == ["unlock", "unlock", "ask", "reply"]
    assert all(s.error is None for n in tree.nodes for s in n.steps)


def test_steps_record_kind_and_error():
    script = iter(["scratch hmm", "jump", "ask is it [", "unlock $1", "reply [done", "reply done"])

    class P:
        name = "p"

        def act(self, ws):
            return next(script)

    tree = ida.run("what is [a] then?", P())
    steps = tree.root_node.steps
    assert [s.kind for s in steps] == ["scratch", None, "ask", "unlock", "reply", "reply"]
    assert [s.error is not None for s in steps] == [False, True, True, False, True, False]
    assert "unknown command" in steps[1].error and steps[1].result == f"error: {steps[1].error}"
    assert NodeContext(tree.root_node, tree).reply_step == 5  # the refused reply is not the node's reply
    assert NodeContext(tree.root_node, tree).unlocked == ["a"]


def write(path: Path, *records) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


HEAD = {"kind": "header", "schema_version": 2, "run_id": "r"}
EMPTY = "b8e1dda3ac0aa3820ad2990b"  # the address of the empty message


def node(i, **kw):
    return {"kind": "node", "id": i, "question": EMPTY, **kw}


MSG = {"kind": "message", "id": EMPTY, "text": ""}


@pytest.mark.parametrize("records, reason", [
    ([HEAD], r"t\.jsonl:1: a header and no nodes"),
    ([{**HEAD, "schema_version": 0}], r"t\.jsonl:1: unknown schema version 0"),
    ([{**HEAD, "schema_version": 3}, MSG], r"t\.jsonl:1: schema version 3 is newer"),
    ([HEAD, '{"kind": "node", "id": ' + "9" * 5000 + "}"], r"t\.jsonl:2: not JSON: number out of range"),
    ([HEAD, "[" * 100_000 + "]" * 100_000], r"t\.jsonl:2: not JSON: recursion limit"),
    ([HEAD, MSG, node(0, depth=10**30)], r"t\.jsonl:3: depth: "),
    ([HEAD, node(0)], rf"t\.jsonl:2: message {EMPTY} is used before it is defined"),
    ([HEAD, {**MSG, "id": "0" * 24}, node(0, question="0" * 24)], r"t\.jsonl:2: id 0{24} is not the address"),
    ([HEAD, MSG, node(0, steps=[{"action": "ask x", "child": 1}]), node(1, steps=[{"action": "ask y", "child": 0}])],
     r"t\.jsonl:3: node 0 is its own descendant"),
    ([HEAD, MSG, node(0, steps=[{"action": "ask x", "child": 7}])], r"t\.jsonl:3: a step points to missing node 7"),
    ([HEAD, MSG, node(0, parents=[4])], r"t\.jsonl:1: parent 4 is not"),
    ([HEAD, MSG, node(1)], r"t\.jsonl:3: node id 1 out of order, expected 0"),
    ([HEAD, MSG, node(0, steps=[{"action": "scratch", "ws": 2}])], r"t\.jsonl:3: steps\.0\.ws: 2 lines seen"),
    ([HEAD, MSG, {"kind": "edge"}], r"t\.jsonl:3: kind: expected 'message' or 'node'"),
    ([{**HEAD, "root": 3}, MSG, node(0)], r"t\.jsonl:1: root 3 is not a node"),
    ([{**HEAD, "schema_version": 1}, {"kind": "node", "id": 0, "question": "q",
      "steps": [{"workspace": "question: q", "action": "ask q", "child": 0}]}], r"t\.jsonl:2: node 0 is its own desc"),
])
def test_every_reader_refuses_a_bad_file_in_one_line(tmp_path, records, reason):
    path = write(tmp_path / "t.jsonl", *records)
    readers = (load_transcript, summarize, read_transcript)
    for reader in readers:
        with pytest.raises(TranscriptError, match=reason) as e:
            reader(path)
        assert "\n" not in str(e.value) and len(str(e.value)) < 300


def test_a_fifo_is_refused_not_waited_on(tmp_path, cli):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(TranscriptError, match="not a regular file"):
        load_transcript(fifo)
    r = cli("show", str(fifo))
    assert r.returncode == 2 and "not a regular file" in r.stderr


def test_summary_streams_what_show_prints(tmp_path):
    tree = sorted_tree(300)
    s = summarize(tree.save(tmp_path / "s.jsonl"))
    assert (s.nodes, s.steps, s.answer, s.question) == (
        len(tree), sum(len(n.steps) for n in tree.nodes), tree.answer, tree.root_node.question.text())
    assert s.max_depth == max(n.depth for n in tree.nodes) and s.header.run_id == tree.run_id
    v1 = summarize(EXAMPLES / "multiply-351x5019.jsonl")
    assert v1.answer == "1761669" and v1.nodes == len(load_transcript(EXAMPLES / "multiply-351x5019.jsonl"))


# Texts that str.splitlines() would cut: a transcript holding them used to be unreadable.
AWKWARD = st.text(st.sampled_from("ab $[]\\\n\r\t\x00\x1b\x85\u2028\u2029\x0b\x0c\x1c\u00e9\U0001f600"), max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.text(max_size=40) | AWKWARD, answer=st.text(max_size=40) | AWKWARD)
def test_any_accepted_text_round_trips(tmp_path, question, answer):
    script = iter([f"scratch {answer}", f"reply {answer}", "reply fallback"])

    class P:
        name = "p"

        def act(self, ws):
            return next(script)

    tree = ida.run(msg(question), P(), budget=3)
    back = load_transcript(tree.save(tmp_path / "t.jsonl"))
    same(tree, back)
    assert back.answer == tree.answer


def test_a_node_read_later_checks_its_messages_and_notices_a_changed_file(tmp_path):
    """Loading validates the file's structure and reads the root; another node's messages are
    rebuilt and their addresses checked when that node is read, each problem in one line."""
    bad = "0" * 24
    path = write(tmp_path / "t.jsonl", HEAD, MSG, {**MSG, "id": bad, "text": "not empty"},
                 node(0, steps=[{"action": "ask x", "child": 1}]), node(1, question=bad))
    tree = load_transcript(path)
    assert len(tree) == 2 and tree.root_node.question.text() == ""
    with pytest.raises(TranscriptError, match=rf"t\.jsonl:3: id {bad} is not the address"):
        tree.nodes[1]
    good = sorted_tree(200).save(tmp_path / "good.jsonl")
    loaded = load_transcript(good)
    good.write_text(good.read_text().replace('"kind":"node"', '"kind":"nod"'))  # edited in place
    with pytest.raises(TranscriptError, match=r"good\.jsonl: changed since it was read"):
        loaded.nodes[len(loaded) - 1]


def test_a_loaded_tree_reads_nodes_as_asked_and_matches_the_tree_it_saved(tmp_path):
    tree = sorted_tree(200)
    loaded = load_transcript(tree.save(tmp_path / "s.jsonl"))
    assert len(loaded.nodes) == len(tree) and repr(loaded.nodes).startswith(f"<{len(tree)} nodes of ")
    for a, b in zip(loaded.nodes, tree.nodes, strict=True):
        assert (a.id, a.question, a.answer, a.lines, a.parents, a.depth) == (b.id, b.question, b.answer, b.lines,
                                                                              b.parents, b.depth)
        assert [(s.action, s.child, s.ws_lines, s.kind) for s in a.steps] == [
            (s.action, s.child, s.ws_lines, s.kind) for s in b.steps]
    assert loaded.nodes[-1].id == len(tree) - 1 and [n.id for n in loaded.nodes[1:4]] == [1, 2, 3]
    with pytest.raises(IndexError):
        loaded.nodes[len(tree)]

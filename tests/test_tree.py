import json

import networkx as nx
import pytest

import ida
from ida.tasks import get
from ida.transcript import SCHEMA_VERSION, TranscriptError, load_transcript, read_transcript


@pytest.fixture
def saved(tmp_path):
    task = get("permutation")
    inst = task.instance(1, 8)
    tree = ida.run(inst.question, task.policy, task="permutation")
    return tree, tree.save(tmp_path / "t.jsonl")


def test_transcript_round_trip(saved):
    tree, path = saved
    back = load_transcript(path)
    assert back.run_id == tree.run_id and back.task == "permutation" and len(back) == len(tree)
    for a, b in zip(tree.nodes, back.nodes):
        assert (a.question, a.answer, a.parents, a.depth) == (b.question, b.answer, b.parents, b.depth)
        assert [(s.action, s.result, s.child) for s in a.steps] == [(s.action, s.result, s.child) for s in b.steps]
        assert [a.workspace_at(i) for i in range(len(a.steps))] == [b.workspace_at(i) for i in range(len(b.steps))]
    header, records = read_transcript(path)
    assert header.schema_version == SCHEMA_VERSION == 2 and records[0].steps[0].workspace.startswith("question: ")


def test_networkx_view_carries_attributes(saved):
    tree, _ = saved
    g = tree.to_networkx()
    assert isinstance(g, nx.DiGraph) and nx.is_directed_acyclic_graph(g)
    assert g.nodes[0]["answer"] == tree.answer and g.number_of_nodes() == len(tree)


def _corrupt(path, lineno, new):
    lines = path.read_text().splitlines()
    lines[lineno - 1] = new
    path.write_text("\n".join(lines) + "\n")


def test_malformed_lines_name_file_line_and_reason(saved):
    _, path = saved
    _corrupt(path, 2, "{not json")
    with pytest.raises(TranscriptError, match=r"t\.jsonl:2: not JSON"):
        load_transcript(path)


def test_wrong_field_type_is_reported(saved):
    _, path = saved
    rec = json.loads(path.read_text().splitlines()[2])
    rec["depth"] = "deep"
    _corrupt(path, 3, json.dumps(rec))
    with pytest.raises(TranscriptError, match=r"t\.jsonl:3: depth: "):
        load_transcript(path)


def test_newer_schema_is_refused(saved):
    _, path = saved
    head = json.loads(path.read_text().splitlines()[0])
    head["schema_version"] = 99
    _corrupt(path, 1, json.dumps(head))
    with pytest.raises(TranscriptError, match="schema version 99 is newer"):
        load_transcript(path)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(TranscriptError, match="no such file"):
        load_transcript(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(TranscriptError, match="empty"):
        load_transcript(tmp_path / "empty.jsonl")


def test_shipped_example_transcripts_load():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "transcripts" / "examples"
    files = sorted(folder.glob("*.jsonl"))
    assert len(files) >= 5
    for f in files:
        tree = load_transcript(f)
        assert len(tree) >= 1 and tree.to_networkx().number_of_nodes() == len(tree)

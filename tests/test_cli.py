import networkx as nx
import pytest


@pytest.mark.parametrize("task, args, answer", [
    ("permutation", ["--size", "8", "--seed", "1"], None),
    ("multiply", [], None), ("sorted", ["--size", "7"], None), ("length", [], None),
])
def test_run_prints_a_correct_answer(cli, task, args, answer):
    r = cli("run", task, *args)
    assert r.returncode == 0, r.stderr
    assert "correct" in r.stdout and "wrong" not in r.stdout


def test_run_show_export_round_trip(cli, tmp_path):
    r = cli("run", "permutation", "--size", "8", "--seed", "1", "--save", "p.jsonl")
    assert r.returncode == 0, r.stderr
    shown = cli("show", "p.jsonl", "--node", "0")
    assert shown.returncode == 0 and "what is p^" in shown.stdout and "node #0, step 0" in shown.stdout
    for fmt in ("graphml", "dot", "json"):
        r = cli("export", "p.jsonl", "--format", fmt)
        assert r.returncode == 0, r.stderr
    g = nx.read_graphml(tmp_path / "p.graphml")
    assert g.number_of_nodes() >= 2 and "question" in g.nodes["0"]
    assert (tmp_path / "p.dot").read_text().startswith("digraph ida {")


def test_run_saves_under_transcripts_by_default(cli, tmp_path):
    assert cli("run", "multiply", "--seed", "3").returncode == 0
    assert (tmp_path / "transcripts/runs/multiply-size3-seed3.jsonl").exists()


@pytest.mark.parametrize("args, words", [
    (["run", "juggling"], "unknown task"),
    (["show", "missing.jsonl"], "no such file"),
    (["run", "multiply", "--size", "0"], "size must be at least 1"),
])
def test_user_mistakes_get_one_line_and_exit_2(cli, args, words):
    r = cli(*args)
    assert r.returncode == 2
    assert words in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_malformed_transcript_is_one_line(cli, tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"kind": "header", "run_id": "x"}\n{"kind": "node"}\n')
    r = cli("show", "bad.jsonl")
    assert r.returncode == 2 and "bad.jsonl:2: id: Field required" in r.stderr and "Traceback" not in r.stderr


def test_help_explains_every_command(cli):
    for cmd in ([], ["run"], ["show"], ["export"]):
        r = cli(*cmd, "--help")
        assert r.returncode == 0 and "Usage" in r.stdout

"""Blame as a question through the real `ida` command: script, model:DIR (and deferring to you), distill --mode blame."""

import json
import shutil

import pytest

from ida.overseer import RuleOverseer, backward
from ida.overseer.faults import faulty_run
from ida.tasks import get
from tests.conftest import ROOT


@pytest.fixture
def lying(tmp_path):
    """A length tree in which one node lied, saved as l.jsonl; the right answer and the rules' report."""
    f = faulty_run(get("length"), 4, 4)
    f.tree.save(tmp_path / "l.jsonl")
    return f.truth, backward(f.tree, f.truth, RuleOverseer(get("length").rules))


def blamed(tmp_path):
    saved = json.loads((tmp_path / "l.report.json").read_text())
    return saved, [v["node"] for v in saved["visits"] if v["blamed"]]


def test_script_saves_blame_trees_that_show_and_view_display(cli, tmp_path, lying):
    truth, rules = lying
    r = cli("backward", "l.jsonl", "--target", truth, "--overseer", "script")
    assert r.returncode == 0, r.stderr
    saved, nodes = blamed(tmp_path)
    assert nodes == rules.blamed and saved["blame_trees"] == len(saved["visits"]) == len(rules.visits)
    assert f"{len(rules.visits)} blame trees" in r.stdout
    tree_file = saved["visits"][0]["blame_tree"]
    shown = cli("show", tree_file, "--node", "0")
    assert shown.returncode == 0 and "blame: node [What is the length of" in shown.stdout
    assert "question: blame: node $1 answered $2 should answer $3; saw $4" in shown.stdout
    page = cli("view", "l.jsonl", "--out", "p.html")
    assert page.returncode == 0 and '"blame_tree":"l.blame/0.jsonl"' in (tmp_path / "p.html").read_text()


@pytest.mark.slow  # four launches of the command, three of them loading torch
def test_distill_a_blame_model_then_blame_with_it_and_defer_to_you(cli, tmp_path, lying):
    truth, _ = lying
    # the task's blame scripts on its H's trees, each with a lie put in: the blame pairs
    r = cli("distill", "--task", "length", "--mode", "blame", "--questions", "4", "--task-size", "2", "--out", "m",
            "--steps", "2", "--eval-every", "2", "--no-progress", "--threads", "1", "--held-out", "0")
    assert r.returncode == 0 and "blame pairs:" in r.stdout, r.stderr
    config = json.loads((tmp_path / "m" / "best" / "config.json").read_text())
    assert config["mode"] == "blame"
    # two steps of training: its blames are no blame a node can take, each a note, never a crash
    r = cli("backward", "l.jsonl", "--target", truth, "--overseer", "model:m")
    assert r.returncode == 0, r.stderr
    saved, _ = blamed(tmp_path)
    assert saved["overseer"] == "policy:distilled:m" and saved["unexplained"] == [0]
    # never sure enough for 1.0: every blame is yours, at the prompt (a session, as in `ida ask`)
    r = cli("backward", "l.jsonl", "--target", truth, "--overseer", "model:m@1.0",
            input="unlock $4\nreply none ask me later\n", env={"IDA_SESSIONS": str(tmp_path / "s.sqlite")})
    assert r.returncode == 0, r.stderr
    assert "ida> " in r.stdout and "the model blamed 0, deferred 1 to you (defer rate 100%)" in r.stdout
    assert json.loads((tmp_path / "l.report.json").read_text())["visits"][0]["note"] == "ask me later"
    # the same checkpoint said to be a policy model is refused as a blamer
    shutil.copytree(tmp_path / "m" / "best", tmp_path / "p")
    (tmp_path / "p" / "config.json").write_text(json.dumps({**config, "mode": "policy"}))
    r = cli("backward", "l.jsonl", "--target", "3", "--overseer", "model:p")
    assert r.returncode == 2 and "a policy model" in r.stderr, r.stderr


@pytest.mark.parametrize("kind, says", [
    ("model:nowhere", "no such checkpoint"), ("model:", "needs a checkpoint folder"),
    ("model:m@high", "threshold after @ must be a number"), ("model:m@2", "between 0 and 1"),
])
def test_blame_overseer_mistakes_are_one_line(cli, tmp_path, lying, kind, says):
    r = cli("backward", "l.jsonl", "--target", "3", "--overseer", kind)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_script_needs_a_task_with_blame_scripts(cli, tmp_path, lying):
    r = cli("backward", "l.jsonl", "--target", "3", "--overseer", "script", "--task", f"{ROOT}/examples/capitals.py:TASK")
    assert r.returncode == 2 and "no blame scripts for task 'capitals'" in r.stderr

"""Tasks of one's own, through the real `ida` command: from a file, a module, an installed
package's entry point; the examples; and every malformed case as one line, exit 2."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from ida.experience import ExperienceDB

ROOT = Path(__file__).resolve().parents[1]
CAPITALS = f"{ROOT}/examples/capitals.py:TASK"
MY_TASK = f"{ROOT}/examples/my_task.py:TASK"
FRANCE_AUSTRALIA = "What are the capitals of [France Australia]?"


def one_line_error(r, words: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert words in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_capitals_run_wrong_fix_edits_the_fact_with_provenance_and_revert_undoes_it(cli, tmp_path):
    r = cli("run", CAPITALS, "-q", FRANCE_AUSTRALIA, "--db", "caps.sqlite", "--add-facts", "--out", "run.jsonl")
    assert r.returncode == 0, r.stderr
    assert "answer: Paris, Sydney   expected: Paris, Canberra   wrong" in r.stdout
    with ExperienceDB(tmp_path / "caps.sqlite") as db:
        before = db.revision
        (wrong,) = [e for e in db.entries() if e.key == "Australia"]
        assert wrong.text == "the capital of Australia is Sydney"

    r = cli("fix", FRANCE_AUSTRALIA, "--task", CAPITALS, "--db", "caps.sqlite", "--overseer", "rules")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"edit e{wrong.id}: the capital of Australia is Canberra" in r.stdout
    assert "fixed after 2 round(s), 1 database edit(s)" in r.stdout
    with ExperienceDB(tmp_path / "caps.sqlite") as db:
        (event,) = [ev for ev in db.history(wrong.id) if ev.kind == "edit"]
        assert event.author == "overseer:rules" and event.provenance.node_id == 2
        assert "said Sydney" in event.provenance.note and event.provenance.feedback == "Paris, Canberra"

    r = cli("run", CAPITALS, "-q", FRANCE_AUSTRALIA, "--db", "caps.sqlite")
    assert "answer: Paris, Canberra" in r.stdout and "correct" in r.stdout
    assert cli("db", "revert", str(before), "--db", "caps.sqlite").returncode == 0
    r = cli("run", CAPITALS, "-q", FRANCE_AUSTRALIA, "--db", "caps.sqlite")
    assert "answer: Paris, Sydney" in r.stdout and "wrong" in r.stdout


def test_backward_with_a_file_task_on_a_saved_transcript(cli, tmp_path):
    assert cli("run", CAPITALS, "-q", FRANCE_AUSTRALIA, "--db", "caps.sqlite", "--add-facts",
               "--out", "run.jsonl").returncode == 0
    # The tree names its task `capitals`, which is neither built in nor installed: say how to give it.
    one_line_error(cli("backward", "run.jsonl", "--target", "Paris, Canberra"), "give --task FILE.py:NAME")
    r = cli("backward", "run.jsonl", "--target", "Paris, Canberra", "--task", CAPITALS)
    assert r.returncode == 0, r.stderr
    assert "2 nodes visited, 1 blamed" in r.stdout and "edit e3: the capital of Australia is Canberra" in r.stdout
    report = json.loads((tmp_path / "run.report.json").read_text())
    assert report["overseer"] == "rules"


def test_my_task_template_runs_and_fixes(cli):
    r = cli("run", MY_TASK, "--seed", "1")
    assert r.returncode == 0 and "answer: 18   expected: 18   correct" in r.stdout, r.stdout + r.stderr
    r = cli("fix", MY_TASK, "--seed", "1", "--target", "19", "--overseer", "rules")
    assert r.returncode == 1 and "not fixed" in r.stdout  # 6165 sums to 18: no rule makes it 19
    assert r.stdout.count("should answer") == 3  # ... but the target went down the recursion, node by node


@pytest.mark.slow  # three launches of the command that load torch
def test_distill_and_eval_on_a_file_tasks_transcripts(cli, cli_each):
    pytest.importorskip("torch")
    runs = cli_each({str(seed): ("run", CAPITALS, "--seed", str(seed), "--task-size", "2", "--db", "caps.sqlite",
                                 "--add-facts") for seed in range(4)})
    for r in runs.values():
        assert r.returncode == 0, r.stderr
    r = cli("distill", "transcripts/runs", "--mode", "answer", "-o", "model", "--steps", "8", "--eval-every", "4",
            "--no-progress", "--threads", "1", "--held-out", "0")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "answer pairs: 8 train" in r.stdout  # 4 roots and their countries, each question once
    r = cli("eval", "model", CAPITALS, "--n", "3", "--threads", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "capitals: 3 questions" in r.stdout
    r = cli("eval", "model", "transcripts/runs", "--threads", "1")
    assert r.returncode == 0 and "exact match on 8 answer pairs" in r.stdout, r.stdout + r.stderr


def test_distill_task_from_a_file(cli):
    pytest.importorskip("torch")
    r = cli("distill", "--task", MY_TASK, "--questions", "12", "-o", "m", "--steps", "4", "--eval-every", "2",
            "--no-progress", "--threads", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "policy pairs:" in r.stdout


def installed_package(tmp_path: Path, body: str, entry: str = "mydigits = mytasks:DIGITS") -> dict[str, str]:
    """A package `mytasks` installed into a folder as pip lays one out (a .dist-info with the
    entry point), and the environment that puts the folder on the path."""
    site = tmp_path / "site"
    (site / "mytasks").mkdir(parents=True)
    (site / "mytasks" / "__init__.py").write_text(body)
    info = site / "mytasks-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mytasks\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[ida.tasks]\n{entry}\n")
    return {"PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}


DIGITS_PACKAGE = f"""
import importlib.util
spec = importlib.util.spec_from_file_location("my_task_template", {str(ROOT / "examples" / "my_task.py")!r})
template = importlib.util.module_from_spec(spec)
spec.loader.exec_module(template)
from dataclasses import replace
DIGITS = replace(template.TASK, name="mydigits", description="digit sums, from an installed package")
"""


def test_an_installed_package_adds_a_task_through_the_entry_point(cli, tmp_path):
    env = installed_package(tmp_path, DIGITS_PACKAGE)
    r = cli("tasks", env=env)
    assert r.returncode == 0, r.stderr
    assert "mydigits" in r.stdout and "mytasks" in r.stdout and "digit sums" in r.stdout and "weights" in r.stdout
    r = cli("run", "mydigits", "--seed", "2", env=env)
    assert r.returncode == 0 and "correct" in r.stdout, r.stdout + r.stderr
    r = cli("run", "mytasks:DIGITS", "--seed", "2", env=env)  # package.module:NAME
    assert r.returncode == 0 and "correct" in r.stdout, r.stdout + r.stderr


def test_a_broken_installed_task_is_one_line_and_does_not_hide_the_others(cli, tmp_path):
    env = installed_package(tmp_path, "raise RuntimeError('half-installed')\n")
    one_line_error(cli("run", "mydigits", env=env), "half-installed")
    r = cli("tasks", env=env)
    assert r.returncode == 0 and "cannot load" in r.stdout and "multiply" in r.stdout


BAD_TASKS = """
from ida.policies import scripted
from ida.tasks import Task

NOT_A_TASK = {"name": "dict"}

@scripted
def crashing_h(ws):
    yield "scratch thinking"
    raise KeyError("no such fact")

def bad_generate(rng, size):
    return 1 / 0

def bad_solve(question):
    raise LookupError("the oracle is out")

CRASHES = Task(name="crashes", policy=crashing_h, generate=lambda rng, size: "What now?")
BAD_GENERATOR = Task(name="badgen", policy=crashing_h, generate=bad_generate)
NO_QUESTIONS = Task(name="noquestions", policy=crashing_h)
BAD_ORACLE = Task(name="badoracle", policy=crashing_h, generate=lambda rng, size: "What now?", solve=bad_solve)
"""


@pytest.mark.parametrize("args, words", [
    (["run", "nowhere.py:TASK"], "nowhere.py: no such file"),
    (["run", "tasks.py:MISSING"], "tasks.py defines no 'MISSING'"),
    (["run", "tasks.py:NOT_A_TASK"], "tasks.py:NOT_A_TASK is a dict, not an ida Task"),
    (["run", "raises.py:TASK"], "raises.py: RuntimeError: at import"),
    (["run", "syntax.py:TASK"], "syntax.py: SyntaxError"),
    (["run", "no_such_module:TASK"], "no module named 'no_such_module'"),
    (["run", "mulitply"], "unknown task 'mulitply'"),
    (["run", "tasks.py:CRASHES"], "task crashes: running: KeyError: 'no such fact'"),
    (["run", "tasks.py:BAD_GENERATOR"], "task badgen: generating a question: ZeroDivisionError"),
    (["run", "tasks.py:NO_QUESTIONS"], "task noquestions generates no questions"),
    (["run", "tasks.py:BAD_ORACLE"], "task badoracle: solving 'What now?': LookupError: the oracle is out"),
    (["fix", "What is 2 * 3?", "--target", "6"], "needs --task FILE.py:NAME"),
    (["fix", "What now?", "--task", "tasks.py:CRASHES"], "give --target ANSWER"),
    (["eval", "nomodel", "tasks.py:MISSING"], "defines no 'MISSING'"),
    (["iterate", "tasks.py:NOT_A_TASK"], "not an ida Task"),
    (["distill", "--task", "tasks.py:NO_QUESTIONS", "-o", "m"], "generates no questions"),
])
def test_malformed_tasks_get_one_line_and_exit_2(cli, tmp_path, args, words):
    (tmp_path / "tasks.py").write_text(BAD_TASKS)
    (tmp_path / "raises.py").write_text("raise RuntimeError('at import')\n")
    (tmp_path / "syntax.py").write_text("def (:\n")
    if args[0] in ("eval", "iterate", "distill"):
        pytest.importorskip("torch")
    one_line_error(cli(*args), words)



def test_fix_a_question_of_ones_own_with_a_person_as_h_and_as_overseer(tmp_path):
    """`ida fix QUESTION --overseer human` in a real terminal: the person decomposes at the `ida>`
    prompt, blames at `blame>` (a wrong entry edited), and in round 2 is asked only where the
    workspace changed: automation replays the lookup, the person reads the corrected entry."""
    import pexpect

    with ExperienceDB(tmp_path / "caps.sqlite") as db:
        wrong = db.add("Australia", "the capital of Australia is Sydney", author="test")
    env = {k: v for k, v in os.environ.items() if k != "IDA_DB"}
    env.update(TERM="dumb", COLUMNS="200", PYTHONPATH=str(ROOT))
    child = pexpect.spawn(sys.executable, ["-m", "ida", "fix", "What is the capital of Australia?", "--target",
                                           "Canberra", "--overseer", "human", "--db", "caps.sqlite"],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=60, dimensions=(60, 200))
    child.expect(r"\nida> ")
    child.sendline("lookup Australia")
    child.expect(r"\nida> ")
    assert "Sydney" in child.before
    child.sendline("reply Sydney")
    child.expect("blame> ")
    screen = child.before
    assert "[0] lookup Australia" in screen and "[1] reply Sydney" in screen and f"[e{wrong.id}] Australia" in screen
    child.sendline("correct 1 reply Sydney")  # the same as the node did: refused
    child.expect("blame> ")
    assert "already did `reply Sydney`" in child.before
    child.sendline("help")
    child.expect("blame> ")
    assert "correct <step#> <action>" in child.before
    child.sendline(f"edit e{wrong.id} the capital of Australia is Canberra")
    child.expect("blame> ")
    child.sendline("done")
    child.expect(r"\nida> ")  # round 2: the lookup was replayed; its result is new, so the person is asked
    assert "the capital of Australia is Canberra" in child.before and "round 1" in child.before
    child.sendline("reply Canberra")
    child.expect(pexpect.EOF)
    assert "fixed after 2 round(s), 1 database edit(s)" in child.before
    child.close()
    assert child.exitstatus == 0


@pytest.mark.parametrize("leave", ["ctrl-c", "ctrl-d"])
def test_a_blame_session_left_part_way_is_saved_and_committed_later(cli, tmp_path, leave):
    """`ida backward --overseer human` in a real terminal: help works; Ctrl-C and Ctrl-D alike
    save the blame typed so far (the node being blamed included), and `--report R --apply`
    commits it later without typing it again."""
    import pexpect

    assert cli("run", "weights", "--seed", "2", "--db", "e.sqlite", "--out", "w.jsonl").returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "IDA_DB"}
    env.update(TERM="dumb", COLUMNS="200", PYTHONPATH=str(ROOT))
    child = pexpect.spawn(sys.executable, ["-m", "ida", "backward", "w.jsonl", "--target", "150", "--overseer",
                                           "human", "--db", "e.sqlite"], cwd=str(tmp_path), env=env,
                          encoding="utf-8", timeout=60, dimensions=(60, 200))
    child.expect("blame> ")
    child.sendline("help")
    child.expect("blame> ")
    assert "target <child#> <answer>" in child.before and "not understood" not in child.before
    child.sendline("target #1 65")
    child.expect("blame> ")
    child.sendline("done")
    child.expect("blame> ")  # node #1: a lime
    child.sendline("add lime: a lime weighs 65 grams")
    child.expect("blame> ")
    child.sendintr() if leave == "ctrl-c" else child.sendeof()
    child.expect(pexpect.EOF)
    assert "the blame of 2 node(s) so far is saved in w.report.json" in child.before
    child.close()
    assert child.exitstatus == 130
    report = json.loads((tmp_path / "w.report.json").read_text())
    assert report["complete"] is False and report["applied"] is None
    assert [v["node"] for v in report["visits"]] == [0, 1]

    r = cli("backward", "w.jsonl", "--target", "150", "--report", "w.report.json", "--apply", "--db", "e.sqlite")
    assert r.returncode == 0, r.stderr
    assert "left part way" in r.stdout and "committed e1 lime: a lime weighs 65 grams" in r.stdout
    one_line_error(cli("backward", "w.jsonl", "--target", "150", "--report", "w.report.json", "--apply"),
                   "already applied")

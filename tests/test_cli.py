import re

import networkx as nx
import pytest


@pytest.mark.parametrize("task, args, answer", [
    ("permutation", ["--task-size", "8", "--seed", "1"], None),
    ("multiply", [], None), ("sorted", ["--task-size", "7"], None), ("length", [], None),
])
def test_run_prints_a_correct_answer(cli, task, args, answer):
    r = cli("run", task, *args)
    assert r.returncode == 0, r.stderr
    assert "correct" in r.stdout and "wrong" not in r.stdout


def test_run_show_export_round_trip(cli, tmp_path):
    r = cli("run", "permutation", "--task-size", "8", "--seed", "1", "--out", "p.jsonl")
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
    (["run", "multiply", "--task-size", "0"], "size must be at least 1"),
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


def test_help_explains_every_command(cli_each):
    from ida.cli import app

    def walk(typer_app, prefix: str):  # every command, in groups and groups within groups
        for c in typer_app.registered_commands:
            yield f"{prefix}{c.name}", c.callback.__doc__
        for g in typer_app.registered_groups:
            if g.typer_instance.registered_callback is not None:
                yield f"{prefix}{g.name}", g.typer_instance.registered_callback.callback.__doc__
            yield from walk(g.typer_instance, f"{prefix}{g.name} ")

    commands = list(walk(app, ""))
    assert len(commands) >= 27 and "sessions memo edit" in dict(commands)
    helps = cli_each({name: (*name.split(), "--help") for name, _ in commands}, env={"COLUMNS": "1000"})
    for name, doc in commands:
        r = helps[name]
        first = " ".join(doc.split("\n\n")[0].split())
        assert r.returncode == 0 and "Usage" in r.stdout and first in " ".join(r.stdout.split()), name
        assert re.search(r"Examples?:\s+ida ", r.stdout), f"`ida {name} --help` shows no example"
        assert "<bool>" not in r.stdout, f"`ida {name} --help` gives a flag a value type"


def test_run_help_lists_every_registered_task(cli):
    from ida.tasks import all_tasks

    shown = " ".join(cli("run", "--help", env={"COLUMNS": "1000"}).stdout.split())
    for t in all_tasks().values():
        assert f"{t.name} ({t.description})" in shown


def test_a_long_error_is_one_line_in_a_log(cli):
    long_name = "no-such-" + "x" * 200 + ".jsonl"
    r = cli("show", long_name, env={"COLUMNS": ""})
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and long_name in r.stderr


def test_an_argument_that_is_not_utf8_is_one_line(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    r = subprocess.run([sys.executable, "-m", "ida", "run", b"mul\xfftiply"], capture_output=True, cwd=tmp_path,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    err = r.stderr.decode()
    assert r.returncode == 2 and len(err.splitlines()) == 1 and "not valid UTF-8" in err and "Traceback" not in err


EVIL = "is \x1b]0;pwned\x07 \x1b[2J this safe?"


def test_escapes_in_data_are_shown_not_obeyed(cli, tmp_path):
    import json

    (tmp_path / "shared.jsonl").write_text(json.dumps({"key": "trap", "text": EVIL}) + "\n")
    assert cli("db", "import", "shared.jsonl").returncode == 0
    for args in (["db", "list"], ["db", "search", "safe"], ["db", "history", "e1"]):
        out = cli(*args).stdout
        assert "\x1b" not in out and "\x07" not in out and "\\x1b]0;pwned" in out, args
    question = EVIL.replace("[", "\\[").replace("]", "\\]")  # brackets are hypertext: escaped
    r = cli("ask", question, "--out", "t.jsonl", input="reply no\n")
    assert r.returncode == 0, r.stderr
    shown = cli("show", "t.jsonl", "--node", "0")
    assert shown.returncode == 0 and "\x1b" not in shown.stdout and "\\x1b" in shown.stdout


def test_brackets_in_data_are_not_taken_for_markup(cli, tmp_path):
    """A lesson text or a path with `[/]` in it is printed as it is, never read as rich markup."""
    import json

    (tmp_path / "odd [").mkdir()  # the path "odd [/] name.jsonl" is a folder and a file
    (tmp_path / "odd [/] name.jsonl").write_text(json.dumps({"key": "k", "text": "close [/] and [bold]x"}) + "\n")
    r = cli("db", "import", "odd [/] name.jsonl")
    assert r.returncode == 0 and "odd [/] name.jsonl" in r.stdout, r.stderr
    r = cli("run", "multiply", "--out", "runs [/]/m.jsonl")
    assert r.returncode == 0 and "runs [/]/m.jsonl" in r.stdout, r.stderr
    r = cli("export", "runs [/]/m.jsonl", "--format", "dot")
    assert r.returncode == 0 and "runs [/]/m.dot" in r.stdout, r.stderr


def test_help_paragraphs_wrap_to_the_terminal_and_examples_stand_one_a_line(cli):
    r = cli("fix", "--help", env={"COLUMNS": "200"})
    lines = [line.strip() for line in r.stdout.splitlines()]
    assert any("you decompose at the prompt (as in `ida ask`), then blame." in line for line in lines)
    examples = lines[lines.index("Examples:") + 1:]
    assert [e.split(" ", 2)[:2] for e in examples[:4]] == [["ida", "fix"]] * 4

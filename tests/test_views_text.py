"""Every terminal view shows data as text: brackets that rich would read as markup
(`[lime apricot fig]`: lime is a colour) come out as written, in each view."""

from __future__ import annotations

import io

import pytest

BASKET = "[lime apricot fig]"  # weights, seed 2
MARKUP_ENTRY = ("[red]fig[/red]", "[bold]a fig[/bold] weighs [lime 50] grams")


@pytest.fixture
def weights_run(cli):
    r = cli("run", "weights", "--seed", "2", "--out", "w.jsonl")
    assert r.returncode == 0, r.stderr
    return r


def test_run_and_show(cli, weights_run):
    assert f"What is the total weight of {BASKET} in grams?" in weights_run.stdout
    r = cli("show", "w.jsonl", "--node", "0")
    assert r.returncode == 0 and BASKET in r.stdout and "> unlock $1" in r.stdout


def test_fix_header_rounds_and_report(cli):
    r = cli("fix", "weights", "--seed", "2", "--db", "e.sqlite", "--overseer", "oracle")
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0]
    assert f"What is the total weight of {BASKET} in grams?" in header
    assert "feedback: 150" in r.stdout and BASKET in r.stdout.split("backward pass")[1]


def test_backward_report(cli, weights_run):
    r = cli("backward", "w.jsonl", "--target", "150", "--overseer", "oracle")
    assert r.returncode == 0 and f"#0 What is the total weight of {BASKET} in grams?" in r.stdout, r.stdout


def test_the_human_overseers_view(cli):
    r = cli("vase", "--overseer", "human", input="done\n" * 6)
    assert "what lies on the way across [lamp at 2, rug at 4, vase at 6, chair at 8]?" in r.stdout, r.stdout


def test_database_views(cli):
    key, text = MARKUP_ENTRY
    r = cli("db", "add", key, text, "--db", "d.sqlite")
    assert r.returncode == 0 and f"[e1] {key}: {text}" in r.stdout
    for args in (["list"], ["search", "fig"], ["history", "e1"]):
        r = cli("db", *args, "--db", "d.sqlite", env={"COLUMNS": "400"})
        assert r.returncode == 0 and key in r.stdout and text in r.stdout, (args, r.stdout)


def test_a_lookup_of_a_markup_entry_in_the_tree_and_workspace(cli):
    key, text = MARKUP_ENTRY
    assert cli("db", "add", "fig", "a fig weighs 50 grams [lime]", "--db", "d.sqlite").returncode == 0
    r = cli("run", "weights", "-q", "What is the total weight of [fig] in grams?", "--db", "d.sqlite", "--out", "f.jsonl")
    assert "What is the total weight of [fig] in grams?" in r.stdout
    r = cli("show", "f.jsonl", "--node", "1")
    assert "[e1] fig: a fig weighs 50 grams [lime]" in r.stdout, r.stdout


def test_sessions_list(cli):
    q = "is the list [1 [2 []]] sorted from least to greatest?"
    cli("ask", q, "--no-automate", input="exit\n")
    r = cli("sessions", env={"COLUMNS": "400"})
    assert r.returncode == 0 and q in r.stdout, r.stdout


def test_say_escapes_its_data_and_styles_only_its_own_markup(monkeypatch):
    from ida.cli import common
    from ida.terminal import Console

    out = io.StringIO()
    monkeypatch.setattr(common, "console", Console(file=out, highlight=False, markup=False, force_terminal=True,
                                                   color_system="standard", width=200))
    common.say("[bold]answer[/]: {answer}", answer="[red]x[/red] [lime apricot]")
    shown = out.getvalue()
    assert "[red]x[/red] [lime apricot]" in shown and "\x1b[1m" in shown  # the data as written; our bold, styled
    common.console.print("[bold]not markup[/]")
    assert "[bold]not markup[/]" in out.getvalue()

"""`ida vase`: replay the breakable-vase scenario, the project's main job. Parses and renders."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.text import Text

from ida.cli.common import VASE_DIR, console, open_db, say
from ida.errors import IdaError
from ida.cli.overseer import at_the_prompt, make_overseer, show_text
from ida.overseer.saved import report_path, save_report
from ida.render import report_view, tree_view
from ida.scenarios import vase
from ida.tree import Tree



def vase_cmd(
    room: str = typer.Option(vase.DEFAULT_ROOM, "--room", help="Objects as NAME@POSITION[:fragile], comma-separated; "
                             "a .json file ({door, things: [{name, at, fragile}]}); or 'random' (see --seed)."),
    db: Path | None = typer.Option(None, "--db", help="Experience database; lessons persist there, so a second "
                                      "replay breaks nothing (default: a fresh temporary one)."),
    overseer: str = typer.Option("rules", "--overseer", help="rules (the scenario's local rules; the default "
                                 "everywhere) or human (you assign the blame at the blame> prompt)."),
    seed: int = typer.Option(0, help="Seed for --room random."),
    out: Path = typer.Option(VASE_DIR, "--out", "-o", help="Folder for both runs' transcripts and the report."),
    view: bool = typer.Option(False, "--view", help="Also write an HTML page of both runs, the blame and the diff."),
) -> None:
    """Replay the breakable vase: run, break, backward pass, lesson, run again.

    Examples: ida vase ; ida vase --room "glass bowl@2:fragile, crate@5" --view ; ida vase --overseer human
    """
    the_room = vase.parse_room(room, seed)
    if overseer not in ("rules", "human"):
        raise IdaError(f"unknown overseer {overseer!r} for the vase; choose rules or human")
    judge = vase.overseer() if overseer == "rules" else make_overseer(overseer, None, ask=console.input, show=show_text)
    with tempfile.TemporaryDirectory() as scratch:
        database = open_db(db or Path(scratch) / "vase.sqlite")
        console.print(_room_line(the_room))
        say("[dim]experience database: {db} (revision {rev})[/]", db="temporary, fresh" if db is None else database.path,
            rev=database.revision)
        with at_the_prompt():
            r = vase.replay(the_room, database, judge, corrections_dir=out.parent / "corrections")
        paths = [r.first.save(out / f"run1-{r.first.run_id}.jsonl")]
        if r.report is not None:  # beside run 1's transcript, for `ida view`
            paths.append(save_report(r.report, report_path(paths[0]), r.applied))

        console.rule("run 1")
        console.print(tree_view(r.first, depth=2))
        _outcome(r.first_outcome)
        if r.report is None:
            say("[green]nothing broke[/]: the database already held the lessons. "
                "Summary: 0 broken, time {time}; no backward pass needed.", time=r.first_outcome.time)
            say("[dim]saved {path}[/]", path=paths[0])
            if view:
                _page(out, r.first, paths[:1])
            return
        console.rule("backward pass")
        console.print(report_view(r.report))
        for e in r.applied.entries:  # type: ignore[union-attr]
            p = e.provenance
            console.print(Text(f"edit: e{e.id} {e.key}: {e.text}", style="bold")
                          + Text(f"  (from run {p.run_id}, node #{p.node_id}, feedback {p.feedback!r})", style="dim"))

        console.rule("run 2")
        changed = r.changed_at
        marks = {changed: "◀ the path changed here"} if changed is not None else {}
        console.print(tree_view(r.second, depth=2, marks=marks))  # type: ignore[arg-type]
        if changed is not None:
            node = r.second.nodes[changed]  # type: ignore[union-attr]
            say("[magenta]#{node}[/] now sees:", node=changed)
            console.print(node.workspace_at(len(node.steps) - 1))
        _outcome(r.second_outcome)  # type: ignore[arg-type]
        second = r.second.save(out / f"run2-{r.second.run_id}.jsonl")  # type: ignore[union-attr]
        paths.append(second)
        if r.applied and r.applied.corrections:
            paths.append(r.applied.corrections)

        before, after = r.first_outcome, r.second_outcome
        lessons = "; ".join(f"e{e.id} {e.key}" for e in r.applied.entries) or "none"  # type: ignore[union-attr]
        console.rule()
        say("[bold]summary[/]: run 1 broke {n1} ({broken}), time {t1}; {blamed} node(s) blamed of {visited} visited; "
            "lessons {lessons}; run 2 broke {n2}, time {t2}.", n1=len(before.broken),
            broken=", ".join(n for n, _ in before.broken), t1=before.time, blamed=len(r.report.blamed),
            visited=len(r.report.visits), lessons=lessons, n2=len(after.broken), t2=after.time)  # type: ignore[union-attr]
        say("[dim]saved {paths}[/]", paths=", ".join(map(str, paths)))
        if view:
            _page(out, r.first, [paths[0], second])
        if after.broken:  # type: ignore[union-attr]
            raise typer.Exit(1)


def _page(save_dir: Path, first: Tree, transcripts: list[Path]) -> None:
    from ida.view import open_runs, write_page

    runs = open_runs(transcripts)  # run 1's report is read from beside its transcript
    for r, label in zip(runs, ("run 1", "run 2")):
        r.label = label
    page = write_page(save_dir / f"vase-{first.run_id}.html", runs, title="ida vase: run 1, the backward pass, run 2")
    console.print(f"page: {page}")


def _room_line(room: vase.Room) -> Text:
    line = Text.assemble(("room", "bold"), ": ")
    for i, t in enumerate(room.things):
        line.append((", " if i else "") + f"{t.name} at {t.at}")
        if t.fragile:
            line.append(" (fragile)", "red")
    line.append(f"; door at {room.door}.  ")
    line.append("The agent sees positions, never fragility.", "dim")
    return line


def _outcome(out: vase.Outcome) -> None:
    for line in out.log:
        console.print(line, style="red" if "broke" in line else None)
    console.print(f"time taken: {out.time}")

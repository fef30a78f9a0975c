"""`ida backward` and `ida fix`: the overseer pass from the command line. Parses and renders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.markup import escape

from ida import tasks
from ida.errors import IdaError
from ida.cli.common import FIX_DIR, CorrectionsOpt, DbOpt, console, open_db
from ida.overseer import FixStep, HumanOverseer, OracleOverseer, Overseer, RuleOverseer, apply, backward, fix
from ida.overseer.saved import report_path, save_report
from ida.cli.memo import change_line
from ida.session import SessionStore
from ida.render import report_view, tree_view
from ida.transcript import load_transcript

OverseerOpt = typer.Option("rules", "--overseer", help="rules (the task's local rules), oracle (ground truth) or human.")


def backward_cmd(
    transcript: Path = typer.Argument(..., help="A transcript (.jsonl) of the run to correct."),
    target: str = typer.Option(..., "--target", help="The right root answer, or a judgement of the outcome."),
    overseer: str = OverseerOpt,
    db: Path | None = DbOpt,
    do_apply: bool = typer.Option(False, "--apply", help="Commit the edits to the database and save corrections."),
    corrections: Path = CorrectionsOpt,
    report_out: Path | None = typer.Option(None, "--report-out", help="Where the report is saved for `ida view` "
                                           "(default: beside the transcript, NAME.report.json)."),
    sessions: Path | None = typer.Option(None, "--sessions", help="With --apply, the sessions file whose automation "
                                         "the corrections update (default for a session's transcript: as `ida ask`)."),
) -> None:
    """Run the overseer backward pass on a saved tree: who is to blame for the root's answer?"""
    tree = load_transcript(transcript)
    task = tasks.all_tasks().get(tree.task or "")
    report = backward(tree, target, make_overseer(overseer, task, ask=console.input, show=console.print))
    console.print(report_view(report))
    saved_to = report_out or report_path(transcript)
    if not do_apply:
        save_report(report, saved_to)
        console.print(f"[dim]report saved: {escape(str(saved_to))}[/]")
        if report.edits or report.corrections:
            console.print("[dim]dry run: add --apply to commit the edits and save the corrections[/]")
        return
    store = SessionStore(sessions) if report.corrections and (sessions or "session" in tree.meta) else None
    try:
        applied = apply(report, open_db(db) if report.edits else None, corrections,
                        automation=store.automation if store is not None else None)
    finally:
        if store is not None:
            store.close()
    save_report(report, saved_to, applied)
    console.print(f"[dim]report saved: {escape(str(saved_to))}[/]")
    for e in applied.entries:
        console.print(f"committed [bold]e{e.id}[/] {escape(e.key)}: {escape(e.text)}  (revision {applied.revision})")
    for eid in applied.removed:
        console.print(f"removed e{eid}")
    if applied.corrections:
        console.print(f"corrections saved: {escape(str(applied.corrections))}")
    for change in applied.automation:
        console.print(change_line(change))


def fix_cmd(
    task: str = typer.Argument(..., help="A built-in task (see `ida run --help`)."),
    seed: int = typer.Option(0, help="Seed of the generated question."),
    size: int | None = typer.Option(None, help="Size of the question."),
    target: str | None = typer.Option(None, "--target", help="The right answer (default: the task's ground truth)."),
    overseer: str = typer.Option("oracle", "--overseer", help="rules, oracle or human."),
    max_steps: int = typer.Option(5, help="Most forward-backward rounds."),
    db: Path | None = DbOpt,
    corrections: Path = CorrectionsOpt,
    save_dir: Path = typer.Option(FIX_DIR, help="Where each round's transcript (and report) is saved."),
    view: bool = typer.Option(False, "--view", help="Also write an HTML page of the rounds, their blame and diffs."),
) -> None:
    """Forward, check, backward, apply, forward again: until the root answer is right."""
    if max_steps < 1:
        raise IdaError("--max-steps must be at least 1")
    t = tasks.get(task)
    inst = t.instance(seed, size)
    target = inst.answer if target is None else target
    database = open_db(db)
    console.print(f"[bold]{escape(inst.question)}[/]  target: {escape(target)}  database: {escape(str(database.path))} "
                  f"(revision {database.revision})")

    saved: list[Path] = []

    def show(step: FixStep) -> None:
        console.rule(f"round {len(result_steps) + 1}")
        result_steps.append(step)
        saved.append(step.tree.save(save_dir / f"round{len(result_steps)}-{step.tree.run_id}.jsonl"))
        if step.report is not None:
            save_report(step.report, report_path(saved[-1]), step.applied)
        console.print(tree_view(step.tree, depth=2))
        if step.report is None:
            console.print(f"[green]right[/]: {escape(str(step.tree.answer))}")
            return
        console.print(f"[red]wrong[/]: {escape(str(step.tree.answer))}")
        console.print(report_view(step.report))

    result_steps: list[FixStep] = []
    result = fix(inst.question, target, t.policy, make_overseer(overseer, t, ask=console.input, show=console.print),
                 db=database, max_steps=max_steps, on_step=show, corrections_dir=corrections, task=t.name)
    edits = sum(len(s.report.edits) for s in result.steps if s.report)
    verdict = "[green]fixed[/]" if result.fixed else "[red]not fixed[/]"
    console.print(f"{verdict} after {len(result.steps)} round(s), {edits} database edit(s)")
    console.print("[dim]saved " + escape(", ".join(map(str, saved))) + "[/]")
    if view:
        from ida.view import open_runs, write_page

        runs = open_runs(saved)
        for i, r in enumerate(runs, 1):
            r.label = f"round {i}"
        page = write_page(save_dir / f"fix-{result.steps[0].tree.run_id}.html", runs, title=f"ida fix: {inst.question}")
        console.print(f"page: {escape(str(page))}")
    if not result.fixed:
        raise typer.Exit(1)


def make_overseer(kind: str, task: tasks.Task | None = None, ask: Callable[[str], str] = input,
                  show: Callable[[str], None] = print) -> Overseer:
    """`--overseer rules|oracle|human` for a built-in task (rules and oracle need one)."""
    if kind == "human":
        return HumanOverseer(ask, show)
    if task is None:
        raise IdaError(f"the {kind} overseer needs a built-in task; this tree has none (use --overseer human)")
    if kind == "rules":
        return RuleOverseer(task.rules)
    if kind == "oracle":
        return OracleOverseer(task.solve, task.rules)
    raise IdaError(f"unknown overseer {kind!r}; choose rules, oracle or human")

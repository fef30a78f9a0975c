"""`ida backward` and `ida fix`: the overseer pass from the command line. Parses and renders."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.markup import escape

from ida import tasks
from ida.cli.common import FIX_DIR, TASK_HELP, CorrectionsOpt, DbOpt, console, open_db
from ida.errors import IdaError
from ida.overseer import (Counterfactual, FixStep, HumanOverseer, OracleOverseer, Overseer, RuleOverseer, apply,
                          backward, fix)
from ida.overseer.saved import report_path, save_report
from ida.policy import Policy
from ida.render import report_view, tree_view
from ida.transcript import load_transcript
from ida.tree import Tree

OverseerOpt = typer.Option("rules", "--overseer", help="rules (the task's local rules), oracle (ground truth) or human.")
GuessOpt = typer.Option(0, "--guess", min=0, help="Guess and check where the overseer's pass leaves blame open "
                       "(several inputs could be wrong): try the candidate changes its rules list, in at most N forward "
                       "runs (0: the linear pass alone).")
TaskOpt = typer.Option(None, "--task", help=TASK_HELP + " Its rules and ground truth judge the tree "
                       "(default: the task the tree was run with, if it is built in or installed).")


def show_text(text: str) -> None:
    """What the person overseeing reads: data, printed as text (brackets in it are not markup)."""
    console.print(text, markup=False, highlight=False)


def backward_cmd(
    transcript: Path = typer.Argument(..., help="A transcript (.jsonl) of the run to correct."),
    target: str = typer.Option(..., "--target", help="The right root answer, or a judgement of the outcome."),
    overseer: str = OverseerOpt,
    task: str | None = TaskOpt,
    db: Path | None = DbOpt,
    do_apply: bool = typer.Option(False, "--apply", help="Commit the edits to the database and save corrections."),
    corrections: Path = CorrectionsOpt,
    report_out: Path | None = typer.Option(None, "--report-out", help="Where the report is saved for `ida view` "
                                           "(default: beside the transcript, NAME.report.json)."),
    guess: int = GuessOpt,
) -> None:
    """Run the overseer backward pass on a saved tree: who is to blame for the root's answer?

    Example: ida backward transcripts/runs/capitals-size1-seed0.jsonl --target Canberra --task examples/capitals.py:TASK
    """
    tree = load_transcript(transcript)
    t = tasks.get(task) if task else _task_of(tree, overseer)
    judge = make_overseer(overseer, t, ask=console.input, show=show_text)
    database = open_db(db) if db is not None else None
    if guess:
        if t is None:
            raise IdaError("--guess re-runs the tree with the task's H: give --task")
        judge = Counterfactual(judge, t.policy, database, budget=guess)
    with _at_the_prompt():
        report = backward(tree, target, judge)
    console.print(report_view(report))
    saved_to = report_out or report_path(transcript)
    if not do_apply:
        save_report(report, saved_to)
        console.print(f"[dim]report saved: {escape(str(saved_to))}[/]")
        if report.edits or report.corrections:
            console.print("[dim]dry run: add --apply to commit the edits and save the corrections[/]")
        return
    applied = apply(report, (database or open_db(db)) if report.edits else None, corrections)
    save_report(report, saved_to, applied)
    console.print(f"[dim]report saved: {escape(str(saved_to))}[/]")
    for e in applied.entries:
        console.print(f"committed [bold]e{e.id}[/] {escape(e.key)}: {escape(e.text)}  (revision {applied.revision})")
    for eid in applied.removed:
        console.print(f"removed e{eid}")
    if applied.corrections:
        console.print(f"corrections saved: {escape(str(applied.corrections))}")


def fix_cmd(
    what: str = typer.Argument(..., metavar="TASK|QUESTION", help="A task (see `ida tasks`; FILE.py:NAME works), "
                               "or a question of your own in quotes (then give --task, or --overseer human)."),
    task: str | None = typer.Option(None, "--task", help="For a QUESTION: the task whose H, rules, ground truth "
                                    "and facts serve it (" + TASK_HELP + ")"),
    seed: int = typer.Option(0, help="Seed of the generated question."),
    size: int | None = typer.Option(None, help="Size of the question."),
    target: str | None = typer.Option(None, "--target", help="The right answer (default: the task's ground truth)."),
    overseer: str = typer.Option("oracle", "--overseer", help="rules, oracle or human. With a QUESTION and no "
                                 "--task, human: you decompose at the prompt (as in `ida ask`), then blame."),
    max_steps: int = typer.Option(5, help="Most forward-backward rounds."),
    db: Path | None = DbOpt,
    add_facts: bool = typer.Option(False, "--add-facts", help="Add the task's facts missing from the database first."),
    corrections: Path = CorrectionsOpt,
    save_dir: Path = typer.Option(FIX_DIR, help="Where each round's transcript (and report) is saved."),
    view: bool = typer.Option(False, "--view", help="Also write an HTML page of the rounds, their blame and diffs."),
    guess: int = GuessOpt,
) -> None:
    """Forward, check, backward, apply, forward again: until the root answer is right.

    Examples: ida fix weights --seed 2 --db lessons.sqlite ;
    ida fix circuit --seed 11 --db circuit.sqlite --add-facts --overseer rules --guess 1000 ;
    ida fix 'What is the capital of Australia?' --target Canberra --task examples/capitals.py:TASK ;
    ida fix 'What is 2 * 3?' --target 6 --overseer human
    """
    if max_steps < 1:
        raise IdaError("--max-steps must be at least 1")
    t, question, target = _what_to_fix(what, task, seed, size, target, overseer)
    database = open_db(db)
    if add_facts and t is not None and t.facts:
        console.print(f"[dim]{tasks.add_facts(t, database)} fact(s) of task {escape(t.name)} added[/]")
    console.print(f"[bold]{escape(question)}[/]  target: {escape(target)}  database: {escape(str(database.path))} "
                  f"(revision {database.revision})")

    saved: list[Path] = []
    result_steps: list[FixStep] = []

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

    with _decomposer(t) as policy, _at_the_prompt():
        judge = make_overseer(overseer, t, ask=console.input, show=show_text)
        if guess:
            judge = Counterfactual(judge, policy, database, budget=guess)
        result = fix(question, target, policy, judge, db=database, max_steps=max_steps, on_step=show,
                     corrections_dir=corrections,
                     task=t.name if t else None)
    edits = sum(len(s.report.edits) for s in result.steps if s.report)
    verdict = "[green]fixed[/]" if result.fixed else "[red]not fixed[/]"
    guessed = sum(s.report.forward_runs for s in result.steps if s.report)
    spent = f", {guessed} forward run(s) checking guesses" if guess else ""
    console.print(f"{verdict} after {len(result.steps)} round(s), {edits} database edit(s){spent}")
    console.print("[dim]saved " + escape(", ".join(map(str, saved))) + "[/]")
    if view:
        from ida.view import open_runs, write_page

        runs = open_runs(saved)
        for i, r in enumerate(runs, 1):
            r.label = f"round {i}"
        page = write_page(save_dir / f"fix-{result.steps[0].tree.run_id}.html", runs, title=f"ida fix: {question}")
        console.print(f"page: {escape(str(page))}")
    if not result.fixed:
        raise typer.Exit(1)


def _what_to_fix(what: str, task: str | None, seed: int, size: int | None, target: str | None,
                 overseer: str) -> tuple[tasks.Task | None, str, str]:
    """(the task, if any; the question; the target) for `ida fix WHAT`: a task's generated question,
    or a question of the user's (it has spaces; a task name has none)."""
    from ida.tasks.load import is_spec

    if task is None and is_spec(what):
        named = tasks.get(what)
        inst = named.instance(seed, size)
        if target is None and inst.answer is None:
            raise IdaError(f"task {named.name} has no ground truth: give --target ANSWER")
        return named, inst.question, target if target is not None else inst.answer  # type: ignore[return-value]
    if task is None and overseer != "human":
        raise IdaError("a question of your own needs --task FILE.py:NAME (its H, rules and facts) or "
                       "--overseer human (you decompose and blame)")
    t = tasks.get(task) if task else None
    if target is None:
        if t is None or t.solve is None:
            raise IdaError("give --target ANSWER: the right answer to your question")
        target = t.truth(what)
    return t, what, target


@contextmanager
def _decomposer(task: tasks.Task | None) -> Iterator[Policy]:
    """The task's H; with no task, the person at the prompt, with automation for the fix's
    rounds (a context answered in one round is not asked again in the next)."""
    if task is not None:
        yield task.policy
        return
    from ida.policies.human import HumanPolicy
    from ida.policies.memo import Automation, MemoPolicy

    console.print("[dim]you are H: answer each workspace (help lists the commands); then you blame[/]")
    with tempfile.TemporaryDirectory() as scratch, Automation(Path(scratch) / "automation.sqlite") as auto:
        yield MemoPolicy(HumanPolicy(console), auto, name="human")


@contextmanager
def _at_the_prompt() -> Iterator[None]:
    """A person who leaves (Ctrl-C, Ctrl-D, `exit`) ends the command with one line, exit 130."""
    from ida.policies.human import Leave

    try:
        yield
    except (KeyboardInterrupt, EOFError, Leave):
        console.print("\n[dim]left: nothing applied from this pass[/]")
        raise typer.Exit(130) from None


def _task_of(tree: Tree, overseer: str) -> tasks.Task | None:
    """The task a saved tree was run with, found by name; None when the overseer needs none."""
    if not tree.task or overseer == "human":
        return None
    try:
        return tasks.get(tree.task)
    except tasks.TaskError:
        raise IdaError(f"this tree's task {tree.task!r} is not built in or installed: give --task FILE.py:NAME") from None


def make_overseer(kind: str, task: tasks.Task | None = None, ask: Callable[[str], str] = input,
                  show: Callable[[str], None] = print) -> Overseer:
    """`--overseer rules|oracle|human`; rules and oracle need a task (the oracle, its ground truth)."""
    if kind not in ("rules", "oracle", "human"):
        raise IdaError(f"unknown overseer {kind!r}; choose rules, oracle or human")
    if kind == "human":
        return HumanOverseer(ask, show)
    if task is None:
        raise IdaError(f"the {kind} overseer needs a task; this tree has none (give --task, or --overseer human)")
    if kind == "rules":
        if not task.rules:
            raise IdaError(f"task {task.name} has no rules; use --overseer oracle or human")
        return RuleOverseer(task.rules)
    if task.solve is None:
        raise IdaError(f"task {task.name} has no ground truth for the oracle; use --overseer rules or human")
    return OracleOverseer(task.solve, task.rules)

"""`ida backward` and `ida fix`: the overseer pass from the command line. Parses and renders."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from ida import tasks
from ida.cli.blame import KINDS_HELP, blame_overseer, blame_summary, is_blame_kind
from ida.cli.common import FIX_DIR, TASK_HELP, CorrectionsOpt, DbOpt, TaskSizeOpt, console, open_db, say
from ida.errors import IdaError
from ida.experience import ExperienceDB
from ida.overseer import (Counterfactual, FixStep, HumanOverseer, OracleOverseer, Overseer, Report, RuleOverseer,
                          apply, backward, fix)
from ida.policies.human import Leave
from ida.overseer.saved import report_path, save_report
from ida.cli.memo import change_line
from ida.policy import Policy
from ida.session import SessionStore
from ida.render import report_view, tree_view
from ida.transcript import load_transcript
from ida.tree import Tree

# The same default everywhere: the task's local rules are the backward pass proper (linear, no
# ground truth needed, and they work for the vase); the others are chosen by name.
OverseerOpt = typer.Option("rules", "--overseer", help="rules (the task's local rules; the default everywhere), "
                           "oracle (ground truth), human (the blame> prompt), or blame as a question: " + KINDS_HELP + ".")
GuessOpt = typer.Option(0, "--guess", min=0, help="Guess and check where the overseer's pass leaves blame open "
                       "(several inputs could be wrong): try the candidate changes its rules list, in at most N forward "
                       "runs (0: the linear pass alone).")
TaskOpt = typer.Option(None, "--task", help=TASK_HELP + " Its rules and ground truth judge the tree "
                       "(default: the task the tree was run with, if it is built in or installed).")


def show_text(text: str) -> None:
    """What the person overseeing reads: data, printed as text (the console reads no markup)."""
    console.print(text)


def backward_cmd(
    transcript: Path = typer.Argument(..., help="A transcript (.jsonl) of the run to correct."),
    target: str = typer.Option(..., "--target", help="The right root answer, or a judgement of the outcome."),
    overseer: str = OverseerOpt,
    task: str | None = TaskOpt,
    db: Path | None = DbOpt,
    do_apply: bool = typer.Option(False, "--apply", help="Commit the edits to the database and save corrections."),
    corrections: Path = CorrectionsOpt,
    out: Path | None = typer.Option(None, "--out", "-o", help="Where the report is saved, for `ida view` and a "
                                    "later --apply (default: beside the transcript, NAME.report.json)."),
    saved: Path | None = typer.Option(None, "--report", help="Blame from this saved report (a dry run's, or one "
                                      "left part way) instead of asking the overseer again: with --apply, commit it."),
    sessions: Path | None = typer.Option(None, "--sessions", help="With --apply, the sessions file whose automation "
                                         "the corrections update (default for a session's transcript: as `ida ask`)."),
    guess: int = GuessOpt,
) -> None:
    """Run the overseer backward pass on a saved tree: who is to blame for the root's answer?

    Examples: ida backward run.jsonl --target "Paris, Canberra" --task examples/capitals.py:TASK ;
    ida backward run.jsonl --target 150 --overseer human ; ida backward run.jsonl --target 150 --report run.report.json --apply
    """
    tree = load_transcript(transcript)
    saved_to = out or report_path(transcript)
    database = open_db(db) if db is not None or guess else None  # guesses re-run against the database
    judge = None
    if saved is not None:
        report = _saved_report(saved, tree, target)
    else:
        t = tasks.get(task) if task else _task_of(tree, overseer)
        h = t if t is not None or not guess else _task_of(tree, "rules")  # guessing re-runs with the tree's H
        judge = judging(overseer, t, guess, h.policy if h else None, database, task_name=tree.task)
        report = _pass(tree, target, judge, saved_to)
    console.print(report_view(report))
    if judge is not None and (summary := blame_summary(judge)) is not None:
        say("[dim]{summary}[/]", summary=summary)
    if not do_apply:
        save_report(report, saved_to)
        say("[dim]report saved: {path}[/]", path=saved_to)
        if report.edits or report.corrections:
            say("[dim]dry run: add --apply to commit the edits and save the corrections[/]")
        return
    store = SessionStore(sessions) if report.corrections and (sessions or "session" in tree.meta) else None
    try:
        applied = apply(report, (database or open_db(db)) if report.edits else None, corrections,
                        automation=store.automation if store is not None else None)
    finally:
        if store is not None:
            store.close()
    save_report(report, saved_to, applied)
    say("[dim]report saved: {path}[/]", path=saved_to)
    for e in applied.entries:
        say("committed [bold]e{id}[/] {key}: {text}  (revision {rev})", id=e.id, key=e.key, text=e.text,
            rev=applied.revision)
    for eid in applied.removed:
        console.print(f"removed e{eid}")
    if applied.corrections:
        console.print(f"corrections saved: {applied.corrections}")
    for change in applied.automation:
        console.print(change_line(change))


def judging(kind: str, task: tasks.Task | None, guess: int, policy: Policy | None, database: ExperienceDB | None,
            task_name: str | None = None) -> Overseer:
    """The overseer `--overseer KIND` names, in guess and check for `--guess N` (re-running with `policy`)."""
    judge = make_overseer(kind, task, ask=console.input, show=show_text, task_name=task_name)
    if not guess:
        return judge
    if policy is None:
        raise IdaError("--guess re-runs the tree with the task's H: give --task")
    return Counterfactual(judge, policy, database, budget=guess)


def _pass(tree, target: str, judge: Overseer, saved_to: Path) -> Report:
    """The backward pass; left part way (Ctrl-C, Ctrl-D, `leave`), the blame typed so far is saved."""
    report = Report(tree, target)
    try:
        return backward(tree, target, judge, into=report)
    except (KeyboardInterrupt, EOFError, Leave):
        if isinstance(judge, HumanOverseer) and judge.unfinished is not None:
            report.visits.append(judge.unfinished)
        save_report(report, saved_to)
        say("\n[dim]left: the blame of {n} node(s) so far is saved in {path}; commit it with --report {path} "
            "--apply[/]", n=len(report.visits), path=saved_to)
        raise typer.Exit(130) from None


def fix_cmd(
    what: str = typer.Argument(..., metavar="TASK|QUESTION", help="A task (see `ida tasks`; FILE.py:NAME works), "
                               "or a question of your own in quotes (then give --task, or --overseer human)."),
    task: str | None = typer.Option(None, "--task", help="For a QUESTION: the task whose H, rules, ground truth "
                                    "and facts serve it (" + TASK_HELP + ")"),
    seed: int = typer.Option(0, help="Seed of the generated question."),
    task_size: int | None = TaskSizeOpt,
    target: str | None = typer.Option(None, "--target", help="The right answer (default: the task's ground truth)."),
    overseer: str = OverseerOpt,
    max_steps: int = typer.Option(5, help="Most forward-backward rounds."),
    db: Path | None = DbOpt,
    add_facts: bool = typer.Option(False, "--add-facts", help="Add the task's facts missing from the database first."),
    corrections: Path = CorrectionsOpt,
    out: Path = typer.Option(FIX_DIR, "--out", "-o", help="Folder for each round's transcript and report."),
    view: bool = typer.Option(False, "--view", help="Also write an HTML page of the rounds, their blame and diffs."),
    guess: int = GuessOpt,
) -> None:
    """Forward, check, backward, apply, forward again: until the root answer is right.

    A QUESTION without --task needs --overseer human: you decompose at the prompt (as in
    `ida ask`), then blame.

    Examples: ida fix weights --seed 2 --db lessons.sqlite --overseer oracle ;
    ida fix circuit --seed 11 --db circuit.sqlite --add-facts --guess 1000 ;
    ida fix 'What is the capital of Australia?' --target Canberra --task examples/capitals.py:TASK ;
    ida fix 'What is 2 * 3?' --target 6 --overseer human
    """
    if max_steps < 1:
        raise IdaError("--max-steps must be at least 1")
    t, question, target = _what_to_fix(what, task, seed, task_size, target, overseer)
    database = open_db(db)
    if add_facts and t is not None and t.facts:
        say("[dim]{n} fact(s) of task {task} added[/]", n=tasks.add_facts(t, database), task=t.name)
    say("[bold]{question}[/]  target: {target}  database: {db} (revision {rev})", question=question, target=target,
        db=database.path, rev=database.revision)

    saved: list[Path] = []
    result_steps: list[FixStep] = []

    def show(step: FixStep) -> None:
        console.rule(f"round {len(result_steps) + 1}")
        result_steps.append(step)
        saved.append(step.tree.save(out / f"round{len(result_steps)}-{step.tree.run_id}.jsonl"))
        if step.report is not None:
            save_report(step.report, report_path(saved[-1]), step.applied)
        console.print(tree_view(step.tree, depth=2))
        if step.report is None:
            say("[green]right[/]: {answer}", answer=step.tree.answer)
            return
        say("[red]wrong[/]: {answer}", answer=step.tree.answer)
        console.print(report_view(step.report))

    with _decomposer(t) as policy, at_the_prompt():
        judge = judging(overseer, t, guess, policy, database)
        result = fix(question, target, policy, judge, db=database, max_steps=max_steps, on_step=show,
                     corrections_dir=corrections, task=t.name if t else None)
    edits = sum(len(s.report.edits) for s in result.steps if s.report)
    verdict = "[green]fixed[/]" if result.fixed else "[red]not fixed[/]"
    guessed = sum(s.report.forward_runs for s in result.steps if s.report)
    spent = ", {runs} forward run(s) checking guesses" if guess else ""
    say(verdict + " after {n} round(s), {edits} database edit(s)" + spent, n=len(result.steps), edits=edits,
        runs=guessed)
    say("[dim]saved {paths}[/]", paths=", ".join(map(str, saved)))
    if view:
        from ida.view import open_runs, write_page

        runs = open_runs(saved)
        for i, r in enumerate(runs, 1):
            r.label = f"round {i}"
        page = write_page(out / f"fix-{result.steps[0].tree.run_id}.html", runs, title=f"ida fix: {question}")
        console.print(f"page: {page}")
    if not result.fixed:
        raise typer.Exit(1)


def _saved_report(path: Path, tree: Tree, target: str) -> Report:
    """A saved report to commit: about this very tree and target, and not committed already."""
    from ida.overseer.saved import ReportError, check_matches, from_file, load_report

    saved = load_report(path)
    check_matches(saved, tree, path)
    if saved.feedback != target:
        raise ReportError(f"{path}: this report blames toward {saved.feedback!r}, not {target!r}")
    if saved.applied is not None:
        raise ReportError(f"{path}: already applied (database revision {saved.applied.revision})")
    if not saved.complete:
        say("[yellow]{path}: a pass left part way ({n} node(s) blamed so far)[/]", path=path, n=len(saved.visits))
    return from_file(saved, tree)


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

    say("[dim]you are H: answer each workspace (help lists the commands); then you blame[/]")
    with tempfile.TemporaryDirectory() as scratch, Automation(Path(scratch) / "automation.sqlite") as auto:
        yield MemoPolicy(HumanPolicy(console), auto, name="human")


@contextmanager
def at_the_prompt() -> Iterator[None]:
    """A person who leaves (Ctrl-C, Ctrl-D, `exit`) ends the command with one line, exit 130."""
    try:
        yield
    except (KeyboardInterrupt, EOFError, Leave):
        say("\n[dim]left: nothing applied from this pass[/]")
        raise typer.Exit(130) from None


def _task_of(tree: Tree, overseer: str) -> tasks.Task | None:
    """The task a saved tree was run with, found by name; None when the overseer needs none."""
    if not tree.task or overseer == "human" or is_blame_kind(overseer):
        return None
    try:
        return tasks.get(tree.task)
    except tasks.TaskError:
        raise IdaError(f"this tree's task {tree.task!r} is not built in or installed: give --task FILE.py:NAME") from None


def make_overseer(kind: str, task: tasks.Task | None = None, ask: Callable[[str], str] = input,
                  show: Callable[[str], None] = print, task_name: str | None = None) -> Overseer:
    """`--overseer rules|oracle|human|script|ask|model:DIR`; rules and oracle need a task (the oracle,
    its ground truth); script, the name of a task with blame scripts (`task_name`: a tree's)."""
    if is_blame_kind(kind):
        return blame_overseer(kind, task.name if task is not None else task_name)
    if kind not in ("rules", "oracle", "human"):
        raise IdaError(f"unknown overseer {kind!r}; choose rules, oracle, human, script, ask or model:DIR")
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

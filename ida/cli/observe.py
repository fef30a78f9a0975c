"""`ida observe`: the fix loop fed a task's questions one by one. Parses and renders."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ida import tasks
from ida.cli.common import DbOpt, TaskSizeOpt, open_db, say
from ida.cli.overseer import GuessOpt, OverseerOpt, at_the_prompt, judging
from ida.engine import run
from ida.errors import IdaError
from ida.overseer.observe import Observation, observe, totals

MAX_DRAWS = 20  # generated questions drawn per distinct one wanted, before giving up on more


def observe_cmd(
    task: str = typer.Argument(..., help="A task with a question generator and a ground truth (see `ida tasks`; "
                               "FILE.py:NAME works)."),
    questions: int = typer.Option(20, "--questions", "-n", min=1, help="Distinct questions to feed (drawn from seeds "
                                  "SEED, SEED+1, ...; fewer where the task has fewer)."),
    seed: int = typer.Option(0, help="First seed of the generated questions."),
    task_size: int | None = TaskSizeOpt,
    sweeps: int = typer.Option(3, min=1, help="Passes over the questions; stops early after one with nothing wrong."),
    overseer: str = OverseerOpt,
    guess: int = GuessOpt,
    max_steps: int = typer.Option(3, "--max-steps", min=1, help="Most forward-backward rounds per question."),
    db: Path | None = DbOpt,
    add_facts: bool = typer.Option(False, "--add-facts", help="Add the task's facts missing from the database first."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Also write every observation as JSON to this file."),
) -> None:
    """Feed the task's questions with their right answers one by one into the fix loop.

    Each wrong answer is fixed (forward, backward, apply); with --guess, guess and check must
    also leave every question fed before it right. At the end each question is run again and
    the right ones counted: exit status 0 when all are right, 1 otherwise.

    Examples: ida observe circuit --questions 32 --guess 1000 --db c.sqlite --add-facts ;
    ida observe weights -n 10 --overseer oracle --db w.sqlite --add-facts
    """
    t = tasks.get(task)
    pairs = _pairs(t, questions, seed, task_size)
    if out is not None and out.exists():
        raise IdaError(f"{out} exists; give another --out (observations are never overwritten)")
    database = open_db(db)
    if add_facts and t.facts:
        say("[dim]{n} fact(s) of task {task} added[/]", n=tasks.add_facts(t, database), task=t.name)
    say("[bold]{n} question(s) of {task}[/], up to {sweeps} sweep(s); database: {db} (revision {rev})", n=len(pairs),
        task=t.name, sweeps=sweeps, db=database.path, rev=database.revision)
    made: list[Observation] = []

    def show(o: Observation) -> None:
        made.append(o)
        i = (len(made) - 1) % len(pairs) + 1
        verdict = ("[green]right[/]" if not o.wrong else
                   "[yellow]wrong, fixed[/]" if o.fixed else "[red]wrong, not fixed[/]")
        cost = " ({runs} forward run(s), {calls} overseer call(s), {edits} edit(s))" if o.wrong else ""
        say("sweep {sweep} [{i}/{n}] {question} -> {answer}: " + verdict + cost, sweep=o.sweep, i=i, n=len(pairs),
            question=o.question, answer=o.answer, runs=o.forward_runs, calls=o.overseer_calls, edits=o.edits)

    with at_the_prompt():
        judge = judging(overseer, t, guess, t.policy, database)
        observe(pairs, t.policy, judge, database, sweeps=sweeps, max_steps=max_steps, on_observation=show,
                task=t.name)
    right = sum(run(q, t.policy, db=database, task=t.name).answer == a for q, a in pairs)
    say("{observations} observation(s), {wrong} wrong when fed: {fixed} fixed, {unfixed} not; {forward_runs} forward "
        "run(s) ({guess_runs} checking guesses), {overseer_calls} overseer call(s), {edits} edit(s)",
        **totals(made).model_dump())
    say(("[green]" if right == len(pairs) else "[red]") + "right now on {right} of {n} question(s)[/]", right=right,
        n=len(pairs))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps([o.model_dump() for o in made], indent=1) + "\n")
        say("[dim]observations saved: {path}[/]", path=out)
    if right < len(pairs):
        raise typer.Exit(1)


def _pairs(t: tasks.Task, n: int, seed: int, size: int | None) -> list[tuple[str, str]]:
    """Up to `n` distinct (question, right answer) pairs of the task's generator."""
    if t.generate is None or t.solve is None:
        raise IdaError(f"task {t.name} needs a question generator and a ground truth to be observed")
    pairs: dict[str, str] = {}
    for s in range(seed, seed + n * MAX_DRAWS):
        inst = t.instance(s, size)
        pairs.setdefault(inst.question, inst.answer)  # type: ignore[arg-type] # a task with solve has one
        if len(pairs) == n:
            break
    return list(pairs.items())

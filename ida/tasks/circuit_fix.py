"""Recovering the hidden circuit: the fix loop fed the black box's observations one by one.

Each observation is an input and the true output, fed by `ida.overseer.observe`: if H's
answer from the database is wrong, `fix` runs the backward pass with guess and check
(`Counterfactual` over the task's rules), the earlier observations as its checks, and applies
the guess that holds. Sweeps over the inputs in a shuffled order stop when one sweep finds
nothing wrong. Agreement with the black
box on every input is measured outside the agent (from its entries, in Python), after each
observation, so the figures say when it first agreed without the agent being told.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from ida.experience import ExperienceDB
from ida.overseer import Overseer, RuleOverseer
from ida.overseer.counterfactual import Counterfactual
from ida.overseer.observe import Observation, observe, totals
from ida.tasks import Task, add_facts
from ida.tasks.circuit import Circuit, beliefs_in, evaluate, inputs_of, make_task, question, world


class Recovery(BaseModel):
    seed: int
    gates: int
    inputs: int
    wrong: int
    missing: int
    recovered: bool  # the agent's circuit agrees with the black box on every input
    agreed_at_start: int  # inputs the first beliefs already got right
    observations: int  # fed in all
    observations_to_agree: int | None  # fed when it first agreed on every input
    fixed: int  # observations that were wrong when fed and were fixed
    unfixed: int  # wrong when fed, and no guess within the budget held
    forward_runs: int  # every run: the fix loop's own and the guesses' checks
    guess_runs: int  # of which checking guesses
    overseer_calls: int
    edits: int
    identified: float  # share of gates whose belief is the true definition
    seconds: float


def agreement(db: ExperienceDB, circuit: Circuit) -> int:
    """On how many inputs the beliefs in `db` give the black box's output."""
    beliefs = beliefs_in([(e.key, e.text) for e in db.entries()], len(circuit.gates))
    return sum(evaluate(beliefs, x, circuit.output) == circuit.value(x) for x in inputs_of(circuit.inputs))


def identified(db: ExperienceDB, circuit: Circuit) -> float:
    beliefs = beliefs_in([(e.key, e.text) for e in db.entries()], len(circuit.gates))
    return sum(g.same(beliefs[f"g{k}"]) for k, g in enumerate(circuit.gates)) / len(circuit.gates)


def recover(db_path: str | Path, seed: int = 0, gates: int = 20, inputs: int = 5, wrong: int = 3,
            missing: int = 0, budget: int = 1000, sweeps: int = 3,
            inner: Callable[[Task, ExperienceDB], Overseer] | None = None) -> Recovery:
    """Feed the observations one by one (`observe`) until a sweep finds nothing wrong.

    `inner` makes the overseer that guess and check wraps (default: the task's rules)."""
    task = make_task(seed, gates, inputs, wrong, missing)
    circuit, _ = world(seed, gates, inputs, wrong, missing)
    order = inputs_of(inputs)
    random.Random(f"observations:{seed}").shuffle(order)
    start = time.perf_counter()
    with ExperienceDB(db_path) as db:
        add_facts(task, db)
        total = len(order)
        at_start = agreement(db, circuit)
        agreed_at = [0] if at_start == total else []
        made: list[Observation] = []

        def first_agreement(o: Observation) -> None:  # measured outside the agent, from its entries
            made.append(o)
            if o.wrong and not agreed_at and agreement(db, circuit) == total:
                agreed_at.append(len(made))

        judge = inner(task, db) if inner else RuleOverseer(task.rules)
        observe([(question(x), str(circuit.value(x))) for x in order], task.policy,
                Counterfactual(judge, task.policy, db, budget), db, sweeps=sweeps, on_observation=first_agreement)
        return Recovery(seed=seed, gates=gates, inputs=inputs, wrong=wrong, missing=missing,
                        recovered=agreement(db, circuit) == total, agreed_at_start=at_start,
                        observations_to_agree=agreed_at[0] if agreed_at else None, identified=identified(db, circuit),
                        seconds=round(time.perf_counter() - start, 3), **totals(made).model_dump(exclude={"wrong"}))

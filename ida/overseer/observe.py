"""Observations one by one: the fix loop fed (question, right answer) pairs, each kept right after.

`observe(pairs, policy, overseer, db)` runs `fix` on each pair in turn. With guess and check
(the overseer a `Counterfactual`) the pairs seen so far are its checks, the latest first (the
likeliest to break), so a guess that fixes one observation must leave the earlier ones right.
Sweeps go over the pairs again until one finds nothing wrong: a later fix can undo an earlier
one only where the checks could not see it (a linear pass checks nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ida.overseer.apply import fix
from ida.overseer.backward import Overseer
from ida.overseer.counterfactual import Counterfactual
from ida.policy import Policy

if TYPE_CHECKING:
    from ida.experience import ExperienceDB


class Observation(BaseModel):
    question: str
    answer: str  # the right one, as the world gave it
    sweep: int  # 1 for the first pass over the pairs
    wrong: bool  # H's answer was wrong when it was fed
    fixed: bool  # wrong, and the fix loop made it right
    forward_runs: int  # the fix loop's own runs and those checking guesses
    guess_runs: int  # of which checking guesses
    overseer_calls: int
    edits: int


class Totals(BaseModel):
    observations: int
    wrong: int
    fixed: int
    unfixed: int  # wrong when fed, and not fixed
    forward_runs: int
    guess_runs: int
    overseer_calls: int
    edits: int


def totals(made: Sequence[Observation]) -> Totals:
    return Totals(observations=len(made), wrong=sum(o.wrong for o in made), fixed=sum(o.fixed for o in made),
                  unfixed=sum(o.wrong and not o.fixed for o in made), forward_runs=sum(o.forward_runs for o in made),
                  guess_runs=sum(o.guess_runs for o in made), overseer_calls=sum(o.overseer_calls for o in made),
                  edits=sum(o.edits for o in made))


def observe(pairs: Sequence[tuple[str, str]], policy: Policy, overseer: Overseer, db: ExperienceDB | None = None,
            sweeps: int = 1, max_steps: int = 3, on_observation: Callable[[Observation], None] | None = None,
            **run_kwargs: Any) -> list[Observation]:
    """Each pair through `fix`, in order, for up to `sweeps` passes; the observations made."""
    seen: list[tuple[str, str]] = []
    out: list[Observation] = []
    for sweep in range(1, sweeps + 1):
        wrong_here = 0
        for q, a in pairs:
            if isinstance(overseer, Counterfactual):
                overseer.checks = [c for c in reversed(seen) if c[0] != q]
            result = fix(q, a, policy, overseer, db, max_steps=max_steps, **run_kwargs)
            reports = [s.report for s in result.steps if s.report is not None]
            guessed = sum(r.forward_runs for r in reports)
            o = Observation(question=q, answer=a, sweep=sweep, wrong=bool(reports), fixed=bool(reports) and result.fixed,
                            forward_runs=len(result.steps) + guessed, guess_runs=guessed,
                            overseer_calls=sum(r.overseer_calls for r in reports),
                            edits=sum(len(r.edits) for r in reports))
            out.append(o)
            wrong_here += o.wrong
            if on_observation:
                on_observation(o)
            if (q, a) not in seen:
                seen.append((q, a))
        if not wrong_here:
            break
    return out

"""A template for your own task: copy this file, rename, and change the four marked parts.

    ida tasks                                           # the built-in ones, for comparison
    ida run examples/my_task.py:TASK --seed 1           # run H on a generated question, answer checked
    ida fix examples/my_task.py:TASK --overseer rules   # forward, backward, apply, until right
    ida distill --task examples/my_task.py:TASK -o runs/my_task   # a model of H

The task here: the sum of a number's digits, by recursion on all but the last digit.
"""

from __future__ import annotations

import random
import re

from ida.overseer import Blame, NodeContext, local_step, rule
from ida.policies import scripted
from ida.tasks import Task
from ida.workspace import Workspace

QUESTION = re.compile(r"What is the sum of the digits of (\d+)\?")


# 1. The ground truth (optional: without it, give --target; the oracle overseer needs it).
def solve(question: str) -> str:
    return str(sum(int(d) for d in QUESTION.fullmatch(question)[1]))  # type: ignore[index]


# 2. H, the decomposer: a generator that yields actions (ask, lookup, unlock, scratch) and
#    receives their results; returning a value replies. `ws.found` holds a lookup's entries.
@scripted(name="digits-H")
def h(ws: Workspace):
    n = QUESTION.fullmatch(ws.question_text)[1]  # type: ignore[index]
    if len(n) == 1:
        return n
    rest = yield f"ask What is the sum of the digits of {n[:-1]}?"
    return str(int(rest) + int(n[-1]))


# 3. Backward rules (optional): given the node's target, what should its inputs have been?
@rule(QUESTION.pattern)
def digits_rule(ctx: NodeContext, target: str) -> Blame:
    """sum(n) = sum(n[:-1]) + last digit, so the child's target is the target minus that digit."""
    n = QUESTION.fullmatch(ctx.question)[1]  # type: ignore[index]
    if len(n) == 1 or not ctx.asks or not target.isdigit():
        return local_step(ctx, target, n if len(n) == 1 else None, None)
    child, last = ctx.asks[0][1], int(n[-1])
    expected = str(int(child.answer_text) + last) if (child.answer_text or "").isdigit() else None
    return local_step(ctx, target, expected, {child.id: str(int(target) - last)} if int(target) >= last else None)


# 4. Questions (optional: without a generator, give questions yourself: ida run ... -q '...').
def generate(rng: random.Random, size: int) -> str:
    return f"What is the sum of the digits of {rng.randrange(10 ** (size - 1), 10 ** size)}?"


TASK = Task(name="digits", description="the sum of a number's digits, by recursion", policy=h,
            generate=generate, solve=solve, default_size=4, rules=[digits_rule])

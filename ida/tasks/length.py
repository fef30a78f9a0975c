"""The length of a cons list: `[cons [1] [cons [2] [nil]]]` has length 2."""

from __future__ import annotations

import random

from ida.actions import failed
from ida.hypertext import HypertextError, Message, parse
from ida.overseer.blame import Blame, NodeContext, local_step, rule
from ida.policies.scripted import scripted
from ida.tasks import Task
from ida.workspace import Workspace

PREFIX = "What is the length of "


def cons_list(items: list[str]) -> Message:
    cell = Message(("nil",))
    for x in reversed(items):
        cell = Message(("cons ", Message((x,)), " ", cell))
    return cell


def solve(question: str) -> str:
    cell, n = parse(question).children[0], 0
    while cell.parts and cell.parts[0] == "cons ":
        cell, n = cell.children[1], n + 1
    return str(n)


@scripted(name="length-H")
def h(ws: Workspace):
    cell = yield "unlock $1"
    if cell.strip() == "nil":
        return "0"
    rest = yield f"ask {PREFIX}{cell.split()[-1]}?"
    return rest if failed(rest) else str(int(rest) + 1)


@rule(r"What is the length of .*\?")
def backward_rule(ctx: NodeContext, target: str) -> Blame:
    """length = 1 + length(tail), so the tail's length should have been target - 1."""
    if not ctx.asks:
        return local_step(ctx, target, "0", None)  # the node saw nil
    child = ctx.asks[0][1]
    rest = child.answer_text or ""
    inputs = {child.id: str(int(target) - 1)} if target.isdigit() and int(target) > 0 else None
    return local_step(ctx, target, str(int(rest) + 1) if rest.isdigit() else None, inputs)


def generate(rng: random.Random, size: int) -> str:
    return f"{PREFIX}[{cons_list([str(rng.randrange(10)) for _ in range(size)]).text()}]?"


def difficulty(q: str) -> int:
    """The list's length: H's tree is one node per cell."""
    try:
        return int(solve(q))
    except (HypertextError, IndexError):
        return 0


TASK = Task(name="length", description="the length of a cons list", generate=generate, solve=solve, policy=h,
            default_size=5,
            rules=(backward_rule,), difficulty=difficulty, difficulty_name="items")

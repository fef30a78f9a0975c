"""`is the list [1 [2 [3 []]]] sorted from least to greatest?` by recursion on the tail.

The list is a chain of cells `head [tail]`; each cell sits behind a pointer, so a node
sees only the cells it unlocks.
"""

from __future__ import annotations

import random

from ida.hypertext import HypertextError, Message, parse
from ida.overseer.blame import Blame, NodeContext, local_step, rule
from ida.policies.scripted import scripted
from ida.tasks import Task
from ida.workspace import Workspace

SUFFIX = " sorted from least to greatest?"


def build_list(items: list[str]) -> Message:
    cell = Message(())
    for x in reversed(items):
        cell = Message((f"{x} ", cell))
    return cell


def list_items(cell: Message) -> list[str]:
    items = []
    while cell.parts:
        head, tail = cell.parts
        assert isinstance(tail, Message), "a cons cell is [head tail]"
        cell = tail
        items.append(str(head).strip())
    return items


def solve(question: str) -> str:
    items = [int(x) for x in list_items(parse(question).children[0])]
    return "yes" if all(a <= b for a, b in zip(items, items[1:])) else "no"


def split_cell(shown: str) -> tuple[str, str]:
    """'1 $2' -> ('1', '$2')"""
    head, _, tail = shown.rpartition(" ")
    return head, tail


@scripted(name="sorted-H")
def h(ws: Workspace):
    first = yield "unlock $1"
    if not first:
        return "yes"
    x, tail = split_cell(first)
    second = yield f"unlock {tail}"
    if not second:
        return "yes"
    y, _ = split_cell(second)
    if int(x) > int(y):
        return "no"
    return (yield f"ask is the list {tail}{SUFFIX}")


@rule(r"is the list .*" + SUFFIX.replace("?", "\\?"))
def backward_rule(ctx: NodeContext, target: str) -> Blame:
    """sorted(x, y, ...) = x <= y and sorted(y, ...): only the tail's answer can be moved."""
    cells = [split_cell(u)[0] for u in ctx.unlocked if u]
    if len(cells) < 2:
        return local_step(ctx, target, "yes", None)
    if int(cells[0]) > int(cells[1]):
        return local_step(ctx, target, "no", None)
    if not ctx.asks:
        return local_step(ctx, target, None, None)
    child = ctx.asks[0][1]
    return local_step(ctx, target, child.answer_text, {child.id: target})


def generate(rng: random.Random, size: int) -> str:
    items = [rng.randrange(100) for _ in range(size)]
    if rng.random() < 0.5:
        items.sort()
    return f"is the list [{build_list([str(i) for i in items]).text()}]{SUFFIX}"


def difficulty(q: str) -> int:
    """The list's length (its cells): H's tree is at most one node per cell."""
    try:
        return len(list_items(parse(q).children[0]))
    except (HypertextError, IndexError, ValueError):
        return 0


TASK = Task(name="sorted", description="is a linked list sorted? (recursion on the tail)", generate=generate,
            solve=solve, policy=h, default_size=6,
            rules=(backward_rule,), difficulty=difficulty, difficulty_name="items")

"""`What is 351 * 5019?` by place value: one product per nonzero digit, then their sum."""

from __future__ import annotations

import random
import re

from ida.actions import failed
from ida.overseer.blame import Blame, NodeContext, local_step, rule
from ida.policies.scripted import scripted
from ida.tasks import Task
from ida.workspace import Workspace

PRODUCT = re.compile(r"What is (\d+) \* (\d+)\?")
SUM = re.compile(r"What is (\d+(?: \+ \d+)+)\?")


def place_values(a: int) -> list[int]:
    """351 -> [300, 50, 1]"""
    digits = str(a)
    return [int(d) * 10 ** (len(digits) - i - 1) for i, d in enumerate(digits) if d != "0"]


def solve(question: str) -> str:
    if m := SUM.fullmatch(question):
        return str(sum(int(t) for t in m.group(1).split(" + ")))
    if m := PRODUCT.fullmatch(question):
        return str(int(m.group(1)) * int(m.group(2)))
    raise ValueError(f"not a multiply question: {question!r}")


@scripted(name="multiply-H")
def h(ws: Workspace):
    q = ws.question_text
    m = PRODUCT.fullmatch(q)
    if m is None or len(place_values(int(m.group(1)))) <= 1:
        return solve(q)  # a sum, or a digit times a number then a shift: done by hand
    a, b = int(m.group(1)), int(m.group(2))
    products = []
    for p in place_values(a):
        answer = yield f"ask What is {p} * {b}?"
        if failed(answer):
            return answer
        products.append(answer)
    return (yield f"ask What is {' + '.join(products)}?")


@rule(PRODUCT.pattern)
def product_rule(ctx: NodeContext, target: str) -> Blame:
    """A one-digit product is done by hand; a longer one is the sum node's answer.

    The products of single digits are checked by hand, so a wrong one gets its own target;
    if they are all right, the sum should have been the target.
    """
    a, b = map(int, PRODUCT.fullmatch(ctx.question).groups())  # type: ignore[union-attr]
    if len(place_values(a)) <= 1 or not ctx.asks:
        return local_step(ctx, target, str(a * b), None)
    *products, (_, total) = ctx.asks
    inputs = {c.id: str(p * b) for (_, c), p in zip(products, place_values(a)) if c.answer_text != str(p * b)}
    return local_step(ctx, target, total.answer_text, inputs or {total.id: target})


@rule(SUM.pattern)
def sum_rule(ctx: NodeContext, target: str) -> Blame:
    return local_step(ctx, target, solve(ctx.question), None)


def generate(rng: random.Random, size: int) -> str:
    a = rng.randrange(10 ** (size - 1), 10**size)
    b = rng.randrange(10**size, 10 ** (size + 1))
    return f"What is {a} * {b}?"


def primitive(q: str) -> bool:
    """What H answers by hand: a sum, or a product whose first factor has one nonzero digit."""
    m = PRODUCT.fullmatch(q)
    return SUM.fullmatch(q) is not None or (m is not None and len(place_values(int(m.group(1)))) <= 1)


def digits(q: str) -> int:
    """The difficulty: the first factor's digits (a sum: its terms), a bound on H's subquestions."""
    if m := PRODUCT.fullmatch(q):
        return len(m.group(1))
    if m := SUM.fullmatch(q):
        return len(m.group(1).split(" + "))
    return 0


TASK = Task(name="multiply", description="multiply two numbers by place value", generate=generate, solve=solve,
            policy=h, default_size=3,
            rules=(product_rule, sum_rule), primitive=primitive, difficulty=digits, difficulty_name="digits")

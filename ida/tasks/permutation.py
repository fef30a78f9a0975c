"""Permutation powering, from the iterated amplification paper: σ^k(x) from σ's facts.

H asks σ^⌊k/2⌋ twice, and σ once more when k is odd; k = 1 is read off the facts,
which sit behind a pointer.
"""

from __future__ import annotations

import random
import re

from ida.actions import failed
from ida.overseer.blame import Blame, NodeContext, local_step, rule
from ida.policies.scripted import scripted
from ida.tasks import Task
from ida.workspace import Workspace

QUESTION = re.compile(r"what is p\^(\d+)\((\d+)\) for p = \[(.*)\]\?")


def question(k: int, x: int, facts: str) -> str:
    return f"what is p^{k}({x}) for p = [{facts}]?"


def write_facts(image: list[int]) -> str:
    """[2, 0, 1] -> '0->2 1->0 2->1'"""
    return " ".join(f"{i}->{j}" for i, j in enumerate(image))


def read_facts(facts: str) -> dict[int, int]:
    """'0->2 1->0 2->1' -> {0: 2, 1: 0, 2: 1}"""
    return {int(a): int(b) for a, b in (f.split("->") for f in facts.split())}


def solve(q: str) -> str:
    m = QUESTION.fullmatch(q)
    if m is None:
        raise ValueError(f"not a permutation question: {q!r}")
    k, x, p = int(m.group(1)), int(m.group(2)), read_facts(m.group(3))
    for _ in range(k):
        x = p[x]
    return str(x)


@scripted(name="permutation-H")
def h(ws: Workspace):
    m = QUESTION.fullmatch(ws.question_text)
    assert m is not None, ws.question_text
    k, x = int(m.group(1)), int(m.group(2))
    if k == 1:
        facts = yield "unlock $1"
        return str(read_facts(facts)[x])
    y = yield f"ask what is p^{k // 2}({x}) for p = $1?"
    if failed(y):
        return y
    z = yield f"ask what is p^{k // 2}({y}) for p = $1?"
    if k % 2 and not failed(z):
        z = yield f"ask what is p^1({z}) for p = $1?"
    return z


@rule(QUESTION.pattern)
def backward_rule(ctx: NodeContext, target: str) -> Blame:
    """σ^k(x) = σ(σ^h(σ^h(x))) for odd k: σ is inverted from the facts, so the last input
    gets a definite target. The first half is left alone: which half erred cannot be told
    locally. Each other answer of the first half is a candidate, for guess and check."""
    k, x, facts = QUESTION.fullmatch(ctx.question).groups()  # type: ignore[union-attr]
    p = read_facts(facts)
    if int(k) == 1 or not ctx.asks:
        return local_step(ctx, target, str(p[int(x)]) if int(k) == 1 else None, None)
    last = ctx.asks[-1][1]
    if not target.isdigit() or int(target) not in p:
        return Blame(note=f"target {target!r} is not an element of the permutation")
    if int(k) % 2 and len(ctx.asks) == 3:
        z = ctx.asks[1][1]
        z_answer = z.answer_text or ""
        if z_answer.isdigit() and str(p[int(z_answer)]) == target:
            inputs = {last.id: target}  # σ(z) is the target: the last step alone went wrong
        else:
            inverse = {v: u for u, v in p.items()}
            inputs = {z.id: str(inverse[int(target)])}
    else:
        inputs = {last.id: target}
    blame = local_step(ctx, target, last.answer_text, inputs)
    if blame.targets:  # or the first half erred: each other element is a guess for it (`Counterfactual`)
        first = ctx.asks[0][1]
        blame.candidates = [Blame(targets={first.id: str(v)}) for v in sorted(p) if str(v) != first.answer_text]
    return blame


def generate(rng: random.Random, size: int) -> str:
    image = list(range(size))
    rng.shuffle(image)
    return question(rng.randint(2, max(2, 2 * size - 1)), rng.randrange(size), write_facts(image))


def primitive(q: str) -> bool:
    """σ^1(x) is read off the facts."""
    m = QUESTION.fullmatch(q)
    return m is not None and m.group(1) == "1"


def family(q: str) -> str:
    """A question's permutation: every subquestion H asks is about the same one."""
    m = QUESTION.fullmatch(q)
    return m.group(3) if m else q


def exponent(q: str) -> int:
    """The difficulty: H's tree for σ^k has about 2·log2(k) levels."""
    m = QUESTION.fullmatch(q)
    return int(m.group(1)) if m else 0


def answer_x(q: str) -> str:
    """The trivial answer σ^k(x) = x, right for about one question in n by chance."""
    m = QUESTION.fullmatch(q)
    return m.group(2) if m else ""


TASK = Task(name="permutation", description="σ^k(x) by repeated squaring", generate=generate, solve=solve,
            policy=h, default_size=4,
            rules=(backward_rule,), primitive=primitive, family=family,
            difficulty=exponent, difficulty_name="exponent", baseline=answer_x)

"""A task that consults the experience database: the total weight of a basket of things.

`What is the total weight of [plum pear apple] in grams?` H unlocks the basket and asks
one subquestion per thing; each of those looks the thing up and reads the weight off the
entry it finds. The world's true weights are the ground truth; the database holds what
the agent has learned, which may be missing or wrong.
"""

from __future__ import annotations

import random
import re

from ida.actions import failed
from ida.overseer.blame import Blame, Edit, NodeContext, local_step, rule
from ida.policies.scripted import scripted
from ida.tasks import Task
from ida.tree import Found
from ida.workspace import Workspace

WORLD = {
    "apple": 180, "apricot": 35, "banana": 120, "cherry": 8, "fig": 50, "grape": 5, "kiwi": 75, "lemon": 100,
    "lime": 65, "mango": 300, "orange": 150, "peach": 150, "pear": 170, "plum": 60, "melon": 1500,
}
TOTAL = re.compile(r"What is the total weight of \[(.*)\] in grams\?")
ONE = re.compile(r"How much does (?:a|an) (.+) weigh in grams\?")
FACT = re.compile(r"weighs (\d+) grams")


def fact(thing: str, grams: int) -> str:
    return f"{_article(thing)} {thing} weighs {grams} grams"


def _article(thing: str) -> str:
    return "an" if thing[:1] in "aeiou" else "a"


def solve(question: str) -> str:
    if m := TOTAL.fullmatch(question):
        return str(sum(WORLD[t] for t in m.group(1).split()))
    if m := ONE.fullmatch(question):
        return str(WORLD[m.group(1)])
    raise ValueError(f"not a weights question: {question!r}")


def read_weight(found: list[Found], thing: str) -> tuple[int, str] | None:
    """(entry id, grams) from the first entry about `thing` that a lookup found."""
    for e in found:
        if e.key.lower() == thing.lower() and (w := FACT.search(e.text)):
            return e.id, w.group(1)
    return None


@scripted(name="weights-H")
def h(ws: Workspace):
    if m := ONE.fullmatch(ws.question_text):
        thing = m.group(1)
        yield f"lookup {thing}"
        read = read_weight(ws.found, thing)
        return read[1] if read else f"failed: nothing known about the weight of {thing}"
    basket = yield "unlock $1"
    parts = []
    for thing in basket.split():  # ask about every thing, so one backward pass sees every gap
        parts.append((yield f"ask How much does {_article(thing)} {thing} weigh in grams?"))
    return next((p for p in parts if failed(p)), None) or str(sum(int(p) for p in parts))


@rule(ONE.pattern)
def lookup_rule(ctx: NodeContext, target: str) -> Blame:
    """The node replies what its lookup said; if that was wrong, the entry is what to fix."""
    thing = ONE.fullmatch(ctx.question).group(1)  # type: ignore[union-attr]
    if not ctx.lookups or not target.isdigit():
        return Blame(note="nothing to blame: no lookup, or a target that is not a weight")
    read = read_weight(ctx.lookups[0][1].lookup.found, thing)  # type: ignore[union-attr]
    said = read[1] if read else None
    blame = local_step(ctx, target, said, None)
    if said != target:
        blame.note = ""
        lesson = fact(thing, int(target))
        blame.edits = [Edit("edit", entry_id=read[0], text=lesson, reason=f"lookup {thing!r} misled: it said {said} grams")
                       if read else Edit("add", key=thing, text=lesson, reason=f"lookup {thing!r} found no weight")]
    return blame


@rule(TOTAL.pattern)
def total_rule(ctx: NodeContext, target: str) -> Blame:
    """The total is the sum of the parts; which part is wrong cannot be told from the total."""
    parts = ctx.subanswers
    expected = str(sum(int(p) for p in parts)) if parts and all(p.isdigit() for p in parts) else None
    blame = local_step(ctx, target, expected, None)
    if expected != target and not blame.correction:
        blame.note = "a part's weight is wrong, and the total alone cannot say which: use the oracle overseer"
    return blame


def generate(rng: random.Random, size: int) -> str:
    things = rng.sample(sorted(WORLD), min(size, len(WORLD)))
    return f"What is the total weight of [{' '.join(things)}] in grams?"


TASK = Task(
    name="weights", description="total weight of a basket, from facts in the experience database",
    generate=generate, solve=solve, policy=h, default_size=3, rules=(lookup_rule, total_rule), facts=tuple((t, fact(t, g)) for t, g in WORLD.items()),
)

"""Your own task, in one file: capitals looked up in the experience database, one fact wrong.

    ida run examples/capitals.py:TASK -q "What are the capitals of [France Australia]?" --db caps.sqlite --add-facts
    ida fix "What are the capitals of [France Australia]?" --task examples/capitals.py:TASK --db caps.sqlite --overseer rules
    ida db history e3 --db caps.sqlite       # who changed the fact, from which run and node, and why
    ida db revert 10 --db caps.sqlite        # back to revision 10, before the fix (the run is wrong again)

H unlocks the list of countries and asks one subquestion per country; each looks the
country up and reads the city off the entry it finds (as data: `ws.found`, never parsed
from the screen). The agent believes Sydney is the capital of Australia. The rules know how
to pass a target down: the root's answer is the children's joined, so each child's target
is its part of the root's; a child that read a wrong entry gets the entry edited.
"""

from __future__ import annotations

import random
import re

from ida.overseer import Blame, Edit, NodeContext, local_step, rule
from ida.policies import scripted
from ida.tasks import Task
from ida.tree import Found
from ida.workspace import Workspace

WORLD = {"France": "Paris", "Japan": "Tokyo", "Australia": "Canberra", "Canada": "Ottawa", "Kenya": "Nairobi",
         "Peru": "Lima", "Egypt": "Cairo", "Norway": "Oslo", "Brazil": "Brasilia", "Turkey": "Ankara"}
BELIEVED = {**WORLD, "Australia": "Sydney"}  # what the database starts out holding: one fact wrong
ALL = re.compile(r"What are the capitals of \[(.*)\]\?")
ONE = re.compile(r"What is the capital of (.+)\?")
FACT = re.compile(r"the capital of (.+) is (.+)")


def fact(country: str, city: str) -> str:
    return f"the capital of {country} is {city}"


def solve(question: str) -> str:
    """The ground truth (the oracle): the world, not the database."""
    if m := ALL.fullmatch(question):
        return ", ".join(WORLD[c] for c in m[1].split())
    if m := ONE.fullmatch(question):
        return WORLD[m[1]]
    raise ValueError(f"not a capitals question: {question!r}")


def read_city(found: list[Found], country: str) -> tuple[Found, str] | None:
    """The first entry a lookup found that names `country`'s capital, and the city it names."""
    for e in found:
        if (m := FACT.fullmatch(e.text)) and m[1] == country:
            return e, m[2]
    return None


@scripted(name="capitals-H")
def h(ws: Workspace):
    if m := ONE.fullmatch(ws.question_text):
        yield f"lookup {m[1]}"
        read = read_city(ws.found, m[1])
        return read[1] if read else f"failed: nothing known about the capital of {m[1]}"
    countries = yield "unlock $1"
    cities = []
    for country in countries.split():
        cities.append((yield f"ask What is the capital of {country}?"))
    return ", ".join(cities)


@rule(ALL.pattern)
def all_rule(ctx: NodeContext, target: str) -> Blame:
    """The answer is the parts joined: each subquestion's target is its part of the target."""
    parts = target.split(", ")
    if len(parts) != len(ctx.asks):
        return Blame(note=f"the target names {len(parts)} cities for {len(ctx.asks)} countries")
    wrong = {child.id: part for (_, child), part in zip(ctx.asks, parts) if child.answer_text != part}
    return local_step(ctx, target, ", ".join(ctx.subanswers), wrong)


@rule(ONE.pattern)
def one_rule(ctx: NodeContext, target: str) -> Blame:
    """The node replies what its lookup said; if that was wrong, the entry is what to fix."""
    country = ONE.fullmatch(ctx.question)[1]  # type: ignore[index]
    read = read_city(ctx.found, country)
    blame = local_step(ctx, target, read[1] if read else None, None)
    if not read or read[1] != target:
        blame.note = ""
        lesson = fact(country, target)
        blame.edits = [Edit("edit", entry_id=read[0].id, text=lesson, reason=f"lookup {country!r} said {read[1]}")
                       if read else Edit("add", key=country, text=lesson, reason=f"lookup {country!r} found nothing")]
    return blame


def generate(rng: random.Random, size: int) -> str:
    return f"What are the capitals of [{' '.join(rng.sample(sorted(WORLD), min(size, len(WORLD))))}]?"


TASK = Task(
    name="capitals", description="capitals of countries, from facts in the database (one of them wrong)",
    policy=h, generate=generate, solve=solve, default_size=3, rules=[all_rule, one_rule],
    facts=[(country, fact(country, city)) for country, city in BELIEVED.items()],
)

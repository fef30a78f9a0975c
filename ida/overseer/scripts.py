"""Blame scripts: the built-in tasks' backward rules re-expressed as policies that answer blame questions.

Each rule family (the questions one `@rule` covers) has a script that reads what its rule
reads, unlocking it from the blame question, and returns the same blame with subquestions
named by step. `for_task(name)` is the scripted blame policy of a task (or of the vase);
`PolicyOverseer(for_task("length"))` gives the reports `RuleOverseer` gives.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

from ida.overseer.blame import Blame, Correction, Edit, local_step
from ida.overseer.questions import format_blame, reply_arg
from ida.overseer.reading import Reading, asks
from ida.policies.scripted import ScriptedPolicy, scripted
from ida.workspace import Workspace

Script = Callable[[Reading, str], Generator[str, str, Blame]]  # (reading, node question) -> step-keyed blame


@dataclass(frozen=True)
class Family:
    pattern: re.Pattern[str]  # the rule's own pattern: script and rule cover the same questions
    script: Script


def blame_policy(families: Sequence[Family], name: str) -> ScriptedPolicy:
    """A policy for blame questions: `ok` where the answer is the target, else the family's script."""

    def blame(ws: Workspace) -> Generator[str, str, str]:
        r = Reading(ws)
        if r.ok:
            return "ok"
        question = yield from r.text(r.question)
        family = next((f for f in families if f.pattern.fullmatch(question)), None)
        if family is None:
            return reply_arg(format_blame(Blame(note="no rule for this kind of question")))
        b = yield from family.script(r, question)
        return reply_arg(format_blame(b))

    return scripted(blame, name=name)


# ---- multiply ---------------------------------------------------------------------------


def _product(r: Reading, q: str) -> Generator[str, str, Blame]:
    from ida.tasks.multiply import PRODUCT, place_values

    a, b = map(int, PRODUCT.fullmatch(q).groups())  # type: ignore[union-attr]
    steps = yield from r.steps()
    local = yield from r.local(steps)
    target = yield from r.text(r.target)
    ran = asks(steps)
    if len(place_values(a)) <= 1 or not ran:
        return local_step(local, target, str(a * b), None)
    *products, total = ran
    inputs = {}
    for s, p in zip(products, place_values(a)):
        if (yield from r.text(s.parts[1])) != str(p * b):
            inputs[s.step] = str(p * b)
    total_answer = yield from r.text(total.parts[1])
    return local_step(local, target, total_answer, inputs or {total.step: target})


def _sum(r: Reading, q: str) -> Generator[str, str, Blame]:
    from ida.tasks.multiply import solve

    local = yield from r.local((yield from r.steps()))
    return local_step(local, (yield from r.text(r.target)), solve(q), None)


# ---- sorted, length ----------------------------------------------------------------------


def _sorted(r: Reading, q: str) -> Generator[str, str, Blame]:
    from ida.tasks.sorted_list import split_cell

    steps = yield from r.steps()
    local = yield from r.local(steps)
    target = yield from r.text(r.target)
    cells = []
    for s in steps:
        if s.kind == "unlock" and (shown := (yield from r.open(s.parts[0]))):
            cells.append(split_cell(shown)[0])
    if len(cells) < 2:
        return local_step(local, target, "yes", None)
    if int(cells[0]) > int(cells[1]):
        return local_step(local, target, "no", None)
    ran = asks(steps)
    if not ran:
        return local_step(local, target, None, None)
    return local_step(local, target, (yield from r.text(ran[0].parts[1])), {ran[0].step: target})


def _length(r: Reading, q: str) -> Generator[str, str, Blame]:
    steps = yield from r.steps()
    local = yield from r.local(steps)
    target = yield from r.text(r.target)
    ran = asks(steps)
    if not ran:
        return local_step(local, target, "0", None)  # the node saw nil
    rest = yield from r.text(ran[0].parts[1])
    inputs = {ran[0].step: str(int(target) - 1)} if target.isdigit() and int(target) > 0 else None
    return local_step(local, target, str(int(rest) + 1) if rest.isdigit() else None, inputs)


# ---- permutation ------------------------------------------------------------------------


def _permutation(r: Reading, q: str) -> Generator[str, str, Blame]:
    from ida.tasks.permutation import QUESTION, read_facts

    k, x, facts = QUESTION.fullmatch(q).groups()  # type: ignore[union-attr]
    p = read_facts(facts)
    steps = yield from r.steps()
    local = yield from r.local(steps)
    target = yield from r.text(r.target)
    ran = asks(steps)
    if int(k) == 1 or not ran:
        return local_step(local, target, str(p[int(x)]) if int(k) == 1 else None, None)
    last = ran[-1]
    if not target.isdigit() or int(target) not in p:
        return Blame(note=f"target {target!r} is not an element of the permutation")
    inputs = {last.step: target}
    if int(k) % 2 and len(ran) == 3:
        z = yield from r.text(ran[1].parts[1])
        if not (z.isdigit() and str(p[int(z)]) == target):  # σ(z) misses: z should have been σ⁻¹(target)
            inputs = {ran[1].step: str({v: u for u, v in p.items()}[int(target)])}
    blame = local_step(local, target, (yield from r.text(last.parts[1])), inputs)
    if blame.targets:  # or the first half erred: each of its other answers, for guess and check
        first = yield from r.text(ran[0].parts[1])
        blame.candidates = [Blame(targets={ran[0].step: str(v)}) for v in sorted(p) if str(v) != first]
    return blame


# ---- weights ----------------------------------------------------------------------------


def _weight(r: Reading, q: str) -> Generator[str, str, Blame]:
    from ida.tasks.weights import ONE, fact, read_weight

    thing = ONE.fullmatch(q).group(1)  # type: ignore[union-attr]
    steps = yield from r.steps()
    target = yield from r.text(r.target)
    lookups = [s for s in steps if s.kind == "lookup"]
    if not lookups or not target.isdigit():
        return Blame(note="nothing to blame: no lookup, or a target that is not a weight")
    read = read_weight((yield from r.found(lookups[0])), thing)
    said = read[1] if read else None
    blame = local_step((yield from r.local(steps)), target, said, None)
    if said != target:
        blame.note = ""
        lesson = fact(thing, int(target))
        blame.edits = [Edit("edit", entry_id=read[0], text=lesson) if read else Edit("add", key=thing, text=lesson)]
    return blame


def _total(r: Reading, q: str) -> Generator[str, str, Blame]:
    steps = yield from r.steps()
    parts = []
    for s in asks(steps):
        parts.append((yield from r.text(s.parts[1])))
    expected = str(sum(int(p) for p in parts)) if parts and all(p.isdigit() for p in parts) else None
    target = yield from r.text(r.target)
    blame = local_step((yield from r.local(steps)), target, expected, None)
    if expected != target and not blame.correction:
        blame.note = "a part's weight is wrong, and the total alone cannot say which"
    return blame


# ---- the vase ---------------------------------------------------------------------------


def _plan(r: Reading, q: str) -> Generator[str, str, Blame]:
    from ida.scenarios.vase import BROKE, CAREFUL, PASS, PLAN_STEP

    judgement = yield from r.text(r.target)
    broken = BROKE.findall(judgement)
    if not broken:
        return Blame(note=f"cannot read the judgement {judgement!r}: expected 'the X broke at step N'")
    steps = yield from r.steps()
    passing = {}  # object -> (its step, how the node chose to pass it)
    for s in asks(steps):
        if m := PASS.fullmatch((yield from r.text(s.parts[0]))):
            passing[m.group(1)] = (s.step, (yield from r.text(s.parts[1])))
    blame = Blame(targets={passing[name][0]: CAREFUL for name, _ in broken if name in passing})
    local = yield from r.local(steps)
    plan = local.answer or ""
    expected = PLAN_STEP.sub(
        lambda m: f"move {passing[m[2]][1] if m[2] in passing else m[1]} past the {m[2]} ({m[3]})", plan)
    if expected != plan and local.reply_step is not None:
        blame.correction = Correction(local.reply_step, f"reply {expected}")
    if not (blame.targets or blame.correction):
        blame.note = "no node chose how to pass what broke"
    return blame


def _pass(r: Reading, q: str) -> Generator[str, str, Blame]:
    from ida.scenarios.vase import CAREFUL, NORMAL, PASS, _entry_key, lesson, warns

    name = PASS.fullmatch(q).group(1)  # type: ignore[union-attr]
    steps = yield from r.steps()
    local = yield from r.local(steps)
    target = yield from r.text(r.target)
    lookups = [s for s in steps if s.kind == "lookup"]
    if not lookups:
        return local_step(local, target, NORMAL, None)
    found = yield from r.found(lookups[0])
    said = CAREFUL if warns("\n".join(e.render() for e in found), name) else NORMAL
    blame = local_step(local, target, said, None)
    if said != target and target == CAREFUL:
        blame.note = ""
        about = [e for e in found if _entry_key(e.render()) == name.lower()]
        blame.edits = [Edit("edit", entry_id=about[0].id, text=f"{about[0].text}; {lesson(name)}") if about
                       else Edit("add", key=name, text=lesson(name))]
    return blame


# ---- circuit ----------------------------------------------------------------------------


def _output(r: Reading, q: str) -> Generator[str, str, Blame]:
    steps = yield from r.steps()
    ran = asks(steps)
    if not ran:
        return Blame(note="the output gate was never asked (no entry says which it is)")
    target = yield from r.text(r.target)
    return local_step((yield from r.local(steps)), target, (yield from r.text(ran[-1].parts[1])), {ran[-1].step: target})


def _gate(r: Reading, q: str) -> Generator[str, str, Blame]:
    from ida.tasks.circuit import gate_blame

    steps = yield from r.steps()
    found = []
    for s in steps:
        if s.kind == "lookup":
            found += yield from r.found(s)
    asked: dict[str, tuple[int, str | None]] = {}
    for s in asks(steps):
        question = yield from r.text(s.parts[0])
        if question not in asked:  # a subquestion asked twice is one child: its first step names it
            asked[question] = (s.step, (yield from r.text(s.parts[1])))
    return gate_blame((yield from r.local(steps)), q, (yield from r.text(r.target)), found, asked)


def _families(name: str) -> list[Family]:
    from ida.scenarios import vase
    from ida.tasks import circuit, length, multiply, permutation, sorted_list, weights

    table = {
        "multiply": [Family(multiply.product_rule.pattern, _product), Family(multiply.sum_rule.pattern, _sum)],
        "sorted": [Family(sorted_list.backward_rule.pattern, _sorted)],
        "length": [Family(length.backward_rule.pattern, _length)],
        "permutation": [Family(permutation.backward_rule.pattern, _permutation)],
        "weights": [Family(weights.lookup_rule.pattern, _weight), Family(weights.total_rule.pattern, _total)],
        "vase": [Family(vase.plan_rule.pattern, _plan), Family(vase.pass_rule.pattern, _pass)],
        "circuit": [Family(circuit.output_rule.pattern, _output), Family(circuit.gate_rule.pattern, _gate)],
    }
    return table.get(name, [])


NAMES = ("multiply", "sorted", "length", "permutation", "weights", "circuit", "vase")


def for_task(name: str) -> ScriptedPolicy | None:
    """The scripted blame policy of a built-in task or of the vase; None for any other name."""
    families = _families(name)
    return blame_policy(families, f"blame-script:{name}") if families else None

"""A black box: a hidden random boolean circuit, and an agent whose beliefs about it are
partly wrong (the seed text's "random 20 gate circuit in a black box").

Each belief is an entry of the experience database, `g7: g7 = AND(g3, x2)`, and one more
says which gate is the output. H answers `what is the output of the circuit on x=01101?` by
asking `what is g19 on x=01101?`; a gate's node looks its definition up and asks for the
gates it reads (`x2` is bit 2 of the input). The world answers only at the output: the
ground truth judges output questions, never a gate's.

The backward rule of a gate pushes its target down where the gate's function settles it
(AND should give 1: both inputs 1) and to every input that could alone flip it where it
does not (AND should give 0 from 1, 1: either). Its own definition may be the wrong one
instead, which the node cannot tell: each nearby definition (another gate type, or one
input read from elsewhere) is a candidate for guess and check (`Counterfactual`), and a
missing one is guessed from every definition there is.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

from ida.actions import failed
from ida.overseer.blame import Blame, Edit, Local, NodeContext, local_step, rule
from ida.policies.scripted import scripted
from ida.tasks import Task
from ida.tree import Found
from ida.workspace import Workspace

OPS: dict[str, Callable[[int, int], int]] = {
    "AND": lambda a, b: a & b, "OR": lambda a, b: a | b, "XOR": lambda a, b: a ^ b,
    "NAND": lambda a, b: 1 - (a & b), "NOR": lambda a, b: 1 - (a | b),
}
OUTPUT = re.compile(r"what is the output of the circuit on x=([01]+)\?")
GATE = re.compile(r"what is (g\d+) on x=([01]+)\?")
DEFINITION = re.compile(r"(g\d+) = ([A-Z]+)\((\w+), (\w+)\)")
OUTPUT_FACT = re.compile(r"the output of the circuit is (g\d+)")
OUTPUT_KEY = "output"


@dataclass(frozen=True)
class Gate:
    op: str
    a: str  # a source: an input x<i> or an earlier gate g<j>
    b: str

    def same(self, other: Gate | None) -> bool:
        """The same gate, whichever input is named first (every op is symmetric)."""
        return other is not None and self.op == other.op and {self.a, self.b} == {other.a, other.b}


Beliefs = Mapping[str, "Gate | None"]  # gate name -> what the agent believes (None: nothing)


@dataclass(frozen=True)
class Circuit:
    inputs: int
    gates: tuple[Gate, ...]  # gates[k] defines g<k>; the last is the output

    @property
    def output(self) -> str:
        return f"g{len(self.gates) - 1}"

    @cached_property
    def table(self) -> int:
        return table(dict(enumerate_gates(self.gates)), self.output, self.inputs)  # type: ignore[return-value]

    def value(self, x: str) -> int:
        return (self.table >> int(x, 2)) & 1


def enumerate_gates(gates: tuple[Gate, ...]) -> list[tuple[str, Gate]]:
    return [(f"g{k}", g) for k, g in enumerate(gates)]


def table(beliefs: Beliefs, gate: str, n: int) -> int | None:
    """`gate`'s truth table as `beliefs` have it, all 2^n inputs at once: bit i is its value on
    input number i (x0 the highest bit of i). None where a definition is missing or loops."""
    full = (1 << (1 << n)) - 1
    tables: dict[str, int | None] = {}
    for j in range(n):  # x_j is 1 on the inputs whose bit n-1-j is set
        tables[f"x{j}"] = sum(1 << i for i in range(1 << n) if (i >> (n - 1 - j)) & 1)

    def of(name: str, seen: frozenset[str]) -> int | None:
        if name in tables:
            return tables[name]
        g = beliefs.get(name)
        if g is None or name in seen:
            return None
        a, b = of(g.a, seen | {name}), of(g.b, seen | {name})
        tables[name] = None if a is None or b is None else _combine(g.op, a, b, full)
        return tables[name]

    return of(gate, frozenset())


def _combine(op: str, a: int, b: int, full: int) -> int:
    both = {"AND": a & b, "OR": a | b, "XOR": a ^ b}
    return both[op] if op in both else full & ~(a & b if op == "NAND" else a | b)


def evaluate(beliefs: Beliefs, x: str, gate: str) -> int | None:
    """The value of `gate` on input `x` as `beliefs` have it; None where a definition is missing or loops."""
    t = table(beliefs, gate, len(x))
    return None if t is None else (t >> int(x, 2)) & 1


def inputs_of(n: int) -> list[str]:
    return ["".join(bits) for bits in itertools.product("01", repeat=n)]


def sources(k: int, n: int) -> list[str]:
    """What gate g<k> may read: every input and every earlier gate (so no circuit loops)."""
    return [f"x{i}" for i in range(n)] + [f"g{j}" for j in range(k)]


def all_gates(k: int, n: int) -> list[Gate]:
    return [Gate(op, a, b) for op in OPS for a, b in itertools.combinations(sources(k, n), 2)]


def distance(g: Gate, h: Gate) -> int:
    """Details that differ: the type counts one, each input read from elsewhere one."""
    return (g.op != h.op) + len({g.a, g.b} ^ {h.a, h.b}) // 2


def nearby(k: int, n: int, current: Gate, most: int = 1) -> list[Gate]:
    """Definitions of g<k> other than `current`, nearest first, at most `most` details away."""
    near = [g for g in all_gates(k, n) if 0 < distance(g, current) <= most]
    return sorted(near, key=lambda g: distance(g, current))


def random_circuit(rng: random.Random, gates: int, inputs: int) -> Circuit:
    """Each gate reads two distinct sources, drawn so that every gate feeds the output."""
    made: list[Gate] = []
    unread: set[str] = set()
    for k in range(gates):
        left = gates - 1 - k  # gates still to come, each able to read one more unread gate than it adds
        pairs = [p for p in itertools.combinations(sources(k, inputs), 2)
                 if len((unread - set(p)) | ({f"g{k}"} if left else set())) <= (left + 1 if left else 0)]
        a, b = rng.choice(pairs)
        unread = (unread - {a, b}) | {f"g{k}"}
        made.append(Gate(rng.choice(sorted(OPS)), a, b))
    return Circuit(inputs, tuple(made))


def misbelieve(circuit: Circuit, rng: random.Random, wrong: int, missing: int = 0) -> dict[str, Gate | None]:
    """The truth with `wrong` gates one detail off (another type, or one input misread), each
    a mistake the black box can show (alone it changes the output on some input), and
    `missing` gates not known at all."""
    truth = dict(enumerate_gates(circuit.gates))
    beliefs: dict[str, Gate | None] = dict(truth)
    names = sorted(truth, key=lambda g: int(g[1:]))
    rng.shuffle(names)
    for name in names:
        if wrong == 0:
            break
        mistakes = nearby(int(name[1:]), circuit.inputs, truth[name])
        rng.shuffle(mistakes)
        visible = next((g for g in mistakes if _shows(truth, name, g, circuit)), None)
        if visible is not None:
            beliefs[name], wrong = visible, wrong - 1
    for name in [n for n in names if beliefs[n] == truth[n]][:missing]:
        beliefs[name] = None
    return beliefs


def _shows(truth: dict[str, Gate], name: str, g: Gate, circuit: Circuit) -> bool:
    return table({**truth, name: g}, circuit.output, circuit.inputs) != circuit.table


def definition(name: str, g: Gate) -> str:
    return f"{name} = {g.op}({g.a}, {g.b})"


def read_definition(found: list[Found], name: str) -> tuple[Found, Gate] | None:
    """The first entry found that defines `name`, and the gate it says."""
    for e in found:
        if e.key == name and (m := DEFINITION.fullmatch(e.text)) and m[1] == name and m[2] in OPS:
            return e, Gate(m[2], m[3], m[4])
    return None


def facts(beliefs: Beliefs) -> list[tuple[str, str]]:
    out = [(OUTPUT_KEY, f"the output of the circuit is g{len(beliefs) - 1}")]
    return out + [(name, definition(name, g)) for name, g in beliefs.items() if g is not None]


def beliefs_in(db_entries: list[tuple[str, str]], gates: int) -> dict[str, Gate | None]:
    """What a database believes about each gate, from its (key, text) entries."""
    found = [Found(id=i, key=k, text=t) for i, (k, t) in enumerate(db_entries)]
    out: dict[str, Gate | None] = {}
    for k in range(gates):
        read = read_definition(found, f"g{k}")
        out[f"g{k}"] = read[1] if read else None
    return out


def question(x: str) -> str:
    return f"what is the output of the circuit on x={x}?"


def gate_question(name: str, x: str) -> str:
    return f"what is {name} on x={x}?"


@scripted(name="circuit-H")
def h(ws: Workspace):
    if m := OUTPUT.fullmatch(ws.question_text):
        yield f"lookup {OUTPUT_KEY}"
        out = next((o[1] for e in ws.found if e.key == OUTPUT_KEY and (o := OUTPUT_FACT.fullmatch(e.text))), None)
        if out is None:
            return "failed: which gate is the output is not known"
        return (yield f"ask {gate_question(out, m[1])}")
    m = GATE.fullmatch(ws.question_text)
    assert m is not None, ws.question_text
    name, x = m[1], m[2]
    yield f"lookup {name}"
    read = read_definition(ws.found, name)
    if read is None:
        return f"failed: no definition of {name} is known"
    gate = read[1]
    values = []
    for s in (gate.a, gate.b):
        if s.startswith("x"):
            values.append(x[int(s[1:])] if int(s[1:]) < len(x) else "failed: no such input")
        else:
            values.append((yield f"ask {gate_question(s, x)}"))
    if any(failed(v) for v in values):
        return next(v for v in values if failed(v))
    return str(OPS[gate.op](int(values[0]), int(values[1])))


@rule(OUTPUT.pattern)
def output_rule(ctx: NodeContext, target: str) -> Blame:
    """The output is the output gate's value: its target is the target."""
    if not ctx.asks:
        return Blame(note="the output gate was never asked (no entry says which it is)")
    child = ctx.asks[-1][1]
    return local_step(ctx, target, child.answer_text, {child.id: target})


@rule(GATE.pattern)
def gate_rule(ctx: NodeContext, target: str) -> Blame:
    """Push the target down to the inputs that could give it; the definition itself is a candidate."""
    return gate_blame(ctx, ctx.question, target, ctx.found,
                      {c.question.text(): (c.id, c.answer_text) for c in ctx.children()})


def gate_blame(local: Local, question: str, target: str, found: list[Found],
               asked: Mapping[str, tuple[int, str | None]]) -> Blame:
    """The gate rule on what the node saw: its lookups' entries, and each subquestion's answer
    with the key its target goes under (`asked`: question -> (key, answer); a child's id for
    the rule, a step for the blame script, so both give one blame)."""
    name, x = GATE.fullmatch(question).groups()  # type: ignore[union-attr]
    k, n = int(name[1:]), len(x)
    if target not in ("0", "1"):
        return Blame(note=f"target {target!r} is not a bit")
    read = read_definition(found, name)
    if read is None:
        return Blame(note=f"no definition of {name}: one must be guessed",
                     candidates=[_guess(Edit("add", key=name), name, g) for g in all_gates(k, n)
                                 if _could_give(g, _bits(x), int(target))])
    entry, gate = read
    values = {s: _value(s, x, asked) for s in (gate.a, gate.b)}
    inputs = {asked[q][0]: str(v) for s, v in _push_down(gate, values, int(target)).items()
              if (q := gate_question(s, x)) in asked}
    expected = None if None in values.values() else str(OPS[gate.op](values[gate.a], values[gate.b]))  # type: ignore[arg-type]
    blame = local_step(local, target, expected, inputs)
    if not inputs and not blame.correction:
        blame.note = f"{name}'s inputs cannot give {target}: its definition is wrong"
    elif inputs:
        blame.note = "each of these alone could be what is wrong, or the definition" if len(inputs) > 1 else ""
    blame.candidates = [_guess(Edit("edit", entry_id=entry.id), name, g) for g in nearby(k, n, gate)
                        if _could_give(g, {**values, **_bits(x)}, int(target))]
    return blame


def _bits(x: str) -> dict[str, int | None]:
    return {f"x{i}": int(c) for i, c in enumerate(x)}


def _could_give(g: Gate, known: dict[str, int | None], target: int) -> bool:
    """False only where the node can tell that `g` would not give the target: both its
    inputs' values are in view (a gate's value changes only by changing)."""
    a, b = known.get(g.a), known.get(g.b)
    return a is None or b is None or OPS[g.op](a, b) == target


def _guess(e: Edit, name: str, g: Gate) -> Blame:
    e.text, e.reason = definition(name, g), f"guessed a definition of {name}"
    return Blame(edits=[e])


def _value(source: str, x: str, asked: Mapping[str, tuple[int, str | None]]) -> int | None:
    if source.startswith("x"):
        return int(x[int(source[1:])]) if int(source[1:]) < len(x) else None
    answer = asked.get(gate_question(source, x), (0, None))[1]
    return int(answer) if answer in ("0", "1") else None


def _push_down(gate: Gate, values: dict[str, int | None], target: int) -> dict[str, int]:
    """The gate inputs to change so the gate gives `target`, if its definition is right: the
    fewest changes there are, all of them where several would each do (inputs x are given)."""
    options = []
    for new in itertools.product((0, 1), repeat=2):
        if OPS[gate.op](*new) != target:
            continue
        change = {s: v for s, v in zip((gate.a, gate.b), new) if values[s] != v}
        if all(s.startswith("g") for s in change):
            options.append(change)
    if not options:
        return {}
    fewest = min(len(c) for c in options)
    out: dict[str, int] = {}
    for c in options:
        if len(c) == fewest:
            for s, v in c.items():
                out.setdefault(s, v)
    return out


def world(seed: int = 0, gates: int = 20, inputs: int = 5, wrong: int = 3,
          missing: int = 0) -> tuple[Circuit, dict[str, Gate | None]]:
    """The hidden circuit of `seed`, and what the agent believes about it. A circuit in which
    fewer than `wrong` gates can show a mistake (an output that ignores most of it) is drawn again."""
    for attempt in range(100):
        rng = random.Random(f"circuit:{seed}:{gates}:{inputs}:{attempt}")
        circuit = random_circuit(rng, gates, inputs)
        beliefs = misbelieve(circuit, rng, wrong, missing)
        if sum(not g.same(beliefs[name]) for name, g in enumerate_gates(circuit.gates)) == wrong + missing:
            return circuit, beliefs
    raise ValueError(f"no {gates}-gate circuit over {inputs} inputs shows {wrong} mistakes")


def make_task(seed: int = 0, gates: int = 20, inputs: int = 5, wrong: int = 3, missing: int = 0,
              name: str | None = None) -> Task:
    """The circuit task of one hidden circuit: H, the rules, the black box's answers, the beliefs as facts."""
    circuit, beliefs = world(seed, gates, inputs, wrong, missing)

    def solve(q: str) -> str:
        if m := OUTPUT.fullmatch(q):
            return str(circuit.value(m[1]))
        raise ValueError("the black box shows only its output, never a gate's value")

    def generate(rng: random.Random, size: int) -> str:
        return question("".join(rng.choice("01") for _ in range(circuit.inputs)))

    return Task(name=name or f"circuit-{seed}", policy=h, generate=generate, solve=solve, rules=(output_rule, gate_rule),
                facts=facts(beliefs), description=f"a hidden {gates}-gate circuit over {inputs} inputs, "
                "from beliefs about its gates (some wrong)")


TASK = make_task(name="circuit")

"""The breakable vase: an agent learns, through the backward pass, that some things break.

An agent carries a box across a room. Whether an object is fragile is a fact of the world,
not something the agent knows. Its plan comes from a meta-execution tree: the root asks
what lies on the way, then `how should I move past the <object>?` for each object, and
that node looks the object up in the experience database before it chooses a way of
moving. The world executes the plan; what breaks is the feedback. The backward pass turns
"the vase broke at step 3" into a target for the node that chose how to pass the vase,
finds that its lookup came back empty, and adds the lesson. The next run is the same
tree up to that lookup, which now finds the lesson, and the node moves carefully.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError, field_validator

from ida.engine import run
from ida.errors import IdaError
from ida.overseer import Applied, Blame, Correction, Edit, NodeContext, Overseer, Report, RuleOverseer, apply, backward, local_step, rule
from ida.policies.scripted import scripted
from ida.tree import Tree
from ida.workspace import Workspace

CAREFUL, NORMAL = "carefully", "normally"
SPEED = {NORMAL: 1, CAREFUL: 3}  # time per object passed: care is not free
WARNING = re.compile(r"\bfragile\b|\bbreaks?\b|\bslowly\b|\bcareful(ly)?\b", re.I)

ROOT = re.compile(r"plan how to carry the box across the room to the door at (\d+): \[(.*)\]", re.S)
WAY = re.compile(r"what lies on the way across .*\?", re.S)
PASS = re.compile(r"how should I move past the (.+)\?")
PLAN_STEP = re.compile(r"move (normally|carefully) past the (.+?) \((\d+)\)")
BROKE = re.compile(r"the (.+?) broke at step (\d+)")


# ---- the world -------------------------------------------------------------------------


class Thing(BaseModel):
    name: str
    at: int
    fragile: bool = False

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v or any(c in v for c in "[]$\\,@:;()"):
            raise ValueError(f"object name {v!r} must be non-empty text without [ ] $ \\ , @ : ; ( )")
        return v


class Room(BaseModel):
    door: int = 10
    things: list[Thing]

    def layout(self) -> str:
        """What the agent can see: names and positions, never fragility."""
        return ", ".join(f"{t.name} at {t.at}" for t in sorted(self.things, key=lambda t: t.at))


DEFAULT_ROOM = "lamp@2, rug@4, vase@6:fragile, chair@8"
RANDOM_NAMES = ["vase", "glass bowl", "chair", "rug", "lamp", "crate", "teacup", "stool", "mirror", "bench"]


def parse_room(spec: str, seed: int = 0) -> Room:
    """`lamp@2, vase@6:fragile`, a path to a JSON file, or `random` (uses `seed`)."""
    spec = spec.strip()
    if spec == "random":
        rng = random.Random(seed)
        names = rng.sample(RANDOM_NAMES, rng.randint(3, 5))
        spots = sorted(rng.sample(range(1, 10), len(names)))
        return Room(things=[Thing(name=n, at=p, fragile=rng.random() < 0.4) for n, p in zip(names, spots)])
    try:
        if spec.endswith(".json"):
            return Room.model_validate(json.loads(Path(spec).read_text(encoding="utf-8")))
        things = []
        for item in filter(None, (s.strip() for s in spec.split(","))):
            name, at_sep, rest = item.partition("@")
            pos, _, flag = rest.partition(":")
            if not at_sep or not pos.strip().lstrip("-").isdigit() or flag.strip() not in ("", "fragile", "sturdy"):
                raise IdaError(f"bad room item {item!r}: write NAME@POSITION or NAME@POSITION:fragile")
            things.append(Thing(name=name, at=int(pos), fragile=flag.strip() == "fragile"))
        room = Room(door=max([10] + [t.at + 1 for t in things]), things=things)
    except (OSError, json.JSONDecodeError) as e:
        raise IdaError(f"cannot read room {spec!r}: {e}") from None
    except ValidationError as e:
        raise IdaError(f"bad room {spec!r}: {e.errors()[0]['msg']}") from None
    if not room.things:
        raise IdaError("the room is empty: give at least one object, e.g. vase@6:fragile")
    names = [t.name for t in room.things]
    if len(set(names)) != len(names):
        raise IdaError(f"bad room {spec!r}: object names must be distinct")
    if len({t.at for t in room.things}) != len(room.things) or any(not 0 < t.at < room.door for t in room.things):
        raise IdaError(f"bad room {spec!r}: positions must be distinct and between 1 and {room.door - 1}")
    return room


@dataclass
class Outcome:
    log: list[str] = field(default_factory=list)
    broken: list[tuple[str, int]] = field(default_factory=list)  # (object, plan step)
    time: int = 0

    @property
    def feedback(self) -> str | None:
        """None when all went well, else the judgement the backward pass starts from."""
        return "; ".join(f"the {name} broke at step {step}" for name, step in self.broken) or None


def execute(plan: str, room: Room) -> Outcome:
    """The world carries out a plan: a fragile object passed normally breaks."""
    out = Outcome()
    things = {t.name: t for t in room.things}
    steps = PLAN_STEP.findall(plan)
    for i, (how, name, _) in enumerate(steps, 1):
        out.time += SPEED[how]
        thing = things.get(name)
        if thing is not None and thing.fragile and how == NORMAL:
            out.broken.append((name, i))
            out.log.append(f"step {i}: moved {how} past the {name}: it broke")
        else:
            out.log.append(f"step {i}: moved {how} past the {name}")
    missed = set(things) - {name for _, name, _ in steps}
    if missed or not steps:
        out.log.append(f"the plan did not pass: {', '.join(sorted(missed)) or 'anything'}")
    return out


# ---- the agent: an amplified overseer, scripted ------------------------------------------


def root_question(room: Room) -> str:
    return f"plan how to carry the box across the room to the door at {room.door}: [{room.layout()}]"


@scripted(name="vase-H")
def agent(ws: Workspace):
    q = ws.question_text
    if m := PASS.fullmatch(q):
        found = yield f"lookup {m.group(1)}"
        return CAREFUL if warns(found, m.group(1)) else NORMAL
    if WAY.fullmatch(q):
        return (yield "unlock $1")
    door = ROOT.fullmatch(q).group(1)  # type: ignore[union-attr]
    way = yield "ask what lies on the way across $1?"
    steps = []
    for item in filter(None, (s.strip() for s in way.split(","))):
        name, _, at = item.rpartition(" at ")
        how = yield f"ask how should I move past the {name}?"
        steps.append(f"move {how} past the {name} ({at})")
    return ", ".join(steps) + f", then on to the door ({door})"


def warns(lookup_result: str, name: str) -> bool:
    """Whether an entry about `name` says to take care."""
    return any(_entry_key(line) == name.lower() and WARNING.search(line) for line in lookup_result.splitlines())


def _entry_key(line: str) -> str:
    return line.split("] ", 1)[-1].split(":", 1)[0].strip().lower()


# ---- the overseer's local rules --------------------------------------------------------


def plural(name: str) -> str:
    head, _, last = name.rpartition(" ")
    if re.search(r"(s|x|z|ch|sh)$", last):
        last += "es"
    elif re.search(r"[^aeiou]y$", last):
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{head} {last}".strip()


def lesson(name: str) -> str:
    return f"{plural(name)} are fragile; move slowly near them"


@rule(ROOT.pattern)
def plan_rule(ctx: NodeContext, judgement: str) -> Blame:
    """The plan is the subanswers put in order, so each broken object's step came from its node."""
    broken = BROKE.findall(judgement)
    if not broken:
        return Blame(note=f"cannot read the judgement {judgement!r}: expected 'the X broke at step N'")
    passing = {m.group(1): c for _, c in ctx.asks if (m := PASS.fullmatch(c.question.text()))}
    blame = Blame(targets={passing[name].id: CAREFUL for name, _ in broken if name in passing})
    # the plan this node should have written from the subanswers it got
    expected = PLAN_STEP.sub(
        lambda m: f"move {passing[m[2]].answer_text if m[2] in passing else m[1]} past the {m[2]} ({m[3]})",
        ctx.answer or "")
    if expected != ctx.answer and ctx.reply_step is not None:
        blame.correction = Correction(ctx.reply_step, f"reply {expected}")
    if not (blame.targets or blame.correction):
        blame.note = "no node chose how to pass what broke"
    return blame


@rule(PASS.pattern)
def pass_rule(ctx: NodeContext, target: str) -> Blame:
    """The node moves carefully exactly when its lookup warns; if it should have, the lookup is to blame."""
    name = PASS.fullmatch(ctx.question).group(1)  # type: ignore[union-attr]
    if not ctx.lookups:
        return local_step(ctx, target, NORMAL, None)
    _, step = ctx.lookups[0]
    said = CAREFUL if warns(step.result, name) else NORMAL
    blame = local_step(ctx, target, said, None)
    if said != target and target == CAREFUL:
        blame.note = ""
        about = [line for line in step.result.splitlines() if _entry_key(line) == name.lower()]
        if about:  # an entry that misled: keep its words, add the warning
            eid = int(about[0][2:].split("]", 1)[0])
            text = about[0].split(":", 1)[1].strip()
            blame.edits = [Edit("edit", entry_id=eid, text=f"{text}; {lesson(name)}", reason=f"lookup {name!r} did not warn")]
        else:
            blame.edits = [Edit("add", key=name, text=lesson(name), reason=f"lookup {name!r} found nothing")]
    return blame


RULES = (plan_rule, pass_rule)


def overseer() -> RuleOverseer:
    return RuleOverseer(RULES)


# ---- the replay ------------------------------------------------------------------------


@dataclass
class Replay:
    room: Room
    first: Tree
    first_outcome: Outcome
    report: Report | None = None
    applied: Applied | None = None
    second: Tree | None = None
    second_outcome: Outcome | None = None

    @property
    def changed_at(self) -> int | None:
        """Where the path changed: the first node whose own doings differ between the runs.

        Answers that merely flow up from a changed child (ask results, the reply built on
        them) do not count; a different lookup result or a different question asked does.
        """
        if self.second is None:
            return None

        def own(node):
            return [("reply" if s.kind == "reply" else s.action, None if s.child is not None else s.result)
                    for s in node.steps]

        return next((b.id for a, b in zip(self.first.nodes, self.second.nodes) if own(a) != own(b)), None)


def replay(room: Room, db, judge: Overseer | None = None, corrections_dir: str | Path | None = None) -> Replay:
    """Run 1, the world's feedback, the backward pass and its edits, run 2."""
    question = root_question(room)
    first = run(question, agent, db=db, task="vase", budget=10_000)
    result = Replay(room, first, execute(first.answer or "", room))
    feedback = result.first_outcome.feedback
    if feedback is None:
        return result  # the database already knew: nothing broke
    result.report = backward(first, feedback, judge or overseer())
    result.applied = apply(result.report, db, corrections_dir)
    result.second = run(question, agent, db=db, task="vase", budget=10_000)
    result.second_outcome = execute(result.second.answer or "", room)
    return result

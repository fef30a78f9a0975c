"""Reading a blame question from a script, one unlock at a time.

A blame script is a scripted policy (`ida.scripted`): its generator yields actions and gets
their results. `Reading` holds what it has unlocked of the question (see
`ida.overseer.questions` for the shape) and gives generators that unlock a part and return
it, each part once:

    r = Reading(ws)
    steps = yield from r.steps()               # unlocks $4, the outline of the node's steps
    answer = yield from r.text(steps[1].parts[1])
"""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass

from ida.overseer.questions import raw_text
from ida.tree import Found
from ida.workspace import Workspace

TOP = re.compile(r"blame: node (\$\d+) answered (\$\d+) should answer (\$\d+); saw (\$\d+)")
_STEP = re.compile(r"(\d+): (ask|unlock|lookup|scratch|reply|refused)\b(.*)")
_ENTRY = re.compile(r"e(\d+) (\$\d+) (\$\d+)")
_POINTER = re.compile(r"\$\d+")

Read = Generator[str, str, str]  # yields unlock actions, receives what they show, returns a value


@dataclass(frozen=True)
class Seen:
    """One step of the blamed node, as its outline shows it: its number, kind and pointers."""

    step: int
    kind: str  # ask, unlock, lookup, scratch, reply, refused
    parts: tuple[str, ...]  # ask: question, answer; unlock: content; lookup: query, entries; ...
    ran: bool = True  # an ask that opened a subquestion (not refused by the engine)


@dataclass
class Local:
    """The node as `local_step` reads it (the answer and the reply's step)."""

    answer: str | None
    reply_step: int | None


class Reading:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        m = TOP.fullmatch(ws.show(ws.question))
        if m is None:
            raise ValueError(f"not a blame question: {ws.question_text[:80]}")
        self.question, self.answer, self.target, self.outline = m.groups()
        self.shown: dict[str, str] = {}

    @property
    def ok(self) -> bool:
        """The answer and the target are one message (content-addressed): nothing to unlock."""
        return self.answer == self.target

    def open(self, pointer: str) -> Read:
        """Unlock `pointer` (once); what it shows, its own pointers locked."""
        if pointer not in self.shown:
            self.shown[pointer] = yield f"unlock {pointer}"
        return self.shown[pointer]

    def text(self, pointer: str) -> Read:
        """A part's whole text, as answers and targets are compared (as a task's script reads its
        question's text whole); its top level is unlocked first."""
        yield from self.open(pointer)
        return self.ws.names.messages[int(pointer[1:]) - 1].text()

    def raw(self, pointer: str) -> Read:
        """A part as it was written (a key, a sentence): its escapes undone."""
        yield from self.open(pointer)
        return raw_text(self.ws.names.messages[int(pointer[1:]) - 1])

    def steps(self) -> Generator[str, str, list[Seen]]:
        shown = yield from self.open(self.outline)
        out = []
        for item in filter(None, shown.split("; ")):
            m = _STEP.fullmatch(item)
            if m is None:
                raise ValueError(f"not a step of the outline: {item!r}")
            out.append(Seen(int(m.group(1)), m.group(2), tuple(_POINTER.findall(m.group(3))),
                            ran=" refused " not in m.group(3)))
        return out

    def found(self, lookup: Seen) -> Generator[str, str, list[Found]]:
        """The entries a lookup step returned, each key and text unlocked."""
        shown = yield from self.open(lookup.parts[1])
        entries = []
        for item in filter(None, shown.split("; ")):
            m = _ENTRY.fullmatch(item)
            if m is None:
                raise ValueError(f"not an entry: {item!r}")
            key = yield from self.raw(m.group(2))
            text = yield from self.raw(m.group(3))
            entries.append(Found(id=int(m.group(1)), key=key, text=text))
        return entries

    def local(self, steps: list[Seen]) -> Generator[str, str, Local]:
        """The node's answer and its reply step, for `local_step`."""
        answer = yield from self.text(self.answer)
        return Local(answer, next((s.step for s in steps if s.kind == "reply"), None))


def asks(steps: list[Seen]) -> list[Seen]:
    """The subquestions that ran, in order (a rule's `ctx.asks`)."""
    return [s for s in steps if s.kind == "ask" and s.ran]

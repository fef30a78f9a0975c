"""The action language: one command per line, the same for people, scripts and models.

    ask <message>     lookup <query>     unlock $n     scratch <text>     reply <message>

A reply that starts with `failed: ` is a failure answer (budget, depth, loop, a model that
gave up): the engine writes them and policies pass them up, so they belong to the language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ida.errors import IdaError

Kind = Literal["ask", "lookup", "unlock", "scratch", "reply"]
KINDS: tuple[Kind, ...] = ("ask", "lookup", "unlock", "scratch", "reply")
USAGE = "commands: ask <question> | lookup <query> | unlock $n | scratch <text> | reply <answer>"
_UNLOCK = re.compile(r"\$([0-9]+)")  # ASCII digits only, as in hypertext pointers
MAX_POINTER_DIGITS = 18  # more is no pointer any workspace has (and int() refuses past 4,300 digits)
FAILED = "failed: "


def failed(answer: str | None) -> bool:
    """Whether an answer is a failure answer (budget, depth, loop), or no answer at all."""
    return answer is None or answer.startswith(FAILED)


class ActionError(IdaError):
    """Text that is not a command of the action language."""


@dataclass(frozen=True, slots=True)
class Action:
    kind: Kind
    arg: str

    def render(self) -> str:
        return f"{self.kind} {self.arg}" if self.arg else self.kind

    def __str__(self) -> str:
        return self.render()

    @property
    def pointer(self) -> int:
        """The pointer number of an `unlock`."""
        return int(self.arg[1:])


def parse_action(text: str) -> Action:
    """Parse one command; raises `ActionError` with a one-line reason."""
    line = text.strip()
    if not line:
        raise ActionError(f"empty command; {USAGE}")
    if "\n" in line:
        raise ActionError("one command per line")
    head, _, arg = line.partition(" ")
    kind = head.lower()
    arg = arg.strip()
    if kind not in KINDS:
        raise ActionError(f"unknown command {_clip(head)!r}; {USAGE}")
    if kind == "unlock":
        m = _UNLOCK.fullmatch(arg)
        if m is None:
            raise ActionError(f"unlock takes one pointer like $1, not {_clip(arg)!r}")
        if len(m.group(1)) > MAX_POINTER_DIGITS:
            raise ActionError(f"unknown pointer {_clip(arg)} ({len(m.group(1))} digits)")
    elif kind in ("ask", "reply", "lookup") and not arg:
        raise ActionError(f"{kind} needs {'a query' if kind == 'lookup' else 'a message'}")
    return Action(kind, arg)


def as_action(a: Action | str) -> Action:
    return a if isinstance(a, Action) else parse_action(a)


def _clip(text: str, n: int = 40) -> str:
    """Keep an error one short line, whatever was typed."""
    return text if len(text) <= n else text[:n] + "…"

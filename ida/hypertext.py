"""Messages: text with pointers to other messages.

`is the list [1 [2 []]] sorted?` is a message whose bracketed part is a message of its own.
Messages are immutable values addressed by their content: equal content, equal address,
however they were built. A workspace names the messages it can see `$1`, `$2`, ... in order
of first appearance (`PointerNames`), so equal content always renders to equal text.

Syntax: `[...]` nests a message, `$n` names a pointer the reader already knows, and a
backslash escapes `[`, `]`, `$`, itself and a digit. A pointer followed by text that starts
with a digit renders as `$1\\2`, so `$12` always means pointer 12, never pointer 1 and a `2`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Union
from collections.abc import Container, Iterator, Mapping, Sequence

from ida.errors import IdaError

Part = Union[str, "Message"]
_SPECIAL = re.compile(r"([\\\[\]$])")


class HypertextError(IdaError):
    """Malformed message text; the message names the position."""


@dataclass(frozen=True, slots=True, eq=False)
class Message:
    """Immutable hypertext: a sequence of text and nested messages."""

    parts: tuple[Part, ...] = ()
    address: str = field(init=False, repr=False)
    _text: str | None = field(init=False, repr=False, default=None)  # cached: messages never change

    def __post_init__(self) -> None:
        parts: list[Part] = []
        run: list[str] = []  # canonical form: no empty text, no two texts side by side
        for p in self.parts:
            if isinstance(p, str):
                run.append(p)  # joined once per run: += in a loop is quadratic
                continue
            if not isinstance(p, Message):
                raise TypeError(f"message parts are str or Message, not {type(p).__name__}")
            if text := "".join(run):
                parts.append(text)
            run.clear()
            parts.append(p)
        if text := "".join(run):
            parts.append(text)
        object.__setattr__(self, "parts", tuple(parts))
        # Children enter the hash by address, so hashing costs only this message's top level.
        h = hashlib.blake2b(digest_size=12)
        for p in parts:
            if isinstance(p, str):
                raw = p.encode()
                h.update(b"t%d:" % len(raw) + raw)  # length-prefixed: no escaping needed
            else:
                h.update(b"p" + p.address.encode())
        object.__setattr__(self, "address", h.hexdigest())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and other.address == self.address

    def __hash__(self) -> int:
        return hash(self.address)

    def __repr__(self) -> str:
        return f"Message({self.text()!r})"

    @property
    def children(self) -> list[Message]:
        return [p for p in self.parts if isinstance(p, Message)]

    def text(self) -> str:
        """The fully expanded text; `parse(m.text()) == m`."""
        if self._text is None:
            object.__setattr__(self, "_text", self._expand())
        return self._text  # type: ignore[return-value]

    def _expand(self) -> str:
        if len(self.parts) == 1 and isinstance(self.parts[0], str):
            return _escape(self.parts[0])
        out: list[str] = []
        stack: list[Iterator[Part] | str] = [iter(self.parts)]
        while stack:  # iterative: a 10,000-deep list must not hit the recursion limit
            top = stack[-1]
            if isinstance(top, str):
                out.append(top)
                stack.pop()
                continue
            p = next(top, None)
            if p is None:
                stack.pop()
            elif isinstance(p, str):
                out.append(_escape(p))
            else:
                out.append("[")
                stack.append("]")
                stack.append(iter(p.parts))
        return "".join(out)

    def __str__(self) -> str:
        return self.text()


def _escape(text: str) -> str:
    if "\\" in text or "[" in text or "]" in text or "$" in text:  # rare: skip the regex on the hot path
        return _SPECIAL.sub(r"\\\1", text)
    return text


class PointerNames:
    """A workspace's pointer names: `$1`, `$2`, ... in order of first appearance."""

    __slots__ = ("messages", "_index")

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._index: dict[str, int] = {}

    def name(self, m: Message) -> str:
        i = self._index.get(m.address)
        if i is None:
            self.messages.append(m)
            i = self._index[m.address] = len(self.messages)
        return f"${i}"

    def get(self, n: int) -> Message | None:
        return self.messages[n - 1] if 1 <= n <= len(self.messages) else None

    def number(self, m: Message) -> int | None:
        """The number `m` already has here, if any (naming nothing new, unlike `name`)."""
        return self._index.get(m.address)

    def __len__(self) -> int:
        return len(self.messages)

    def render(self, m: Message) -> str:
        """The top level of `m`, its children shown as (locked) pointers."""
        out: list[str] = []
        for i, p in enumerate(m.parts):
            if isinstance(p, Message):
                out.append(self.name(p))
            elif i and "0" <= p[0] <= "9":  # after a pointer: `$1\2`, not `$12`
                out.append("\\" + p[0] + _escape(p[1:]))
            else:
                out.append(_escape(p))
        return "".join(out)


_TOKEN = re.compile(r"\\(.)?|\[|\]|\$([0-9]+)?|[^\\\[\]$]+", re.S)  # ASCII digits only: `$1٣` is $1, then text


def parse(text: str, pointers: Sequence[Message] | Mapping[int, Message] | PointerNames = ()) -> Message:
    """Parse message text; `$n` refers to `pointers` (1-based), `[...]` nests a new message."""
    if _escape(text) is text:  # plain text, the common case: nothing to parse
        return Message((text,))
    lookup = pointers.get if isinstance(pointers, (PointerNames, Mapping)) else _seq_get(pointers)
    stack: list[tuple[list[Part], int]] = [([], -1)]
    for tok in _TOKEN.finditer(text):
        s, pos = tok.group(), tok.start()
        c = s[0]
        if c == "\\":
            escaped = tok.group(1)
            if escaped is None or not (escaped in "\\[]$" or "0" <= escaped <= "9"):
                raise HypertextError(f"position {pos}: a backslash escapes only \\ [ ] $ and digits")
            stack[-1][0].append(escaped)
        elif c == "[":
            stack.append(([], pos))
        elif c == "]":
            if len(stack) == 1:
                raise HypertextError(f"position {pos}: ']' closes nothing")
            parts, _ = stack.pop()
            stack[-1][0].append(Message(tuple(parts)))
        elif c == "$":
            if tok.group(2) is None:
                raise HypertextError(f"position {pos}: '$' must start a pointer like $1 (write \\$ for a dollar)")
            digits = tok.group(2)  # no int() of 5,000 digits: past Python's limit that raises
            target = lookup(int(digits)) if len(digits) <= 18 else None
            if target is None:
                raise HypertextError(f"position {pos}: unknown pointer {s}")
            stack[-1][0].append(target)
        else:
            stack[-1][0].append(s)
    if len(stack) > 1:
        raise HypertextError(f"position {stack[-1][1]}: '[' is never closed")
    return Message(tuple(stack[0][0]))


def new_parts_first(m: Message, seen: Container[str]) -> Iterator[Message]:
    """`m` and the messages inside it whose address is not in `seen`, each once, children before
    the message that holds them (no recursion: lists nest deep). The caller adds to `seen`."""
    stack: list[tuple[Message, bool]] = [(m, False)]
    while stack:
        x, ready = stack.pop()
        if x.address in seen:
            continue
        if not ready:
            stack.append((x, True))
            stack.extend((c, False) for c in x.children if c.address not in seen)
            continue
        yield x


def _seq_get(seq: Sequence[Message]):
    def get(n: int) -> Message | None:
        return seq[n - 1] if 1 <= n <= len(seq) else None

    return get


def msg(text: str) -> Message:
    """A message of plain text, nothing parsed."""
    return Message((text,))

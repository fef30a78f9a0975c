"""What a workspace lets its reader see of a message: nothing its pointers keep locked.

A node sees its question's parts behind pointers (`$1`) until it unlocks them. Anything a
person answering a node reads (the session's header, the line naming the parent question,
`tree`, a model's suggestion) and anything stored as that node's decision (an overseer's
correction carried into automation) goes through here, so that it shows, and depends on,
only what the workspace shows.

    seen_from(ws.names, parent.question)   # "is the list […] sorted?": the parent's list is not ours
    in_terms_of(ws.names, parse("reply yes, then [3 [2 []]]"[6:]))   # 'yes, then $2', or None
"""

from __future__ import annotations

from collections.abc import Iterator

from ida.hypertext import Message, PointerNames, _escape, parse

# A message the workspace has no pointer to: shown as a message whose content is not shown.
FOREIGN = "[…]"


def seen_from(names: PointerNames, m: Message) -> str:
    """The top level of `m` as the workspace with `names` would show it: the messages it names as
    their `$n`, any other as `[…]`. Names nothing new (the workspace stays as it was)."""
    return "".join(_parts(names, m, lambda c: FOREIGN))


def seen_question(question: str) -> str:
    """A root question as its own workspace shows it: its nested messages locked as $1, $2, ..."""
    return PointerNames().render(parse(question))


def in_terms_of(names: PointerNames, m: Message) -> str | None:
    """`m` written for the workspace with `names`: the messages it names as `$n`, other nested
    messages written out in brackets; None when that would write out content the workspace
    keeps behind a pointer (a part of a message it has not unlocked)."""
    hidden: set[str] | None = None
    out: list[str] = []
    stack: list[tuple[Message, int]] = [(m, 0)]
    while stack:  # iterative: a written-out list may be deeper than the recursion limit
        x, i = stack.pop()
        if i == len(x.parts):
            if stack:
                out.append("]")
            continue
        stack.append((x, i + 1))
        p = x.parts[i]
        if isinstance(p, str):
            out.append("\\" + p[0] + _escape(p[1:]) if i and p[0].isascii() and p[0].isdigit() else _escape(p))
        elif (n := names.number(p)) is not None:
            out.append(f"${n}")
        else:
            if hidden is None:
                hidden = _behind_pointers(names)
            if p.address in hidden:
                return None
            out.append("[")
            stack.append((p, 0))
    return "".join(out)


def _parts(names: PointerNames, m: Message, other) -> Iterator[str]:
    for i, p in enumerate(m.parts):
        if isinstance(p, Message):
            n = names.number(p)
            yield f"${n}" if n is not None else other(p)
        elif i and p[0].isascii() and p[0].isdigit():  # after a pointer: `$1\2`, not `$12`
            yield "\\" + p[0] + _escape(p[1:])
        else:
            yield _escape(p)


def _behind_pointers(names: PointerNames) -> set[str]:
    """Addresses of the messages inside the named ones that the workspace has no name for."""
    seen: set[str] = set()
    stack = [c for m in names.messages for c in m.children]
    while stack:
        x = stack.pop()
        if x.address in seen:
            continue
        seen.add(x.address)
        stack.extend(x.children)
    return seen - {m.address for m in names.messages}

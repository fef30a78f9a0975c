"""Blame as a question: one node's blame asked in the action language, and the syntax of its answer.

The question (`blame_question`) is a message whose parts sit behind pointers, so a blame node
unlocks only what it needs, as any workspace does:

    blame: node $1 answered $2 should answer $3; saw $4

$1 is the node's question, $2 its answer, $3 its target, $4 what it did and saw, step by step:

    0: unlock $5; 1: ask $6 answered $7; 2: lookup $8 found $9; 3: reply $2

    <i>: ask $q answered $a         a subquestion and the answer it came back with
    <i>: ask $q refused $a          a subquestion the engine answered itself (loop guard, depth limit)
    <i>: unlock $m                  the content the node unlocked
    <i>: lookup $q found $f         the query, and the entries: `e12 $key $text; e13 ...` (empty: none)
    <i>: scratch $t   <i>: reply $a   <i>: refused $a because $why

Messages are content-addressed, so a node that already gives its target reads
`answered $2 should answer $2`.

The answer is one line of clauses joined by `; ` (a `;` followed by a space and a clause word
starts a new clause; any other `;` belongs to the text):

    ok                        the node already gives its target (its subtree is right)
    target <step> <answer>    the subquestion asked at step <step> should have answered <answer>
    add <key>: <sentence>     add an entry to the experience database
    edit e<id> <sentence>     reword an entry the node's lookups returned
    rm e<id>                  remove such an entry
    correct <step> <action>   the action the node should have taken at step <step>
    none <why>                nothing to blame here (the node counts as unexplained)
    maybe <clause>            another explanation that cannot be ruled out here, for guess and
                              check to try (`Counterfactual`); its clauses run to the next `maybe`

`ok` and `none` stand alone; the others combine, e.g. `target 1 4; correct 2 reply 5`. The
alternatives follow the blame, likeliest first: `target 2 5; maybe target 0 3; maybe target 0 4`
(the last input should be 5, or else the first should be 3, or 4), and `none` may head them
(`none the definition could be wrong; maybe edit e7 g7 = OR(g3, x2)`). Steps
are the node's own numbers (as above), so the same context reads the same in any tree. The
line is the blame tree's answer as written: a reply's escapes (`\\$`, `\\[`) are undone once,
so `correct 0 unlock \\$2` means the node's own pointer $2.
"""

from __future__ import annotations

import re

from ida.actions import ActionError, parse_action
from ida.errors import IdaError
from ida.hypertext import HypertextError, Message, PointerNames, msg, parse
from ida.overseer.blame import Blame, Correction, Edit
from ida.tree import Found, Node, Step, Tree

PREFIX = "blame: node "
NO_ANSWER = msg("(no answer)")
WORDS = ("ok", "target", "add", "edit", "rm", "correct", "none", "maybe")
_SPLIT = re.compile(r";\s+(?=(?:" + "|".join(WORDS) + r")\b)")
_TARGET = re.compile(r"target (\d+) (.+)", re.S)
_ADD = re.compile(r"add ([^:]+):\s*(.+)", re.S)
_EDIT = re.compile(r"edit e(\d+) (.+)", re.S)
_RM = re.compile(r"rm e(\d+)")
_CORRECT = re.compile(r"correct (\d+) (.+)", re.S)
_SHAPE = (PREFIX, None, " answered ", None, " should answer ", None, "; saw ", None)  # None: a message


class BlameSyntaxError(IdaError):
    """A blame answer that is not in the syntax, or that names what its node does not have."""


# ---- the question -----------------------------------------------------------------------


def blame_question(node: Node, target: str, tree: Tree) -> Message:
    """The blame of `node` toward `target`, as a question whose content sits behind pointers."""
    return Message((PREFIX, node.question, " answered ", _answer(node), " should answer ", target_message(target),
                    "; saw ", steps_message(node, tree)))


def is_blame_question(question: Message) -> bool:
    parts = question.parts
    return len(parts) == len(_SHAPE) and all(
        isinstance(p, Message) if want is None else p == want for p, want in zip(parts, _SHAPE))


def target_message(target: str) -> Message:
    """A target as a message: parsed where it is hypertext (answers are), else as plain text."""
    try:
        m = parse(target)
    except HypertextError:
        return msg(target)
    return m if m.text() == target else msg(target)


def _answer(node: Node) -> Message:
    return node.answer if node.answer is not None else NO_ANSWER


def steps_message(node: Node, tree: Tree) -> Message:
    """`0: unlock $5; 1: ask $6 answered $7; ...`: each step's content behind pointers."""
    unlocked = unlocked_messages(node, tree)
    parts: list[str | Message] = []
    for i, s in enumerate(node.steps):
        if parts:
            parts.append("; ")
        parts.append(f"{i}: ")
        parts.extend(_step_parts(i, s, node, tree, unlocked))
    return Message(tuple(parts))


def _step_parts(i: int, s: Step, node: Node, tree: Tree, unlocked: dict[int, Message]) -> list[str | Message]:
    if s.error is not None or s.kind is None:
        return ["refused ", msg(s.action), " because ", msg(s.error or "not a command")]
    if s.kind == "ask":
        if s.child is None:
            return ["ask ", msg(s.action[4:]), " refused ", msg(s.result)]
        child = tree.nodes[s.child]
        return ["ask ", child.question, " answered ", _answer(child)]
    if s.kind == "unlock":
        return ["unlock ", unlocked.get(i, msg(s.result))]
    if s.kind == "lookup":
        found = s.lookup.found if s.lookup is not None else []
        return ["lookup ", msg(s.action[len("lookup "):]), " found ", found_message(found)]
    if s.kind == "scratch":
        return ["scratch ", msg(s.action[len("scratch"):].strip())]
    return ["reply ", _answer(node)]


def found_message(found: list[Found]) -> Message:
    """`e12 $key $text; e13 ...`: the entries a lookup returned, each part behind a pointer."""
    parts: list[str | Message] = []
    for e in found:
        parts += ["; " if parts else "", f"e{e.id} ", msg(e.key), " ", msg(e.text)]
    return Message(tuple(parts))


def unlocked_messages(node: Node, tree: Tree) -> dict[int, Message]:
    """The message behind each of the node's unlocks, by step: its pointer names replayed as
    the engine gave them. Where the replay cannot follow (a refused ask named parts no record
    keeps), it stops, and the steps after it show the text the node saw instead."""
    names = PointerNames()
    names.render(node.question)
    out: dict[int, Message] = {}
    for i, s in enumerate(node.steps):
        if s.error is not None:
            continue
        if s.kind == "ask":
            if s.child is None or names.render(tree.nodes[s.child].question) != s.action[4:]:
                break
            names.render(_answer(tree.nodes[s.child]))
        elif s.kind == "unlock":
            m = names.get(int(s.action.split("$", 1)[1]))
            if m is None or names.render(m) != s.result:
                break
            out[i] = m
    return out


# ---- the answer -------------------------------------------------------------------------


def raw_text(m: Message) -> str:
    """A message as it was written: its text's escapes undone, nested parts as `[...]`."""
    return "".join(p if isinstance(p, str) else f"[{p.text()}]" for p in m.parts)


def reply_arg(line: str) -> str:
    """The argument of `reply` that answers with exactly `line` (its specials escaped)."""
    return Message((line,)).text()


def parse_blame(line: str) -> Blame:
    """A blame line as written, its targets by step (see `resolve` for the node's children)."""
    line = line.strip()
    if not line:
        raise BlameSyntaxError("empty blame; write ok, target, add, edit, rm, correct or none (maybe: alternatives)")
    if "\n" in line:
        raise BlameSyntaxError("a blame is one line")
    groups: list[list[str]] = [[]]  # the blame's clauses, then each alternative's
    for c in (c.strip() for c in _SPLIT.split(line)):
        if c.split(" ", 1)[0] == "maybe":
            groups.append([c[len("maybe"):].strip()])
        else:
            groups[-1].append(c)
    main, *alternatives = groups
    if not main:
        raise BlameSyntaxError("a blame comes before its alternatives: write none WHY; maybe ...")
    if len(main) > 1 and any(c == "ok" or c.split(" ", 1)[0] == "none" for c in main):
        raise BlameSyntaxError("`ok` and `none` stand alone")
    if alternatives and main == ["ok"]:
        raise BlameSyntaxError("`ok` has no alternatives")
    b = _blame(main)
    for clauses in alternatives:
        if any(c == "ok" or c.split(" ", 1)[0] in ("none", "") for c in clauses):
            raise BlameSyntaxError("an alternative (`maybe`) is a target, an edit or a correction")
        b.candidates.append(_blame(clauses))
    return b


def _blame(clauses: list[str]) -> Blame:
    b = Blame()
    for clause in clauses:
        _clause(clause, b)
    return b


def _clause(c: str, b: Blame) -> None:  # noqa: C901 - one branch per clause word, read as a table
    word = c.split(" ", 1)[0]
    if c == "ok":
        b.ok = True
    elif word == "none":
        b.note = c[4:].strip() or "nothing to blame here"
    elif m := _TARGET.fullmatch(c):
        step = int(m.group(1))
        if step in b.targets:
            raise BlameSyntaxError(f"two targets for step {step}")
        b.targets[step] = m.group(2).strip()
    elif m := _ADD.fullmatch(c):
        b.edits.append(Edit("add", key=m.group(1).strip(), text=m.group(2).strip()))
    elif m := _EDIT.fullmatch(c):
        b.edits.append(Edit("edit", entry_id=int(m.group(1)), text=m.group(2).strip()))
    elif m := _RM.fullmatch(c):
        b.edits.append(Edit("remove", entry_id=int(m.group(1))))
    elif m := _CORRECT.fullmatch(c):
        if b.correction is not None:
            raise BlameSyntaxError("one correction per node")
        try:
            action = parse_action(m.group(2)).render()
        except ActionError as e:
            raise BlameSyntaxError(f"`{_clip(c)}`: not an action: {e}") from None
        b.correction = Correction(int(m.group(1)), action)
    else:
        raise BlameSyntaxError(f"`{_clip(c)}`: {_usage(word)}")


def _usage(word: str) -> str:
    return {
        "ok": "`ok` takes nothing after it",
        "target": "write target <step> <answer>, e.g. target 1 42",
        "add": "write add <key>: <sentence>",
        "edit": "write edit e<id> <sentence>, e.g. edit e12 a plum weighs 60 grams",
        "rm": "write rm e<id>, e.g. rm e12",
        "correct": "write correct <step> <action>, e.g. correct 2 reply 9",
    }.get(word, f"unknown clause {word!r}; write ok, target, add, edit, rm, correct, none or maybe")


def format_blame(b: Blame) -> str:
    """The line for a blame whose targets are by step: `parse_blame(format_blame(b))` gives `b` back."""
    if b.ok:
        return "ok"
    line = _clauses(b) or f"none {b.note or 'nothing to blame here'}"
    return "; ".join([line, *(f"maybe {_clauses(c)}" for c in b.candidates if _clauses(c))])


def _clauses(b: Blame) -> str:
    clauses = [f"target {step} {t}" for step, t in sorted(b.targets.items())]
    for e in b.edits:
        clauses.append(f"add {e.key}: {e.text}" if e.op == "add" else
                       f"edit e{e.entry_id} {e.text}" if e.op == "edit" else f"rm e{e.entry_id}")
    if b.correction is not None:
        clauses.append(f"correct {b.correction.step} {b.correction.action}")
    return "; ".join(clauses)


def resolve(b: Blame, node: Node, tree: Tree) -> Blame:
    """The blame of `node`: steps named by targets become its children; every reference is checked,
    its alternatives' too."""
    out = Blame(ok=b.ok, note=b.note, edits=list(b.edits), correction=b.correction,
                candidates=[resolve(c, node, tree) for c in b.candidates])
    for step, answer in b.targets.items():
        s = _step(node, step, "target")
        if s.child is None:
            raise BlameSyntaxError(f"target {step}: step {step} asked no subquestion that ran ({s.action[:40]})")
        if out.targets.get(s.child, answer) != answer:
            raise BlameSyntaxError(f"two different targets for the subquestion of steps asking #{s.child}")
        out.targets[s.child] = answer
    seen = {e.id for s in node.steps if s.lookup is not None for e in s.lookup.found}
    for e in b.edits:
        if e.op != "add" and e.entry_id not in seen:
            known = ", ".join(f"e{i}" for i in sorted(seen)) or "none"
            raise BlameSyntaxError(f"e{e.entry_id} is not an entry this node's lookups returned (they returned {known})")
        if e.op == "add" and not (e.key and e.text):
            raise BlameSyntaxError("add needs a key and a sentence")
    if b.correction is not None:
        s = _step(node, b.correction.step, "correct")
        if s.action == b.correction.action:
            raise BlameSyntaxError(f"correct {b.correction.step}: the node already did `{_clip(s.action)}`")
    return out


def _step(node: Node, i: int, what: str) -> Step:
    if not 0 <= i < len(node.steps):
        last = f"0 to {len(node.steps) - 1}" if node.steps else "none"
        raise BlameSyntaxError(f"{what} {i}: no step {i} (this node's steps: {last})")
    return node.steps[i]


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "…"

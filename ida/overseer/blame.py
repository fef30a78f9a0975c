"""What an overseer says about one node: the vocabulary of the backward pass.

A `Blame` is to a node what a gradient is to an operator: given the answer the node
should have given (its target), it says what its inputs should have been (targets for
subquestions, edits to the experience database) or that its own action was wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, Protocol, cast
from collections.abc import Callable

from ida.tree import Found, Node, Step, Tree


@dataclass
class Edit:
    """A change to the experience database, for a lookup that missed or misled."""

    op: Literal["add", "edit", "remove"]
    key: str | None = None
    text: str | None = None
    entry_id: int | None = None
    reason: str = ""
    node: int = -1  # filled in by the walk: the node whose lookup this fixes


@dataclass
class Correction:
    """The action a node should have taken at one of its steps, given what it saw."""

    step: int
    action: str
    node: int = -1


@dataclass
class Blame:
    ok: bool = False  # the node already gives its target: its subtree is skipped
    targets: dict[int, str] = field(default_factory=dict)  # child node id -> answer it should give
    edits: list[Edit] = field(default_factory=list)
    correction: Correction | None = None
    note: str = ""
    tree: Tree | None = field(default=None, compare=False, repr=False)  # the blame tree that gave it (PolicyOverseer)
    # Other explanations the overseer could not rule out here (a different subanswer, another
    # entry), most likely first: a guess-and-check strategy (`Counterfactual`) tries them.
    candidates: list[Blame] = field(default_factory=list)

    @property
    def blamed(self) -> bool:
        """Whether the fault is placed here (not just passed down)."""
        return bool(self.edits or self.correction)


class NodeContext:
    """A node's inputs as an overseer reads them: subanswers, lookups, unlocked content."""

    def __init__(self, node: Node, tree: Tree) -> None:
        self.node, self.tree = node, tree
        self.question = node.question.text()
        self.answer = node.answer_text

    @cached_property
    def asks(self) -> list[tuple[int, Node]]:
        """(step index, child) for every ask, in order."""
        return [(i, self.tree.nodes[s.child]) for i, s in enumerate(self.node.steps) if s.child is not None]

    @property
    def subanswers(self) -> list[str]:
        return [child.answer_text or "" for _, child in self.asks]

    def children(self) -> list[Node]:
        """Distinct children, in ask order (a memoized node may be asked twice)."""
        return [self.tree.nodes[c] for c in dict.fromkeys(self.node.children)]

    @cached_property
    def lookups(self) -> list[tuple[int, Step]]:
        return [(i, s) for i, s in enumerate(self.node.steps) if s.lookup is not None]

    @cached_property
    def found(self) -> list[Found]:
        """Every entry the node's lookups returned, in order, as the node read them."""
        return [e for _, s in self.lookups for e in s.lookup.found]  # type: ignore[union-attr]

    @cached_property
    def unlocked(self) -> list[str]:
        return [s.result for s in self.node.steps if s.kind == "unlock" and s.error is None]

    @cached_property
    def reply_step(self) -> int | None:
        return next((i for i, s in enumerate(self.node.steps) if s.kind == "reply" and s.error is None), None)


class Rule(Protocol):
    """A local backward rule: `rule(ctx, target) -> Blame`, with the questions it is for in `pattern`."""

    pattern: re.Pattern[str]

    def __call__(self, ctx: NodeContext, target: str, /) -> Blame: ...


def rule(pattern: str) -> Callable[[Callable[[NodeContext, str], Blame]], Rule]:
    """Mark a function as the backward rule for questions matching `pattern` (the whole question).

    The function itself comes back, its pattern attached, so it can be called and tested directly."""

    def mark(fn: Callable[[NodeContext, str], Blame]) -> Rule:
        fn.pattern = re.compile(pattern, re.S)  # type: ignore[attr-defined]
        return cast(Rule, fn)

    return mark


class Local(Protocol):
    """What `local_step` reads of a node: a `NodeContext`, or a blame script's reading of one."""

    @property
    def answer(self) -> str | None: ...

    @property
    def reply_step(self) -> int | None: ...


def local_step(ctx: Local, target: str, expected: str | None, inputs: dict[int, str] | None) -> Blame:
    """The usual shape of a rule.

    `expected` is the reply the node's own operation gives on the inputs it had; if the node
    replied otherwise, its action is corrected. If even `expected` misses the target, the
    inputs were wrong, and `inputs` says what they should have been.
    """
    b = Blame()
    if expected is not None and ctx.answer != expected and ctx.reply_step is not None:
        b.correction = Correction(ctx.reply_step, f"reply {expected}")
    if expected != target:
        if inputs:
            b.targets = inputs
        elif not b.correction:
            b.note = f"target unreachable here: from its inputs this node can only answer {expected}"
    return b

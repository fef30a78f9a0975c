"""A run diff: two trees of the same question walked side by side from the root.

Children are paired in ask order while they ask the same question. A pair whose own doings
differ (the actions it took, and the results it got from anything but a child: a lookup, an
unlock) is where the runs part; a pair whose answer alone differs only carries a change up
from below. Nodes left unpaired exist in one run only. The first part is the first pair, in
the order the engine opened nodes, whose own doings differ (or that one run lacks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ida.errors import IdaError
from ida.tree import Node, Tree

CHANGED, ANSWER, ADDED, REMOVED = "changed", "answer", "added", "removed"


class DiffError(IdaError):
    """Two transcripts that cannot be compared."""


@dataclass
class RunDiff:
    first_a: int | None = None  # where the runs part, in each tree (None: they never do)
    first_b: int | None = None
    marks_a: dict[int, str] = field(default_factory=dict)  # node -> changed | answer | removed
    marks_b: dict[int, str] = field(default_factory=dict)  # node -> changed | answer | added


def own(node: Node) -> list[tuple[str, str | None]]:
    """What a node did itself: its actions (any reply counts as one) and the results not from a child."""
    return [("reply" if s.kind == "reply" else s.action, None if s.child is not None else s.result)
            for s in node.steps]


def _kids(node: Node) -> list[int]:
    return list(dict.fromkeys(node.children))


def run_diff(a: Tree, b: Tree) -> RunDiff:
    """Where `b` parts from `a`, and every node that differs, in both trees."""
    if a.root_node.question.address != b.root_node.question.address:
        raise DiffError(f"runs {a.run_id} and {b.run_id} ask different questions "
                        f"({a.root_node.question.text()[:60]!r} vs {b.root_node.question.text()[:60]!r}); "
                        "a run diff needs two runs of the same question")
    d = RunDiff()
    seen: set[tuple[int, int]] = set()
    stack = [(a.root, b.root)]
    while stack:  # depth first in ask order: the order the engine opened the nodes
        x, y = stack.pop()
        if (x, y) in seen:
            continue
        seen.add((x, y))
        nx_, ny = a.nodes[x], b.nodes[y]
        if own(nx_) != own(ny):
            _mark(d, x, y, CHANGED)
        elif nx_.answer_text != ny.answer_text or nx_.failure != ny.failure:
            _mark(d, x, y, ANSWER)
        ka, kb = _kids(nx_), _kids(ny)
        pairs: list[tuple[int, int]] = []
        for i in range(max(len(ka), len(kb))):
            ca, cb = (ka[i] if i < len(ka) else None), (kb[i] if i < len(kb) else None)
            if ca is not None and cb is not None and a.nodes[ca].question.address == b.nodes[cb].question.address:
                pairs.append((ca, cb))
                continue
            if ca is not None:
                _only(a, ca, d.marks_a, REMOVED)
            if cb is not None:
                _only(b, cb, d.marks_b, ADDED)
                if d.first_b is None:
                    d.first_a, d.first_b = x, cb
        stack.extend(reversed(pairs))
    return d


def _mark(d: RunDiff, x: int, y: int, status: str) -> None:
    d.marks_a.setdefault(x, status)
    d.marks_b.setdefault(y, status)
    if status == CHANGED and d.first_b is None:
        d.first_a, d.first_b = x, y


def _only(tree: Tree, start: int, marks: dict[int, str], status: str) -> None:
    """Mark a subtree found in one run only (shared nodes once)."""
    stack = [start]
    while stack:
        n = stack.pop()
        if n in marks:
            continue
        marks[n] = status
        stack.extend(_kids(tree.nodes[n]))

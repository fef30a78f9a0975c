"""The overseer backward pass: credit assignment from the root, like backprop.

Start at the root, where the right answer (or a judgement) is known. Each node is visited
once, after every parent that points to it has spoken (a memoized tree is a DAG), and its
overseer turns the node's target into targets for its inputs. One pass costs one overseer
call per node that receives a target: about what the forward run cost.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from ida.gcpause import gc_paused
from ida.overseer.blame import Blame, Correction, Edit
from ida.tree import Node, Tree


class Overseer(Protocol):
    name: str

    def blame(self, node: Node, target: str, tree: Tree) -> Blame: ...


@dataclass
class Visit:
    node: int
    target: str
    blame: Blame


@dataclass
class Conflict:
    """One shared node asked by several parents to give different answers."""

    node: int
    targets: list[tuple[int, str]]  # (parent, target)


@dataclass
class Report:
    tree: Tree
    feedback: str
    overseer: str = ""
    visits: list[Visit] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    complete: bool = False  # the pass reached its end (False: interrupted, these are the visits so far)
    overseer_calls: int = 0  # blame asked for; more than the visits where guesses re-walked the tree
    forward_runs: int = 0  # runs spent checking guesses (0 for a linear pass)
    forward_budget: int = 0  # the most it could spend (0: it does not guess)

    @property
    def edits(self) -> list[Edit]:
        return [e for v in self.visits for e in v.blame.edits]

    @property
    def corrections(self) -> list[Correction]:
        return [v.blame.correction for v in self.visits if v.blame.correction]

    @property
    def blamed(self) -> list[int]:
        return [v.node for v in self.visits if v.blame.blamed]

    @property
    def blame_trees(self) -> list[Tree]:
        """The blame trees that gave the blames (a PolicyOverseer's: one per node visited)."""
        return [v.blame.tree for v in self.visits if v.blame.tree is not None]

    @property
    def unexplained(self) -> list[Visit]:
        """Nodes that were wrong but neither blamed nor able to pass the blame on."""
        return [v for v in self.visits if not (v.blame.ok or v.blame.blamed or v.blame.targets)]


def backward(tree: Tree, feedback: str, overseer: Overseer, into: Report | None = None) -> Report:
    """The pass. `into`: a Report to fill as it goes, so a caller keeps the visits made so far
    when the pass is interrupted (a person leaving the blame prompt, say). An overseer with a
    pass of its own (`Counterfactual`: guess and check) runs that instead."""
    strategy = getattr(overseer, "backward_pass", None)
    with gc_paused():
        return strategy(tree, feedback) if strategy is not None else walk(tree, feedback, overseer, into)


def walk(tree: Tree, feedback: str, overseer: Overseer, into: Report | None = None) -> Report:
    """One linear pass: each node reached visited once, root first, by `overseer.blame`."""
    report = into or Report(tree, feedback)
    report.overseer = getattr(overseer, "name", type(overseer).__name__)
    nodes = tree.nodes
    waiting = _parent_counts(tree)  # a node is ready when every parent has spoken
    inbox: dict[int, list[tuple[int, str]]] = {tree.root: [(-1, feedback)]}
    ready = deque([tree.root])
    while ready and inbox:  # once no target is in flight, nothing else can be blamed
        nid = ready.popleft()
        kids = dict.fromkeys(nodes[nid].children)  # distinct, in ask order
        got = inbox.pop(nid, [])
        if len({t for _, t in got}) > 1:
            report.conflicts.append(Conflict(nid, got))  # reported, never silently resolved
        elif got:
            blame = overseer.blame(nodes[nid], got[0][1], tree)
            report.overseer_calls += 1
            for e in blame.edits:
                e.node = nid
            if blame.correction:
                blame.correction.node = nid
            report.visits.append(Visit(nid, got[0][1], blame))
            for cid, t in ({} if blame.ok else blame.targets).items():
                if cid not in kids:
                    raise ValueError(f"overseer {report.overseer} sent a target to #{cid}, not a child of #{nid}")
                inbox.setdefault(cid, []).append((nid, t))
        for cid in kids:
            waiting[cid] -= 1
            if waiting[cid] == 0:
                ready.append(cid)
    report.complete = True
    return report


def _parent_counts(tree: Tree) -> dict[int, int]:
    """Distinct parents of each node reachable from the root."""
    counts: dict[int, int] = {tree.root: 0}
    stack = [tree.root]
    while stack:
        for cid in dict.fromkeys(tree.nodes[stack.pop()].children):
            if cid not in counts:
                counts[cid] = 0
                stack.append(cid)
            counts[cid] += 1
    return counts

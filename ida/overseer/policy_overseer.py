"""The amplified overseer: each node's blame is a question, answered by any policy in a tree of its own.

`PolicyOverseer(policy)` asks `blame_question(node, target, tree)` (see
`ida.overseer.questions`) with `ida.run`, reads the blame tree's answer as a blame line and
checks it against the node. A blame that is malformed, or a blame tree that fails, is a note
on its node (counted unexplained), never the end of the pass. One blame tree per node
visited, so the pass costs what the rule overseer's does, times a blame tree.

The blamer is a policy (a script, a distilled model, a person), or a `Runner` that turns a
blame question into a tree itself (a terminal session: `ida.overseer.ask`), or `Deferring`:
a model where it is confident, another blamer otherwise.
"""

from __future__ import annotations

from typing import Protocol

from ida.actions import failed
from ida.engine import run
from ida.hypertext import Message
from ida.overseer.blame import Blame
from ida.overseer.questions import BlameSyntaxError, blame_question, parse_blame, raw_text, reply_arg, resolve
from ida.policy import Policy, policy_name
from ida.tree import Node, Tree
from ida.workspace import Workspace

BUDGET = 10_000  # actions in one blame tree
# What a script raises on a question it misreads (int("x"), a missing key): a failed blame, not a crash.
SCRIPT_ERRORS: tuple[type[Exception], ...] = (
    ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError, ArithmeticError, RuntimeError)


class Runner(Protocol):
    """Answers a blame question with a tree of its own."""

    name: str

    def __call__(self, question: Message, run_id: str) -> Tree: ...


Blamer = Policy | Runner


class PolicyRunner:
    """A blame tree run by a policy in the engine; what the policy raises ends the tree as a failure."""

    def __init__(self, policy: Policy, budget: int = BUDGET, db: object | None = None) -> None:
        self.policy, self.budget, self.db = policy, budget, db
        self.name = policy_name(policy)

    def act(self, ws: Workspace) -> object:
        try:
            return self.policy.act(ws)
        except SCRIPT_ERRORS as e:
            return "reply " + reply_arg(f"failed: the blame policy raised {type(e).__name__}: {e}")

    def __call__(self, question: Message, run_id: str) -> Tree:
        return run(question, self, db=self.db, budget=self.budget, run_id=run_id)  # type: ignore[arg-type]


def as_runner(blamer: Blamer) -> Runner:
    return PolicyRunner(blamer) if hasattr(blamer, "act") else blamer  # type: ignore[arg-type]


class PolicyOverseer:
    """Blame as a question: each visited node's blame is the answer of a blame tree."""

    def __init__(self, blamer: Blamer, name: str | None = None) -> None:
        self.runner = as_runner(blamer)
        self.name = name or f"policy:{self.runner.name}"
        self.trees = 0  # blame trees run: one per node visited
        self.malformed = 0  # blame trees whose answer was no blame this node could take

    def blame(self, node: Node, target: str, tree: Tree) -> Blame:
        question = blame_question(node, target, tree)
        blame_tree = self.runner(question, f"{tree.run_id}-blame{node.id}")
        blame_tree.meta = {**blame_tree.meta, "blames": {"run": tree.run_id, "node": node.id, "target": target}}
        self.trees += 1
        blame = self.read(blame_tree, node, tree)
        blame.tree = blame_tree
        return blame

    def read(self, blame_tree: Tree, node: Node, tree: Tree) -> Blame:
        """The blame a blame tree's answer gives `node`; a note where it gives none."""
        answer = blame_tree.root_node.answer
        if answer is None or failed(answer.text()):
            self.malformed += 1
            return Blame(note=f"the blame tree failed: {answer.text() if answer is not None else 'no answer'}")
        line = raw_text(answer)
        try:
            blame = resolve(parse_blame(line), node, tree)
        except BlameSyntaxError as err:
            self.malformed += 1
            return Blame(note=f"malformed blame {line[:80]!r}: {err}")
        for edit in blame.edits:
            edit.reason = f"blame tree {blame_tree.run_id}: {line[:200]}"
        for i, alternative in enumerate(blame.candidates, 1):
            for edit in alternative.edits:
                edit.reason = f"blame tree {blame_tree.run_id}, alternative {i}: {edit.text or edit.op}"[:240]
        return blame


class Confident(Protocol):
    """A policy that says how sure it was of its last action (a `DistilledPolicy`)."""

    name: str
    last_confidence: float
    last_failed: bool

    def act(self, workspace: Workspace) -> object: ...


class Deferring:
    """A model blames where it is at least `threshold` sure; `fallback` (a person, a script) elsewhere.

    The model answers the blame question outright (one reply); unsure, its tree is dropped and
    the fallback's blame tree is the one kept. `rate` is the share of questions deferred."""

    def __init__(self, model: Confident, fallback: Blamer, threshold: float) -> None:
        self.model, self.fallback, self.threshold = model, as_runner(fallback), threshold
        self.name = f"deferring({model.name}, {self.fallback.name}, {threshold:g})"
        self.acted = 0
        self.deferred = 0

    def __call__(self, question: Message, run_id: str) -> Tree:
        tree = run(question, self.model, budget=1, run_id=run_id)  # type: ignore[arg-type]
        if not self.model.last_failed and self.model.last_confidence >= self.threshold:
            self.acted += 1
            return tree
        self.deferred += 1
        return self.fallback(question, run_id)

    @property
    def rate(self) -> float:
        total = self.acted + self.deferred
        return self.deferred / total if total else 0.0

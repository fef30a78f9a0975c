"""The record of a run: a tree (a DAG, with memoization) of nodes and their steps.

Each step keeps what the policy saw (a prefix of the node's workspace lines), the action
it took, of what kind, the engine's error if it refused the action, and the result: the
same record a person reads, the overseer blames, and distillation trains on. The file
format lives in `ida.transcript`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ida.actions import ActionError, Kind, parse_action
from ida.hypertext import HypertextError, Message, PointerNames, parse

if TYPE_CHECKING:
    import networkx as nx


class Found(BaseModel):
    """An experience-database entry as a lookup returned it: what the node read, kept as data."""

    id: int
    key: str
    text: str

    def render(self) -> str:
        return f"[e{self.id}] {self.key}: {self.text}"  # as `ida.experience.Entry.render` shows it


class LookupRecord(BaseModel):
    query: str
    entry_ids: list[int]
    revision: int
    found: list[Found] = Field(default_factory=list)  # the entries of entry_ids, as they read then


class StepCorrects(BaseModel):
    """Where a corrected step comes from: run, node and step index it replaces."""

    run_id: str
    node: int
    step: int


@dataclass(slots=True)
class Step:
    action: str
    result: str = ""
    ws_lines: int = 0  # the workspace the policy saw: the node's first ws_lines lines
    child: int | None = None
    lookup: LookupRecord | None = None
    corrects: StepCorrects | None = None
    kind: Kind | None = None  # None only for text that is no command at all
    error: str | None = None  # why the engine refused the action (it cost a step, nothing else)


@dataclass(slots=True)
class Node:
    id: int
    question: Message
    depth: int = 0
    policy: str = ""
    parents: list[int] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # the rendered workspace, line by line
    answer: Message | None = None
    failure: str | None = None

    def workspace_at(self, step: int) -> str:
        """The rendered workspace the policy saw before taking step `step`."""
        return "\n".join(self.lines[: self.steps[step].ws_lines])

    @property
    def children(self) -> list[int]:
        return [s.child for s in self.steps if s.child is not None]

    @property
    def answer_text(self) -> str | None:
        return None if self.answer is None else self.answer.text()


@dataclass
class Tree:
    nodes: Sequence[Node]  # a list when run; read from the file when loaded (`ida.transcript`)
    run_id: str
    task: str | None = None
    db_revision: int | None = None
    created: str = ""
    corrects: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    root: int = 0

    @property
    def root_node(self) -> Node:
        return self.nodes[self.root]

    @property
    def answer(self) -> str | None:
        return self.root_node.answer_text

    def __len__(self) -> int:
        return len(self.nodes)

    def to_networkx(self) -> nx.DiGraph:
        """A DiGraph with an edge parent -> child per ask (a memoized tree is a DAG)."""
        import networkx as nx  # here, so that `import ida` does not load networkx

        g = nx.DiGraph(run_id=self.run_id, task=self.task or "")
        for n in self.nodes:
            g.add_node(
                n.id,
                question=n.question.text(),
                answer=n.answer_text or "",
                failure=n.failure or "",
                policy=n.policy,
                depth=n.depth,
                cost=len(n.steps),
            )
        for n in self.nodes:
            for i, s in enumerate(n.steps):
                if s.child is not None:
                    g.add_edge(n.id, s.child, step=i)
        return g

    def save(self, path: str | Path) -> Path:
        """Write the transcript (see `ida.transcript`), atomically."""
        from ida.transcript import save_transcript  # the format depends on the tree, not the reverse

        return save_transcript(self, path)


def pointer_names(node: Node, tree: Tree, upto: int | None = None) -> PointerNames:
    """The names behind a node's `$1`, `$2`, ... before step `upto` (default: after its last step):
    its workspace's names, rebuilt in the order the engine gave them (question, each ask and its
    answer, each unlock)."""
    names = PointerNames()
    names.render(node.question)
    try:
        for s in node.steps[:upto]:
            if s.error is not None:
                continue
            if s.kind == "ask":
                if s.child is None:  # refused (loop, depth): no child holds the question
                    names.render(parse(s.action[len("ask "):], names))
                    continue
                child = tree.nodes[s.child]  # the question as asked, and the answer delivered
                names.render(child.question)
                if child.answer is not None:
                    names.render(child.answer)
            elif s.kind == "unlock":
                m = names.get(parse_action(s.action).pointer)
                if m is not None:
                    names.render(m)
    except (HypertextError, ActionError):
        pass  # a step that does not parse back names nothing more; what was named stays right
    return names

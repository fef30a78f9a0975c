"""The record of a run: nodes, their steps, and JSON Lines transcripts.

A transcript is a header line (schema version, run id, task) and then one line per node.
Each step keeps (rendered workspace, action text, result): the same record a person
reads, the overseer blames, and distillation trains on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal

import networkx as nx
from pydantic import BaseModel, ValidationError

from ida.errors import IdaError
from ida.hypertext import HypertextError, Message, parse

SCHEMA_VERSION = 1


class TranscriptError(IdaError):
    """A transcript file that cannot be read: names the file, line and reason."""


# ---- records that cross a boundary (files, other processes) -------------------------


class LookupRecord(BaseModel):
    query: str
    entry_ids: list[int]
    revision: int


class StepCorrects(BaseModel):
    """Where a corrected step comes from: run, node and step index it replaces."""

    run_id: str
    node: int
    step: int


class StepRecord(BaseModel):
    workspace: str
    action: str
    result: str = ""
    child: int | None = None
    lookup: LookupRecord | None = None
    corrects: StepCorrects | None = None


class NodeRecord(BaseModel):
    kind: Literal["node"] = "node"
    id: int
    question: str
    answer: str | None = None
    failure: str | None = None
    policy: str = ""
    parents: list[int] = []
    depth: int = 0
    steps: list[StepRecord] = []


class TranscriptHeader(BaseModel):
    kind: Literal["header"] = "header"
    schema_version: int = SCHEMA_VERSION
    run_id: str
    task: str | None = None
    root: int = 0
    db_revision: int | None = None
    created: str = ""
    corrects: str | None = None  # run id, for a transcript of corrected steps
    meta: dict[str, Any] = {}


# ---- the in-memory tree -------------------------------------------------------------


@dataclass(slots=True)
class Step:
    action: str
    result: str = ""
    ws_lines: int = 0  # the workspace the policy saw: the node's first ws_lines lines
    child: int | None = None
    lookup: LookupRecord | None = None
    corrects: StepCorrects | None = None


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
    nodes: list[Node]
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

    # -- transcripts --

    def header(self) -> TranscriptHeader:
        return TranscriptHeader(
            run_id=self.run_id, task=self.task, root=self.root, db_revision=self.db_revision,
            created=self.created, corrects=self.corrects, meta=self.meta,
        )

    def records(self) -> Iterable[NodeRecord]:
        for n in self.nodes:
            yield NodeRecord(
                id=n.id, question=n.question.text(), answer=n.answer_text, failure=n.failure,
                policy=n.policy, parents=n.parents, depth=n.depth,
                steps=[
                    StepRecord(
                        workspace=n.workspace_at(i), action=s.action, result=s.result,
                        child=s.child, lookup=s.lookup, corrects=s.corrects,
                    )
                    for i, s in enumerate(n.steps)
                ],
            )

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            f.write(self.header().model_dump_json() + "\n")
            for rec in self.records():
                f.write(rec.model_dump_json() + "\n")
        tmp.replace(path)  # atomic: a crash never leaves half a transcript
        return path


def read_transcript(path: str | Path) -> tuple[TranscriptHeader, list[NodeRecord]]:
    """Read and validate a transcript; any problem names the file, line and reason."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise TranscriptError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TranscriptError(f"{path}: cannot read: {e}") from None
    if not lines:
        raise TranscriptError(f"{path}:1: empty file, expected a transcript header")
    header = _parse_line(path, 1, lines[0], TranscriptHeader)
    if header.schema_version > SCHEMA_VERSION:
        raise TranscriptError(
            f"{path}:1: schema version {header.schema_version} is newer than this ida reads "
            f"({SCHEMA_VERSION}); upgrade ida"
        )
    nodes = [_parse_line(path, i, line, NodeRecord) for i, line in enumerate(lines[1:], 2) if line.strip()]
    for i, rec in enumerate(nodes):
        if rec.id != i:
            raise TranscriptError(f"{path}:{i + 2}: node id {rec.id} out of order, expected {i}")
    if nodes and not 0 <= header.root < len(nodes):
        raise TranscriptError(f"{path}:1: root {header.root} is not a node of this transcript")
    return header, nodes


def _parse_line(path: Path, lineno: int, line: str, model: type[BaseModel]) -> Any:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        raise TranscriptError(f"{path}:{lineno}: not JSON: {e.msg} (column {e.colno})") from None
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "line"
        raise TranscriptError(f"{path}:{lineno}: {where}: {err['msg']}") from None


def load_transcript(path: str | Path) -> Tree:
    """Read a transcript back into a `Tree`."""
    header, records = read_transcript(path)
    nodes = []
    for rec in records:
        try:
            question = parse(rec.question)
            answer = None if rec.answer is None else parse(rec.answer)
        except HypertextError as e:
            raise TranscriptError(f"{path}:{rec.id + 2}: {e}") from None
        node = Node(id=rec.id, question=question, depth=rec.depth, policy=rec.policy,
                    parents=list(rec.parents), answer=answer, failure=rec.failure)
        for s in rec.steps:
            # Workspaces grow by appending lines, so each step's workspace is a prefix of the last.
            ws = s.workspace.split("\n") if s.workspace else []
            if len(ws) > len(node.lines):
                node.lines = ws
            node.steps.append(Step(action=s.action, result=s.result, ws_lines=len(ws), child=s.child,
                                   lookup=s.lookup, corrects=s.corrects))
        for s in node.steps:
            if s.child is not None and not 0 <= s.child < len(records):
                raise TranscriptError(f"{path}:{rec.id + 2}: step points to missing node {s.child}")
        nodes.append(node)
    return Tree(nodes=nodes, run_id=header.run_id, task=header.task, db_revision=header.db_revision,
                created=header.created, corrects=header.corrects, meta=header.meta, root=header.root)

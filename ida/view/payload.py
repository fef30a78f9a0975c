"""The data a page shows, as plain JSON of a fixed shape (documented here, read by page.js).

Two blobs, so that a big tree's first screen needs only the first:

* the summary (`Payload`): per run, column arrays, one entry a node: `q` question, `a` answer
  (null: none), `fail` failure reason, `pol` index into `policies` ([name, kind]), `cost`
  (actions), `kids` distinct children in ask order, `np` the times it was asked (above 1: a
  shared node, reused by memoization, by one parent or several), `depth`; plus the backward reports, the run diffs and iterate's curves.
* the details, one per run, parsed by the page only when a workspace is opened: `lines` each
  node's workspace, `steps` each node's steps as [kind, action, result, lines seen, child or
  -1, error, lookup: [query, entry ids, db revision] or null], `ptr` for nodes whose
  workspace names pointers: [[name, message index]], and `msgs`: [text, [message index...]],
  each message's top level with its children as $1, $2, ... (what `unlock` shows).

Column arrays rather than an object a node keep the page about the size of the transcript.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ida.hypertext import Message, PointerNames, new_parts_first
from ida.overseer.saved import ReportFile
from ida.tree import Node, Tree, pointer_names
from ida.view.diff import RunDiff

PAYLOAD_VERSION = 1


class RunInfo(BaseModel):
    run_id: str
    label: str
    task: str | None = None
    root: int = 0
    db_revision: int | None = None
    created: str = ""
    corrects: str | None = None
    nodes: int = 0
    path: str | None = None


class Curves(BaseModel):
    """iterate's rounds: the SVG drawn in Python (see ida.view.svg) and the table beside it."""

    title: str
    svg: str
    columns: list[str]
    rows: list[list[str]]


class Payload(BaseModel):
    version: int = PAYLOAD_VERSION
    title: str
    runs: list[dict[str, Any]] = []  # RunInfo fields plus the node columns (see the module doc)
    reports: list[dict[str, Any]] = []  # ReportFile fields plus `run`, the index of the run it blames
    diffs: list[dict[str, Any]] = []  # {a, b, first_a, first_b, marks_a, marks_b}
    curves: Curves | None = None


def policy_kind(name: str) -> str:
    """person, automated (replayed from a person's cached actions), model, overseer or script."""
    if name == "human" or name.startswith("human"):
        return "person"
    if name.startswith("memo("):
        return "automated"
    if name.startswith(("distilled", "deferring", "model")):
        return "model"
    if name.startswith("overseer:"):
        return "overseer"
    return "script"


def run_columns(tree: Tree, label: str, path: str | None = None) -> dict[str, Any]:
    info = RunInfo(run_id=tree.run_id, label=label, task=tree.task, root=tree.root, db_revision=tree.db_revision,
                   created=tree.created, corrects=tree.corrects, nodes=len(tree), path=path)
    policies: dict[str, int] = {}
    q, a, fail, pol, cost, kids, depth = [], [], [], [], [], [], []
    asked = [0] * len(tree)
    for n in tree.nodes:
        q.append(n.question.text())
        a.append(n.answer_text)
        fail.append(n.failure)
        pol.append(policies.setdefault(n.policy, len(policies)))
        cost.append(len(n.steps))
        for c in n.children:
            asked[c] += 1
        kids.append(list(dict.fromkeys(n.children)))
        depth.append(n.depth)
    return {**info.model_dump(), "q": q, "a": a, "fail": fail, "pol": pol,
            "policies": [[p, policy_kind(p)] for p in policies], "cost": cost, "kids": kids, "np": asked,
            "depth": depth}


def run_details(tree: Tree) -> dict[str, Any]:
    msgs: list[list[Any]] = []
    index: dict[str, int] = {}
    ptr: dict[int, list[list[Any]]] = {}
    steps = []
    for n in tree.nodes:
        steps.append([[s.kind or "", s.action, s.result, s.ws_lines, -1 if s.child is None else s.child, s.error,
                       None if s.lookup is None else [s.lookup.query, s.lookup.entry_ids, s.lookup.revision]]
                      for s in n.steps])
        if any("$" in line for line in n.lines):  # the common case, no pointers, costs one scan
            ptr[n.id] = [[f"${i + 1}", _add_message(m, msgs, index)] for i, m in enumerate(pointers(n, tree))]
    return {"lines": [n.lines for n in tree.nodes], "steps": steps, "ptr": ptr, "msgs": msgs}


def pointers(node: Node, tree: Tree) -> list[Message]:
    """The messages behind a node's `$1`, `$2`, ... (`ida.tree.pointer_names`)."""
    return pointer_names(node, tree).messages


def _add_message(m: Message, msgs: list[list[Any]], index: dict[str, int]) -> int:
    """Index of `m` in the message table, adding it and what it contains, children first."""
    for x in new_parts_first(m, index):
        names = PointerNames()
        text = names.render(x)
        index[x.address] = len(msgs)
        msgs.append([text, [index[c.address] for c in names.messages]])
    return index[m.address]


def report_dict(report: ReportFile, run: int) -> dict[str, Any]:
    return {**report.model_dump(mode="json"), "run": run}


def diff_dict(d: RunDiff, a: int, b: int) -> dict[str, Any]:
    return {"a": a, "b": b, "first_a": d.first_a, "first_b": d.first_b, "marks_a": d.marks_a, "marks_b": d.marks_b}

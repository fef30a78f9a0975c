"""Rich views of trees and workspaces. Rendering only: no decisions are made here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree as RichTree

from ida.hypertext import Message
from ida.tree import Node, Tree
from ida.workspace import Workspace

Show = Callable[[Message], str]  # how a message is written: in full (`Message.text`), or as a workspace sees it


def node_label(node: Node, mark: str = "", show: Show = Message.text) -> Text:
    t = Text()
    t.append(f"#{node.id} ", style="dim")
    t.append(show(node.question), style="bold" if node.depth == 0 else "")
    if node.failure:
        t.append(f"  ✗ {node.answer_text}", style="red")
    elif node.answer is not None:
        t.append(f"  → {show(node.answer)}", style="green")
    else:
        t.append("  (unanswered)", style="yellow")
    if mark:
        t.append(f"  {mark}", style="bold magenta")
    return t


def tree_view(tree: Tree, depth: int = 4, marks: dict[int, str] | None = None, width: int = 8,
              show: Show = Message.text) -> RichTree:
    """The tree from the root, `depth` levels deep, `width` children per node at most; `show`
    writes its messages (in full by default).

    A node reached again through memoization is shown once and then referred to.
    """
    marks = marks or {}
    root = tree.root_node
    view = RichTree(node_label(root, marks.get(root.id, ""), show))
    shown = {root.id}
    stack = [(root, view)]
    while stack:  # iterative: trees can be deeper than Python's recursion limit
        node, branch = stack.pop()
        kids = node.children
        if node.depth - root.depth >= depth and kids:
            branch.add(Text(f"… {len(kids)} subquestion(s) below depth {depth}", style="dim"))
            continue
        pending = []
        for cid in kids[:width]:
            child = tree.nodes[cid]
            if cid in shown:
                branch.add(Text(f"#{cid} (shared) {show(child.question)}", style="dim cyan"))
                continue
            shown.add(cid)
            pending.append((child, branch.add(node_label(child, marks.get(cid, ""), show))))
        if len(kids) > width:
            branch.add(Text(f"… {len(kids) - width} more", style="dim"))
        stack.extend(reversed(pending))
    return view


def report_view(report, limit: int = 200) -> RichTree:
    """The path of blame: the tree cut down to the nodes the pass visited, each with its
    target and verdict; nodes the pass never reached are left out."""
    nodes = report.tree.nodes
    visits = {v.node: v for v in report.visits}
    conflicts = {c.node: c for c in report.conflicts}
    title = Text(f"backward pass ({report.overseer}): {len(report.visits)} nodes visited, "
                 f"{len(report.blamed)} blamed, {len(report.unexplained)} unexplained, {len(report.conflicts)} conflicts"
                 + (f", {len(report.blame_trees)} blame trees" if report.blame_trees else "")
                 + (f"; guess and check: {report.forward_runs} of {report.forward_budget} forward runs, "
                    f"{report.overseer_calls} overseer calls" if report.forward_budget else ""), style="bold")
    view = RichTree(title)
    if not report.visits:
        return view
    shown = 0
    stack = [(report.tree.root, view)]
    seen = set()
    while stack and shown < limit:  # iterative: blame paths can be deeper than the recursion limit
        nid, parent = stack.pop()
        if nid in seen:
            continue
        seen.add(nid)
        shown += 1
        label = node_label(nodes[nid])
        if nid in conflicts:
            wants = "; ".join(f"#{p} wants {t!r}" for p, t in conflicts[nid].targets)
            branch = parent.add(label + Text(f"\n  ⚠ conflict: {wants}", style="bold yellow"))
            continue
        v = visits[nid]
        said = "feedback" if nid == report.tree.root else "should be"
        branch = parent.add(label + Text(f"\n  {said}: {v.target}\n  ", style="dim") + verdict(v.blame))
        kids = [c for c in dict.fromkeys(nodes[nid].children) if c in visits or c in conflicts]
        stack.extend((c, branch) for c in reversed(kids))
    if shown >= limit and stack:
        view.add(Text(f"… more nodes (shown {limit})", style="dim"))
    return view


def verdict(blame) -> Text:
    if blame.ok:
        return Text("ok", style="green")
    parts = []
    for e in blame.edits:
        what = f"e{e.entry_id}" if e.entry_id is not None else repr(e.key)
        parts.append(f"✗ {e.op} {what}: {e.text}" if e.op != "remove" else f"✗ remove e{e.entry_id}")
    if blame.correction:
        parts.append(f"✗ step {blame.correction.step} should be: {blame.correction.action}")
    if blame.targets:
        parts.append("→ " + ", ".join(f"#{c} should answer {t}" for c, t in blame.targets.items()))
    if blame.note and not parts:
        parts.append(f"? {blame.note}")
    elif blame.note.startswith("guessed"):  # say that the change was a guess, and how it was checked
        parts.append(f"  ({blame.note})")
    if not parts:
        parts.append("? nothing to say")
    style = "bold red" if blame.blamed else ("cyan" if blame.targets else "yellow")
    return Text("\n".join(parts), style=style)


# ---- the view of one workspace --------------------------------------------------------


@dataclass
class WorkspaceParts:
    """A workspace sorted into what a person looks for."""

    question: str = ""
    unlocked: list[str] = field(default_factory=list)
    lookups: list[tuple[str, list[str]]] = field(default_factory=list)
    subquestions: list[tuple[str, str | None]] = field(default_factory=list)
    scratch: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def workspace_parts(ws: Workspace) -> WorkspaceParts:
    """The workspace's entries, sorted into parts: read from the data, not from the rendered text."""
    parts = WorkspaceParts(question=ws.lines[0].removeprefix("question: "))
    for e in ws.entries:
        if e.error is not None:
            parts.errors.append(f"{e.action}: {e.error}")
        elif e.kind == "ask":
            parts.subquestions.append((e.arg, e.shown.removeprefix("answer: ") if e.shown else None))
        elif e.kind == "unlock":
            parts.unlocked.append(e.shown)
        elif e.kind == "lookup":
            parts.lookups.append((e.arg, [e.shown]))
        elif e.kind == "scratch":
            parts.scratch.append(e.arg)
    return parts


def workspace_view(ws: Workspace, footer: str = "") -> Panel:
    """The workspace as a panel: question, unlocked pointers, lookups, subquestions, scratchpad."""
    p = workspace_parts(ws)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("question", Text(p.question))
    if p.unlocked:
        grid.add_row("unlocked", Text("\n".join(p.unlocked)))
    for query, results in p.lookups:
        grid.add_row("lookup", Text("\n".join([query] + [f"  {r}" for r in results])))
    if p.subquestions:
        sub = Text()
        for i, (q, a) in enumerate(p.subquestions, 1):
            if i > 1:
                sub.append("\n")
            sub.append(f"{i}. {q}\n   ")
            sub.append(f"answer: {a}" if a is not None else "(waiting)", style="green" if a is not None else "yellow")
        grid.add_row("subquestions", sub)
    if p.scratch:
        grid.add_row("scratchpad", Text("\n".join(p.scratch)))
    if p.errors:
        grid.add_row("errors", Text("\n".join(p.errors), style="red"))
    budget = f"{ws.budget_left} actions left" if ws.budget_left is not None else ""
    status = " · ".join(s for s in (budget, footer) if s)
    if status:
        grid.add_row("budget", Text(status, style="dim"))
    return Panel(grid, title=f"workspace #{ws.node_id} · depth {ws.depth}", title_align="left", expand=False)

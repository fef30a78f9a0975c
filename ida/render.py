"""Rich views of trees and workspaces. Rendering only: no decisions are made here."""

from __future__ import annotations

from rich.panel import Panel
from rich.text import Text
from rich.tree import Tree as RichTree

from ida.tree import Node, Tree


def node_label(node: Node, mark: str = "") -> Text:
    t = Text()
    t.append(f"#{node.id} ", style="dim")
    t.append(node.question.text(), style="bold" if node.depth == 0 else "")
    if node.failure:
        t.append(f"  ✗ {node.answer_text}", style="red")
    elif node.answer is not None:
        t.append(f"  → {node.answer_text}", style="green")
    else:
        t.append("  (unanswered)", style="yellow")
    if mark:
        t.append(f"  {mark}", style="bold magenta")
    return t


def tree_view(tree: Tree, depth: int = 4, marks: dict[int, str] | None = None, width: int = 8) -> RichTree:
    """The tree from the root, `depth` levels deep, `width` children per node at most.

    A node reached again through memoization is shown once and then referred to.
    """
    marks = marks or {}
    root = tree.root_node
    view = RichTree(node_label(root, marks.get(root.id, "")))
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
                branch.add(Text(f"#{cid} (shared) {child.question.text()}", style="dim cyan"))
                continue
            shown.add(cid)
            pending.append((child, branch.add(node_label(child, marks.get(cid, "")))))
        if len(kids) > width:
            branch.add(Text(f"… {len(kids) - width} more", style="dim"))
        stack.extend(reversed(pending))
    return view


def workspace_panel(text: str, title: str = "workspace", subtitle: str = "") -> Panel:
    return Panel(Text(text), title=title, subtitle=subtitle, expand=False)

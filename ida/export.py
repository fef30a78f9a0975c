"""Trees as graphs for other tools: GraphML (networkx reads it back), Graphviz DOT, node-link JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ida.errors import IdaError
from ida.files import write_atomic
from ida.tree import Tree

if TYPE_CHECKING:
    import networkx as nx

FORMATS = ("graphml", "dot", "json")


def to_dot(g: nx.DiGraph) -> str:
    def q(s: object) -> str:
        return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = ["digraph ida {", "  node [shape=box, fontname=monospace];"]
    for n, a in g.nodes(data=True):
        label = f"#{n} {a['question']}" + (f"\n→ {a['answer']}" if a["answer"] else "")
        color = ', color="red"' if a["failure"] else ""
        lines.append(f"  {n} [label={q(label)}{color}];")
    lines += [f"  {u} -> {v};" for u, v in g.edges()]
    lines.append("}")
    return "\n".join(lines) + "\n"


def export(tree: Tree, fmt: str, path: str | Path) -> Path:
    """Write `tree` as `fmt` to `path`, atomically: a failed export leaves the old file whole."""
    if fmt not in FORMATS:
        raise IdaError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    import networkx as nx  # here, not at the top: `import ida` stays light

    g = tree.to_networkx()
    if fmt == "graphml":
        buf = io.BytesIO()
        nx.write_graphml(g, buf)
        data: str | bytes = buf.getvalue()
    elif fmt == "dot":
        data = to_dot(g)
    else:
        data = json.dumps(nx.node_link_data(g, edges="edges"), indent=1)
    return write_atomic(path, data)

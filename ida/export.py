"""Trees as graphs for other tools: GraphML (networkx reads it back), Graphviz DOT, node-link JSON."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx

from ida.errors import IdaError
from ida.tree import Tree

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
    g = tree.to_networkx()
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "graphml":
            nx.write_graphml(g, path)
        elif fmt == "dot":
            path.write_text(to_dot(g), encoding="utf-8")
        elif fmt == "json":
            path.write_text(json.dumps(nx.node_link_data(g, edges="edges"), indent=1), encoding="utf-8")
        else:
            raise IdaError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    except OSError as e:
        raise IdaError(f"cannot write {path}: {e.strerror}") from None
    return path

"""Trees for other tools: GraphML (networkx reads it back), Graphviz DOT, node-link JSON,
OpenTelemetry/OpenInference spans (see ida.otel) and dataset rows.

`hf` rows are JSON Lines, one distillation pair a line, loadable with Hugging Face
`datasets.load_dataset("json", data_files=PATH)`; every row has the same columns (the
schema is `HF_COLUMNS`, described in the README): `mode` is "policy" (prompt: the rendered
workspace a step saw, completion: the action it took) or "answer" (prompt: the question,
completion: the node's answer). Steps the engine refused and failed answers are left out,
as distillation leaves them out.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ida.errors import IdaError
from ida.files import write_atomic
from ida.tree import Tree

if TYPE_CHECKING:
    import networkx as nx

    from ida.overseer.saved import ReportFile

FORMATS = ("graphml", "dot", "json", "otel", "hf")
HF_COLUMNS = ("mode", "prompt", "completion", "question", "task", "run_id", "node", "step", "policy", "correction")


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


def hf_rows(tree: Tree) -> Iterator[dict[str, Any]]:
    """The distillation pairs of one tree as rows of `HF_COLUMNS` (step -1: an answer row)."""
    from ida.actions import failed
    from ida.distill.data import _rejected  # the one rule for what distillation imitates

    fix = tree.corrects is not None
    for n in tree.nodes:
        q = n.question.text()
        for i, s in enumerate(n.steps):
            if not _rejected(s):
                yield {"mode": "policy", "prompt": n.workspace_at(i), "completion": s.action, "question": q,
                       "task": tree.task, "run_id": tree.run_id, "node": n.id, "step": i, "policy": n.policy,
                       "correction": fix or s.corrects is not None}
        a = n.answer_text
        if a is not None and n.failure is None and not failed(a):
            yield {"mode": "answer", "prompt": q, "completion": a, "question": q, "task": tree.task,
                   "run_id": tree.run_id, "node": n.id, "step": -1, "policy": n.policy, "correction": fix}


def export(tree: Tree, fmt: str, path: str | Path, report: ReportFile | None = None) -> Path:
    """Write `tree` as `fmt` to `path`, atomically: a failed export leaves the old file whole.
    `report` (a saved backward report about this tree) adds the blame to `otel` spans."""
    if fmt not in FORMATS:
        raise IdaError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if fmt == "otel":
        from ida.otel import otel_trace

        return write_atomic(path, json.dumps(otel_trace(tree, report, _version()), ensure_ascii=False) + "\n")
    if fmt == "hf":
        return write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in hf_rows(tree)))
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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ida")
    except PackageNotFoundError:
        return ""

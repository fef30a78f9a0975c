"""A tree as OpenTelemetry spans with OpenInference attributes, in the OTLP JSON shape.

One trace a run; one span a node (`openinference.span.kind` CHAIN, its question as
`input.value`, its answer as `output.value`), its parent span the node that first asked it,
the other askers of a shared (memoized) node as span links; each lookup a child span of
kind RETRIEVER with the entries it returned as `retrieval.documents`; each step a span
event. A saved backward report adds the blame: `ida.blame.*` attributes and an `ida.blame`
event on the span of each node the pass visited. A failed node has status ERROR.

ida records no clock time a node, so times are synthetic: the run's creation time plus
1 ms a node in the order the engine opened them, each span ending after its children.
They order the spans; they do not measure them. Ids are derived from the run id, so the
same transcript always gives the same trace.

Conventions: OTLP/JSON as in opentelemetry-proto 1.x (`resourceSpans` / `scopeSpans` /
`spans`, hex ids, times and 64-bit integers as decimal strings); OpenInference semantic
conventions as in openinference-semantic-conventions 0.1.x.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from ida.overseer.saved import ReportFile
from ida.tree import Tree

NODE_NS = 1_000_000  # the synthetic time between two nodes' starts
STATUS_ERROR = 2
SPAN_KIND_INTERNAL = 1


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, list):
        return {"arrayValue": {"values": [_value(x) for x in v]}}
    return {"stringValue": str(v)}


def _attrs(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in d.items() if v is not None]


def _hex(*parts: object, n: int) -> str:
    return hashlib.sha256("\x00".join(map(str, parts)).encode()).hexdigest()[:n]


def _base_ns(created: str) -> int:
    try:
        return int(datetime.fromisoformat(created).timestamp()) * 1_000_000_000
    except ValueError:
        return 0


def _verdict(v: Any) -> str:
    return "ok" if v.ok else "blamed" if v.blamed else "passed down" if v.targets else "unexplained"


def otel_trace(tree: Tree, report: ReportFile | None = None, version: str = "") -> dict[str, Any]:
    """The OTLP JSON document (`{"resourceSpans": [...]}`) for one run."""
    trace_id = _hex(tree.run_id, n=32)
    span_id = [_hex(tree.run_id, i, n=16) for i in range(len(tree))]
    base = _base_ns(tree.created)
    start = [base + i * NODE_NS for i in range(len(tree))]
    end = [s + NODE_NS // 2 for s in start]
    for n in reversed(tree.nodes):  # a child has a higher id than the node that first asked it
        if n.parents:
            p = n.parents[0]
            end[p] = max(end[p], end[n.id] + 1)
    visits = {v.node: v for v in report.visits} if report else {}
    spans = []
    for n in tree.nodes:
        attrs: dict[str, Any] = {
            "openinference.span.kind": "CHAIN", "input.value": n.question.text(), "input.mime_type": "text/plain",
            "output.value": n.answer_text, "output.mime_type": None if n.answer is None else "text/plain",
            "ida.run_id": tree.run_id, "ida.node.id": n.id, "ida.node.depth": n.depth, "ida.policy": n.policy,
            "ida.cost": len(n.steps), "ida.node.parents": len(set(n.parents)), "ida.failure": n.failure,
        }
        events = [{"timeUnixNano": str(start[n.id] + i + 1), "name": "ida.step",
                   "attributes": _attrs({"ida.step.index": i, "ida.step.kind": s.kind or "", "ida.step.action": s.action,
                                         "ida.step.result": s.result, "ida.step.error": s.error})}
                  for i, s in enumerate(n.steps)]
        v = visits.get(n.id)
        if v is not None:
            attrs.update({"ida.blame.target": v.target, "ida.blame.verdict": _verdict(v), "ida.blame.blamed": v.blamed})
            events.append({"timeUnixNano": str(end[n.id] - 1), "name": "ida.blame", "attributes": _attrs({
                "ida.blame.target": v.target, "ida.blame.verdict": _verdict(v), "ida.blame.note": v.note or None,
                "ida.blame.targets": [f"#{c}: {t}" for c, t in v.targets.items()] or None,
                "ida.blame.edits": [f"{e.op} {e.key or e.entry_id}: {e.text or ''} ({e.reason})" for e in v.edits] or None,
                "ida.blame.correction": None if v.correction is None else f"step {v.correction.step}: {v.correction.action}",
                "ida.blame.feedback": report.feedback if report else None})})
        span: dict[str, Any] = {
            "traceId": trace_id, "spanId": span_id[n.id], "name": n.question.text()[:120], "kind": SPAN_KIND_INTERNAL,
            "startTimeUnixNano": str(start[n.id]), "endTimeUnixNano": str(end[n.id]),
            "attributes": _attrs(attrs), "events": events,
            "links": [{"traceId": trace_id, "spanId": span_id[p], "attributes": _attrs({"ida.link": "also asked by"})}
                      for p in dict.fromkeys(n.parents[1:])],
            "status": {"code": STATUS_ERROR, "message": n.failure} if n.failure else {},
        }
        if n.parents:
            span["parentSpanId"] = span_id[n.parents[0]]
        spans.append(span)
        spans.extend(_lookups(tree, n.id, trace_id, span_id[n.id], start[n.id]))
    resource = {"attributes": _attrs({"service.name": "ida", "ida.run_id": tree.run_id, "ida.task": tree.task})}
    scope = {"name": "ida", "version": version}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": scope, "spans": spans}]}]}


def _lookups(tree: Tree, nid: int, trace_id: str, parent: str, t0: int) -> list[dict[str, Any]]:
    out = []
    for i, s in enumerate(tree.nodes[nid].steps):
        if s.lookup is None:
            continue
        lines = s.result.splitlines() if s.lookup.entry_ids else []
        docs: dict[str, Any] = {}
        for k, eid in enumerate(s.lookup.entry_ids):
            docs[f"retrieval.documents.{k}.document.id"] = f"e{eid}"
            docs[f"retrieval.documents.{k}.document.content"] = lines[k] if k < len(lines) else None
        out.append({
            "traceId": trace_id, "spanId": _hex(tree.run_id, nid, "lookup", i, n=16), "parentSpanId": parent,
            "name": f"lookup {s.lookup.query}"[:120], "kind": SPAN_KIND_INTERNAL,
            "startTimeUnixNano": str(t0 + 1000 * (i + 1)), "endTimeUnixNano": str(t0 + 1000 * (i + 1) + 500),
            "attributes": _attrs({"openinference.span.kind": "RETRIEVER", "input.value": s.lookup.query,
                                  "ida.db.revision": s.lookup.revision, "ida.step.index": i, **docs}),
        })
    return out

"""A backward pass's corrections carried into automation, where a session's decisions come from.

A session answers a context it has seen before from automation (`ida.policies.memo`), so a
correction saved only as a transcript would be replayed wrong the next time. Each correction
of a step a person or automation took updates the automation entry of that step's context
(`node.workspace_at(step)`, the key the step was looked up under), with the overseer as its
author and the run, node and step as its provenance:

* set: the corrected action, written in the workspace's own terms (`ida.seen.in_terms_of`:
  a message it names becomes its `$n`), is replayed from now on;
* forget: the person is asked there again, where the correction cannot stand for every
  workspace that reads the same: it is no action, it names a pointer the workspace lacks or
  writes out content the workspace keeps locked, it replies from a workspace that has looked
  at nothing yet (the answer cannot come from what it shows), or the same context elsewhere
  in the tree needs another action;
* stale: the entry says something else than the step did (changed since the run): left alone.

An overseer that wants a person to look (someone answered without unlocking) corrects the
step with the action that looks (`unlock $2`), which is then replayed, and the person is
asked in the workspace it opens. Steps of trees that are no session's (a script's run) are
left alone unless automation already has their context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ida.actions import ActionError, parse_action
from ida.hypertext import HypertextError, PointerNames, parse
from ida.overseer.backward import Report
from ida.policies.memo import Automation, Origin, workspace_key
from ida.seen import in_terms_of
from ida.tree import Node, Tree, pointer_names


@dataclass
class AutoChange:
    """What one correction did to automation."""

    node: int
    step: int
    kind: Literal["set", "forget", "stale"]
    action: str | None  # set: the action replayed; stale: what the entry says
    entry: int | None  # the entry's id (None: there was none to forget)
    why: str = ""


def correct_automation(report: Report, automation: Automation) -> list[AutoChange]:
    """Update automation from the report's corrections, in one transaction."""
    tree = report.tree
    session = tree.meta.get("session") if isinstance(tree.meta, dict) else None
    changes: list[AutoChange] = []
    corrected = {(c.node, c.step): c.action for c in report.corrections}
    same: dict[tuple[int, str], list[tuple[Node, int]]] | None = None  # steps by (lines seen, question line)
    with automation.transaction():
        for c in report.corrections:
            node = tree.nodes[c.node]
            context = node.workspace_at(c.step)
            entry = automation.find(context)
            if entry is None and session is None:
                continue  # not a session's step, and automation never had this context
            names = pointer_names(node, tree, c.step)
            if entry is not None and entry.live and normal(entry.action, names) != normal(node.steps[c.step].action, names):
                changes.append(AutoChange(c.node, c.step, "stale", entry.action, entry.id,
                                          "the entry changed since this run; left alone"))
                continue
            if same is None:
                same = _steps_by_context(tree)
            action, why = _decide(tree, node, c.step, c.action, names, corrected, same)
            origin = Origin(author=f"overseer:{report.overseer}", run=tree.run_id, node=c.node, step=c.step,
                            reason=f"correction (feedback: {report.feedback})" + (f"; {why}" if why else ""))
            if action is not None:
                changes.append(AutoChange(c.node, c.step, "set", action, automation.put(context, action, origin)))
            else:
                automation.forget(workspace_key(context), origin=origin)
                changes.append(AutoChange(c.node, c.step, "forget", None, entry.id if entry else None, why))
    return changes


def normal(action: str, names: PointerNames) -> str | None:
    """An action in the workspace's own terms (None: not one this workspace can take as written)."""
    try:
        a = parse_action(action)
        if a.kind not in ("ask", "reply"):
            return a.render()
        arg = in_terms_of(names, parse(a.arg, names))
    except (ActionError, HypertextError):
        return None
    return None if arg is None else f"{a.kind} {arg}"


def _decide(tree: Tree, node: Node, step: int, action: str, names: PointerNames,
            corrected: dict[tuple[int, int], str],
            same: dict[tuple[int, str], list[tuple[Node, int]]]) -> tuple[str | None, str]:
    """(the action to replay, "") or (None, why the person is asked again)."""
    try:
        kind = parse_action(action).kind
    except ActionError:
        return None, "the correction is no action: the person decides"
    if kind == "unlock" and names.get(parse_action(action).pointer) is None:
        return None, "it names a pointer the workspace does not have"
    written = normal(action, names)
    if written is None:
        return None, "it holds what the workspace keeps locked (or names a pointer it lacks)"
    if kind == "reply" and len(names) > 0 and not _looked(node, step):
        return None, "the workspace had opened nothing: its answer cannot come from what it shows"
    other = _other_need(tree, node, step, written, corrected, same)
    if other is not None:
        return None, f"the same workspace at #{other} needs another action"
    return written, ""


def _looked(node: Node, step: int) -> bool:
    """Whether the node had unlocked, asked or looked anything up before `step`."""
    return any(s.kind in ("unlock", "ask", "lookup") and s.error is None for s in node.steps[:step])


def _steps_by_context(tree: Tree) -> dict[tuple[int, str], list[tuple[Node, int]]]:
    """Every step, under (lines its workspace had, its question line): contexts that may be equal."""
    out: dict[tuple[int, str], list[tuple[Node, int]]] = {}
    for n in tree.nodes:
        for i, s in enumerate(n.steps):
            out.setdefault((s.ws_lines, n.lines[0] if n.lines else ""), []).append((n, i))
    return out


def _other_need(tree: Tree, node: Node, step: int, written: str, corrected: dict[tuple[int, int], str],
                same: dict[tuple[int, str], list[tuple[Node, int]]]) -> int | None:
    """Another node whose step saw the same context and whose right action differs: what it did,
    or its correction there. Steps after a node's first correction followed a wrong step: left out."""
    seen = node.steps[step].ws_lines
    context = node.lines[:seen]
    first_fix: dict[int, int] = {}
    for n, i in corrected:
        first_fix[n] = min(i, first_fix.get(n, i))
    for other, i in same.get((seen, node.lines[0] if node.lines else ""), []):
        if other.id == node.id or i > first_fix.get(other.id, i) or other.lines[:seen] != context:
            continue
        right = normal(corrected.get((other.id, i), other.steps[i].action), pointer_names(other, tree, i))
        if right != written:
            return other.id
    return None

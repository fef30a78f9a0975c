"""Turning a report into changes: database edits with provenance, corrected steps as a transcript,
and the `fix` loop (forward, check, backward, apply, forward again)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from collections.abc import Callable

from ida.actions import Action, ActionError, parse_action
from ida.engine import run
from ida.hypertext import HypertextError, parse
from ida.overseer.backward import Overseer, Report, backward
from ida.policy import Policy
from ida.tree import Node, Step, StepCorrects, Tree

if TYPE_CHECKING:
    from ida.experience import Entry, ExperienceDB
    from ida.overseer.automation import AutoChange
    from ida.policies.memo import Automation



@dataclass
class Applied:
    entries: list[Entry] = field(default_factory=list)  # entries added or edited (removed ones by id)
    removed: list[int] = field(default_factory=list)
    corrections: Path | None = None
    revision: int | None = None
    automation: list[AutoChange] = field(default_factory=list)  # corrections carried into automation


def apply(report: Report, db: ExperienceDB | None, corrections_dir: str | Path | None = None,
          automation: Automation | None = None) -> Applied:
    """Commit every edit in one transaction, each with its provenance; save corrected steps; and,
    given `automation`, update the entries of the corrected steps' contexts (`ida.overseer.automation`)."""
    from ida.experience import Provenance

    out = Applied()
    if report.edits:
        if db is None:
            raise ValueError("the report has database edits but no database was given")
        with db.transaction():  # all or nothing
            for e in report.edits:
                prov = Provenance(note=e.reason, run_id=report.tree.run_id, node_id=e.node, feedback=report.feedback)
                author = f"overseer:{report.overseer}"
                if e.op == "add":
                    out.entries.append(db.add(e.key or "", e.text or "", author=author, provenance=prov))
                elif e.op == "edit":
                    out.entries.append(db.edit(e.entry_id, e.text, key=e.key, author=author, provenance=prov))  # type: ignore[arg-type]
                else:
                    db.remove(e.entry_id, author=author, provenance=prov)  # type: ignore[arg-type]
                    out.removed.append(e.entry_id)  # type: ignore[arg-type]
            out.revision = db.revision  # read inside the transaction: this change's, not a later writer's
    elif db is not None:
        out.revision = db.revision
    if report.corrections and corrections_dir is not None:
        out.corrections = corrections_tree(report).save(Path(corrections_dir) / f"{report.tree.run_id}.jsonl")
    if report.corrections and automation is not None:
        from ida.overseer.automation import correct_automation

        out.automation = correct_automation(report, automation)
    return out


def corrections_tree(report: Report) -> Tree:
    """The corrected steps as a transcript: each node shown the workspace it had, and the right action.

    Distillation trains on these like on any transcript; a corrected step overrides the
    original step that saw the same workspace.
    """
    tree, nodes = report.tree, list[Node]()
    for c in report.corrections:
        src = tree.nodes[c.node]
        seen = src.steps[c.step].ws_lines
        answer, action = None, _parsed(c.action)
        if action is not None and action.kind == "reply":
            # corrections reply in full text; one that names the workspace's pointers keeps no answer
            with contextlib.suppress(HypertextError):
                answer = parse(action.arg)
        nodes.append(Node(
            id=len(nodes), question=src.question, depth=src.depth, policy=f"overseer:{report.overseer}",
            lines=src.lines[:seen], answer=answer,
            steps=[Step(action=c.action, ws_lines=seen, kind=None if action is None else action.kind,
                        corrects=StepCorrects(run_id=tree.run_id, node=c.node, step=c.step))],
        ))
    return Tree(nodes=nodes, run_id=f"{tree.run_id}-fix", task=tree.task, corrects=tree.run_id,
                created=tree.created, meta={"feedback": report.feedback})


def _parsed(text: str) -> Action | None:
    try:
        return parse_action(text)
    except ActionError:
        return None


@dataclass
class FixStep:
    tree: Tree
    report: Report | None = None
    applied: Applied | None = None

    @property
    def right(self) -> bool:
        return self.report is None


@dataclass
class FixResult:
    steps: list[FixStep]

    @property
    def fixed(self) -> bool:
        return bool(self.steps) and self.steps[-1].right


def fix(
    question: str,
    target: str,
    policy: Policy,
    overseer: Overseer,
    db: ExperienceDB | None = None,
    max_steps: int = 5,
    judge: Callable[[Tree], str | None] | None = None,
    on_step: Callable[[FixStep], None] | None = None,
    corrections_dir: str | Path | None = None,
    **run_kwargs,
) -> FixResult:
    """Forward, check, backward, apply, forward again: until the root is right or steps run out.

    `judge(tree)` returns None when the run is right, else the feedback for the backward pass;
    by default the run is right when its answer equals `target`, and the feedback is `target`.
    """
    judge = judge or (lambda t: None if t.answer == target else target)
    steps: list[FixStep] = []
    for _ in range(max_steps):
        tree = run(question, policy, db=db, **run_kwargs)
        feedback = judge(tree)
        step = FixStep(tree)
        steps.append(step)
        if feedback is not None:
            step.report = backward(tree, feedback, overseer)
            step.applied = apply(step.report, db, corrections_dir)
        if on_step:
            on_step(step)
        if feedback is None or not step.report.edits:  # type: ignore[union-attr]
            break  # right, or nothing left that a forward run would see differently
    return FixResult(steps)

"""A backward report as a file: what `ida backward`, `ida fix` and `ida vase` leave beside the
transcript they blamed, and what `ida view` reads.

The file names the transcript it is about (run id, node count and a digest of the tree's
shape and answers), so a report is never drawn on another run's tree: `check_matches`
refuses it in one line. The digest is of the tree, not of the file's bytes, so a transcript
re-saved by another version of ida still matches its report.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from ida.errors import IdaError
from ida.files import write_atomic
from ida.tree import Tree

if TYPE_CHECKING:
    from ida.overseer.apply import Applied
    from ida.overseer.backward import Report

SUFFIX = ".report.json"
REPORT_VERSION = 1


class ReportError(IdaError):
    """A report file that cannot be read, or that is about another transcript."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TranscriptIdentity(_Model):
    run_id: str
    nodes: int
    digest: str  # see tree_digest


class SavedEdit(_Model):
    op: str
    key: str | None = None
    text: str | None = None
    entry_id: int | None = None
    reason: str = ""
    node: int


class SavedCorrection(_Model):
    node: int
    step: int
    action: str


class SavedVisit(_Model):
    node: int
    target: str
    ok: bool = False
    blamed: bool = False
    targets: dict[int, str] = {}  # child id -> the answer it should give (passed down)
    edits: list[SavedEdit] = []
    correction: SavedCorrection | None = None
    note: str = ""


class SavedConflict(_Model):
    node: int
    targets: list[tuple[int, str]]  # (parent, target); parent -1 is the feedback itself


class AppliedEntry(_Model):
    """An entry as committed, with its provenance: the database's side of an edit."""

    id: int
    key: str
    text: str
    author: str
    run_id: str | None = None
    node_id: int | None = None
    feedback: str | None = None
    note: str = ""


class AppliedRecord(_Model):
    entries: list[AppliedEntry] = []
    removed: list[int] = []
    revision: int | None = None
    corrections: str | None = None  # the transcript of corrected steps, as a path


class ReportFile(_Model):
    kind: str = "ida-backward-report"
    version: int = REPORT_VERSION
    transcript: TranscriptIdentity
    feedback: str
    overseer: str = ""
    visits: list[SavedVisit] = []
    conflicts: list[SavedConflict] = []
    unexplained: list[int] = []
    overseer_calls: int = 0  # 0 in reports saved before guessing was counted
    forward_runs: int = 0  # runs spent checking guesses (guess and check)
    forward_budget: int = 0  # the most it could have spent; 0: the linear pass alone
    applied: AppliedRecord | None = None  # None: a dry run, nothing committed


def tree_digest(tree: Tree) -> str:
    """A digest of what a report refers to: every node's question, answer, failure and children."""
    h = hashlib.sha256()
    for n in tree.nodes:
        answer = "" if n.answer is None else n.answer.address
        h.update(f"{n.question.address}|{answer}|{n.failure or ''}|{len(n.steps)}|{n.children}\n".encode())
    return h.hexdigest()[:32]


def identity(tree: Tree) -> TranscriptIdentity:
    return TranscriptIdentity(run_id=tree.run_id, nodes=len(tree), digest=tree_digest(tree))


def report_path(transcript: str | Path) -> Path:
    """Where a transcript's report lives: `run.jsonl` -> `run.report.json`."""
    p = Path(transcript)
    return p.with_name(p.name.removesuffix(".jsonl") + SUFFIX)


def to_file(report: Report, applied: Applied | None = None) -> ReportFile:
    visits = []
    for v in report.visits:
        b = v.blame
        visits.append(SavedVisit(
            node=v.node, target=v.target, ok=b.ok, blamed=b.blamed, targets={} if b.ok else dict(b.targets),
            edits=[SavedEdit(op=e.op, key=e.key, text=e.text, entry_id=e.entry_id, reason=e.reason, node=e.node)
                   for e in b.edits],
            correction=None if b.correction is None else SavedCorrection(
                node=b.correction.node, step=b.correction.step, action=b.correction.action),
            note=b.note))
    record = None
    if applied is not None:
        record = AppliedRecord(
            entries=[AppliedEntry(id=e.id, key=e.key, text=e.text, author=e.author, run_id=e.provenance.run_id,
                                  node_id=e.provenance.node_id, feedback=e.provenance.feedback,
                                  note=e.provenance.note) for e in applied.entries],
            removed=list(applied.removed), revision=applied.revision,
            corrections=None if applied.corrections is None else str(applied.corrections))
    return ReportFile(transcript=identity(report.tree), feedback=report.feedback, overseer=report.overseer,
                      visits=visits, conflicts=[SavedConflict(node=c.node, targets=c.targets) for c in report.conflicts],
                      unexplained=[v.node for v in report.unexplained], overseer_calls=report.overseer_calls,
                      forward_runs=report.forward_runs, forward_budget=report.forward_budget, applied=record)


def save_report(report: Report, path: str | Path, applied: Applied | None = None) -> Path:
    """Write the report as JSON, atomically."""
    return write_atomic(path, to_file(report, applied).model_dump_json(indent=1) + "\n")


def load_report(path: str | Path) -> ReportFile:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except OSError as e:
        raise ReportError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        return ReportFile.model_validate_json(raw)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "file"
        raise ReportError(f"{path}: not a backward report ({where}: {err['msg']})") from None


def matches(report: ReportFile, tree: Tree) -> bool:
    return report.transcript == identity(tree)


def check_matches(report: ReportFile, tree: Tree, path: str | Path) -> None:
    """Refuse a report about another run, or about another version of this run's tree."""
    t = report.transcript
    if t.run_id != tree.run_id:
        raise ReportError(f"{path}: this report is for run {t.run_id}, not run {tree.run_id}")
    if not matches(report, tree):
        raise ReportError(f"{path}: this report is for another version of run {t.run_id} "
                          f"({t.nodes} nodes, digest {t.digest}); the transcript has changed")

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
from typing import TYPE_CHECKING, Literal

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
    blame_tree: str | None = None  # the blame tree's transcript, relative to the report's folder (PolicyOverseer)


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


class AppliedAutomation(_Model):
    """What a correction did to automation (`ida.overseer.automation`)."""

    node: int
    step: int
    kind: Literal["set", "forget", "stale"]
    action: str | None = None
    entry: int | None = None
    why: str = ""


class AppliedRecord(_Model):
    entries: list[AppliedEntry] = []
    removed: list[int] = []
    revision: int | None = None
    corrections: str | None = None  # the transcript of corrected steps, as a path
    automation: list[AppliedAutomation] = []  # corrections carried into automation


class ReportFile(_Model):
    kind: str = "ida-backward-report"
    version: int = REPORT_VERSION
    transcript: TranscriptIdentity
    feedback: str
    overseer: str = ""
    visits: list[SavedVisit] = []
    conflicts: list[SavedConflict] = []
    unexplained: list[int] = []
    complete: bool = True  # False: the pass was left part way (the visits made so far)
    overseer_calls: int = 0  # 0 in reports saved before guessing was counted
    forward_runs: int = 0  # runs spent checking guesses (guess and check)
    forward_budget: int = 0  # the most it could have spent; 0: the linear pass alone
    applied: AppliedRecord | None = None  # None: a dry run, nothing committed
    blame_trees: int = 0  # blame trees run (a PolicyOverseer's: one per node visited), saved in NAME.blame/


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


def blame_dir(report_file: str | Path) -> Path:
    """Where a report's blame trees live: `run.report.json` -> `run.blame/`, one `NODE.jsonl` each."""
    p = Path(report_file)
    return p.with_name(p.name.removesuffix(SUFFIX) + ".blame")


def to_file(report: Report, applied: Applied | None = None, blame_trees: dict[int, str] | None = None) -> ReportFile:
    blame_trees = blame_trees or {}
    visits = []
    for v in report.visits:
        b = v.blame
        visits.append(SavedVisit(
            node=v.node, target=v.target, ok=b.ok, blamed=b.blamed, targets={} if b.ok else dict(b.targets),
            edits=[SavedEdit(op=e.op, key=e.key, text=e.text, entry_id=e.entry_id, reason=e.reason, node=e.node)
                   for e in b.edits],
            correction=None if b.correction is None else SavedCorrection(
                node=b.correction.node, step=b.correction.step, action=b.correction.action),
            note=b.note, blame_tree=blame_trees.get(v.node)))
    record = None
    if applied is not None:
        record = AppliedRecord(
            entries=[AppliedEntry(id=e.id, key=e.key, text=e.text, author=e.author, run_id=e.provenance.run_id,
                                  node_id=e.provenance.node_id, feedback=e.provenance.feedback,
                                  note=e.provenance.note) for e in applied.entries],
            removed=list(applied.removed), revision=applied.revision,
            corrections=None if applied.corrections is None else str(applied.corrections),
            automation=[AppliedAutomation(**vars(c)) for c in applied.automation])
    return ReportFile(transcript=identity(report.tree), feedback=report.feedback, overseer=report.overseer,
                      visits=visits, conflicts=[SavedConflict(node=c.node, targets=c.targets) for c in report.conflicts],
                      unexplained=[v.node for v in report.unexplained], complete=report.complete,
                      overseer_calls=report.overseer_calls, forward_runs=report.forward_runs,
                      forward_budget=report.forward_budget, applied=record, blame_trees=len(blame_trees))


def from_file(saved: ReportFile, tree: Tree) -> Report:
    """The report a file holds, on the tree it is about (check `matches` first): a dry run's blame,
    applied later without typing it again."""
    from ida.overseer.backward import Conflict, Report, Visit
    from ida.overseer.blame import Blame, Correction, Edit

    visits = [Visit(v.node, v.target, Blame(
        ok=v.ok, targets=dict(v.targets), note=v.note,
        edits=[Edit(e.op, key=e.key, text=e.text, entry_id=e.entry_id, reason=e.reason, node=e.node)  # type: ignore[arg-type]
               for e in v.edits],
        correction=None if v.correction is None else Correction(v.correction.step, v.correction.action, v.correction.node)))
        for v in saved.visits]
    return Report(tree, saved.feedback, overseer=saved.overseer, visits=visits,
                  conflicts=[Conflict(c.node, list(c.targets)) for c in saved.conflicts], complete=saved.complete,
                  overseer_calls=saved.overseer_calls, forward_runs=saved.forward_runs,
                  forward_budget=saved.forward_budget)


def save_report(report: Report, path: str | Path, applied: Applied | None = None) -> Path:
    """Write the report as JSON, atomically, and its blame trees, if any, as transcripts beside it."""
    return write_atomic(path, to_file(report, applied, save_blame_trees(report, path)).model_dump_json(indent=1) + "\n")


def save_blame_trees(report: Report, path: str | Path) -> dict[int, str]:
    """Each visit's blame tree as `NAME.blame/NODE.jsonl`; a tree left there by an earlier report
    of the same name is removed. Returns node -> path relative to the report's folder."""
    folder = blame_dir(path)
    saved = {v.node: v.blame.tree.save(folder / f"{v.node}.jsonl") for v in report.visits if v.blame.tree is not None}
    if folder.is_dir():
        for f in folder.glob("*.jsonl"):
            if f.stem.isdigit() and int(f.stem) not in saved:
                f.unlink()
    return {node: f"{folder.name}/{p.name}" for node, p in saved.items()}


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

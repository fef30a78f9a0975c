"""Training pairs from transcripts: what the model reads (prompt) and what it writes (completion).

Policy pairs imitate the decomposer one step at a time: (rendered workspace, action text).
Answer pairs skip the tree: (question, answer). Blame pairs are (blame question, blame) from
blame trees (`ida.overseer.questions`): a model that answers a node's blame outright. Every pair remembers the question of its
node, so the train/held-out split can keep all steps of one question on the same side.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from collections.abc import Callable, Iterable, Iterator, Sequence

from ida.actions import failed
from ida.engine import run
from ida.errors import IdaError
from ida.tasks import Task, task_code
from ida.tasks import get as get_task
from ida.transcript import load_transcript
from ida.tree import Step, Tree

Mode = Literal["policy", "answer", "blame"]
Skip = Callable[[str], bool]  # question text -> leave this node's steps out
# What a distilled policy writes in place of output that is not a command: a stand-in, not a decision.
UNPARSEABLE = "reply failed: unparseable model output"


class DatasetError(IdaError):
    """No usable transcripts or pairs where some were expected."""


@dataclass(frozen=True, slots=True)
class Pair:
    prompt: str
    completion: str
    question: str


# A pair as read, before dedupe: `correction` marks overseer-corrected steps, and `origin`
# names the (run, node, step) it came from so a correction can drop exactly the step it replaces.
@dataclass(frozen=True, slots=True)
class _Raw:
    pair: Pair
    correction: bool
    origin: tuple[str, int, int]
    replaces: tuple[str, int, int] | None


def transcript_files(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Files as given, folders searched recursively for *.jsonl; sorted so reading order is stable."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*.jsonl") if f.is_file()))
        elif p.exists():
            files.append(p)
        else:
            raise DatasetError(f"{p}: no such file or folder")
    return files


def _read(paths: str | Path | Iterable[str | Path]) -> Iterator[Tree]:
    for f in transcript_files(paths):
        yield load_transcript(f)


def _rejected(step: Step) -> bool:
    """A command the engine refused, or the stand-in for model output that was no command."""
    return step.error is not None or step.action == UNPARSEABLE


def _node_raws(run_id: str, node_id: int, question: str, steps: Sequence[Step],
               workspace: Callable[[int], str], run_corrects: bool, skip: Skip | None) -> Iterator[_Raw]:
    """One node's imitable steps, from a transcript record or an in-memory node alike."""
    if skip is not None and skip(question):
        return  # e.g. a primitive question: the task's H answers it, the model need not learn to
    for i, step in enumerate(steps):
        if _rejected(step):
            continue  # the engine refused this command: nothing to imitate
        fix = step.corrects
        yield _Raw(
            Pair(workspace(i), step.action, question),
            correction=fix is not None or run_corrects,
            origin=(run_id, node_id, i),
            replaces=None if fix is None else (fix.run_id, fix.node, fix.step),
        )


def _raw_policy(paths: str | Path | Iterable[str | Path], skip: Skip | None = None) -> Iterator[_Raw]:
    for tree in _read(paths):
        for node in tree.nodes:
            yield from _node_raws(tree.run_id, node.id, node.question.text(), node.steps, node.workspace_at,
                                  tree.corrects is not None, skip)


def _raw_answer(paths: str | Path | Iterable[str | Path]) -> Iterator[_Raw]:
    for tree in _read(paths):
        for node in tree.nodes:
            answer, question = node.answer_text, node.question.text()
            if answer is None or node.failure is not None or failed(answer):
                continue  # a failure answer (the engine's, or one passed up by a policy) is not a target
            yield _Raw(
                Pair(question, answer, question),
                correction=tree.corrects is not None or any(s.corrects for s in node.steps),
                origin=(tree.run_id, node.id, -1),
                replaces=None,
            )


def _resolve(raws: Iterable[_Raw]) -> list[Pair]:
    """Dedupe on (prompt, completion); where a prompt has a correction, only corrections survive."""
    raws = list(raws)
    replaced = {r.replaces for r in raws if r.replaces is not None}
    corrected_prompts = {r.pair.prompt for r in raws if r.correction}
    seen: set[tuple[str, str]] = set()
    out: list[Pair] = []
    for r in raws:
        if r.origin in replaced and not r.correction:
            continue
        if r.pair.prompt in corrected_prompts and not r.correction:
            continue
        key = (r.pair.prompt, r.pair.completion)
        if key not in seen:
            seen.add(key)
            out.append(r.pair)
    return out


def policy_pairs(paths: str | Path | Iterable[str | Path], skip: Skip | None = None) -> list[Pair]:
    """(rendered workspace, action text) for every step, corrections overriding what they correct.

    `skip(question)` true leaves that node's steps out (pass `task.primitive` to train a decomposer
    that leaves primitive questions to the task's H)."""
    return _resolve(_raw_policy(paths, skip))


def _h_trees(task: Task, n: int, size: int | None, seed: int) -> Iterator[Tree]:
    """The task's H run on `n` generated questions (seeds seed..seed+n-1), in memory."""
    for i in range(n):
        question = task.instance(seed + i, size).question
        with task_code(task):
            tree = run(question, task.policy, task=task.name)
        yield tree


def scripted_policy_pairs(task: Task | str, n: int, size: int | None = None, seed: int = 0) -> list[Pair]:
    """Policy pairs from the task's H run on `n` generated questions (seeds seed..seed+n-1).

    Nodes whose question is primitive for the task are left out: H answers those when the
    distilled decomposer runs (see `ida.distill.evaluate.WithPrimitives`)."""
    task = get_task(task) if isinstance(task, str) else task
    raws: list[_Raw] = []
    for tree in _h_trees(task, n, size, seed):
        for node in tree.nodes:
            raws.extend(_node_raws(tree.run_id, node.id, node.question.text(), node.steps, node.workspace_at,
                                   False, task.primitive))
    return _resolve(raws)


def scripted_answer_pairs(task: Task | str, n: int, size: int | None = None, seed: int = 0) -> list[Pair]:
    """(question, answer) for every node of the task's H run on `n` generated questions."""
    task = get_task(task) if isinstance(task, str) else task
    raws = []
    for tree in _h_trees(task, n, size, seed):
        for node in tree.nodes:
            answer, q = node.answer_text, node.question.text()
            if answer is not None and node.failure is None and not failed(answer):
                raws.append(_Raw(Pair(q, answer, q), False, (tree.run_id, node.id, -1), None))
    return _resolve(raws)


def answer_pairs(paths: str | Path | Iterable[str | Path]) -> list[Pair]:
    """(question, answer) for every node that answered without failure."""
    return _resolve(_raw_answer(paths))


def blame_pairs(trees: Iterable[Tree]) -> list[Pair]:
    """(blame question's text, the reply that gives its blame) for every node of the trees that answers
    a blame question with a well-formed blame; other nodes, failures and malformed blames are left out."""
    from ida.overseer.questions import BlameSyntaxError, is_blame_question, parse_blame, raw_text, reply_arg

    raws = []
    for tree in trees:
        for node in tree.nodes:
            if node.answer is None or node.failure is not None or not is_blame_question(node.question):
                continue
            line = raw_text(node.answer)
            try:
                parse_blame(line)
            except BlameSyntaxError:
                continue
            q = node.question.text()
            raws.append(_Raw(Pair(q, reply_arg(line), q), False, (tree.run_id, node.id, -1), None))
    return _resolve(raws)


def load_pairs(paths: str | Path | Iterable[str | Path], mode: Mode) -> list[Pair]:
    pairs = (policy_pairs(paths) if mode == "policy" else answer_pairs(paths) if mode == "answer"
             else blame_pairs(_read(paths)))
    if not pairs:
        raise DatasetError(f"no {mode} pairs in {', '.join(map(str, transcript_files(paths))) or 'the given paths'}")
    return pairs


def _unit(seed: int, question: str) -> float:
    h = hashlib.sha256(f"{seed}\x00{question}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def split(pairs: Sequence[Pair], held_out: float = 0.1, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """(train, held-out), by a hash of the question: no question on both sides.

    Hashing (not shuffling) keeps a question's side fixed as the data grows, so a question
    held out in one round of `iterate` is still held out in the next.
    """
    if not 0.0 <= held_out < 1.0:
        raise ValueError(f"held_out must be in [0, 1), not {held_out}")
    units = {q: _unit(seed, q) for q in dict.fromkeys(p.question for p in pairs)}
    out = {q for q, u in units.items() if u < held_out}
    if held_out > 0 and not out and len(units) >= 2:
        out = {min(units, key=units.__getitem__)}  # small data: still hold out one question
    if len(out) == len(units) and units:
        out.discard(max(units, key=units.__getitem__))  # and still train on one
    return [p for p in pairs if p.question not in out], [p for p in pairs if p.question in out]


def split_exact(pairs: Sequence[Pair], held_out: float = 0.1, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """(train, held-out) with exactly round(held_out * questions) questions held out, at least one:
    those of lowest hash. For a small, fixed set of questions, where `split`'s fraction is lumpy
    (1 of 24 permutations held out at 20%, say); unlike `split`, a side may move as data grows."""
    if not 0.0 < held_out < 1.0:
        raise ValueError(f"held_out must be in (0, 1), not {held_out}")
    units = sorted(dict.fromkeys(p.question for p in pairs), key=lambda q: _unit(seed, q))
    out = set(units[: min(len(units) - 1, max(1, round(held_out * len(units))))])
    return [p for p in pairs if p.question not in out], [p for p in pairs if p.question in out]


def data_hash(pairs: Iterable[Pair]) -> str:
    """A short content hash of the pairs, independent of their order."""
    lines = sorted(json.dumps([p.prompt, p.completion, p.question]) for p in pairs)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]

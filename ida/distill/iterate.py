"""The amplification loop: the answers of Amplify(H, model) become the model's next targets.

Amplify(H, M) lets the scripted decomposer H work at the root question and has the
answer model M answer each subquestion in one step. Round r trains M on Amplify(H, M)'s
answers to the training questions; no ground truth is used for training. A supervised
model trained on the ground truth for the same number of steps is the yardstick, and
both are scored on held-out root questions (the only use of the ground truth).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import torch
from pydantic import BaseModel

from ida.distill.checkpoint import load_checkpoint
from ida.distill.data import Pair, split
from ida.distill.model import ByteTransformer, model_config, resolve_device
from ida.distill.policy import DistilledPolicy
from ida.distill.train import exact_match, train
from ida.engine import failed, run
from ida.errors import IdaError
from ida.tasks import Task
from ida.tasks import get as get_task

# What a script may raise when it is handed a model's nonsense as a subanswer (int("x7"), ...).
SCRIPT_ERRORS = (ValueError, AssertionError, KeyError, IndexError, TypeError, RuntimeError)


class Amplify:
    """Amplify(H, M): H decomposes the root question; M answers every subquestion in one step."""

    def __init__(self, h: Any, model: DistilledPolicy) -> None:
        self.h, self.model = h, model
        self.name = f"amplify({getattr(h, 'name', 'H')}, {model.name})"

    def act(self, workspace: Any) -> Any:
        return self.h.act(workspace) if workspace.depth == 0 else self.model.act(workspace)


class IterateRow(BaseModel):
    round: int
    steps: int  # training steps so far, the same for both models
    targets: int  # amplified targets that were not failures
    targets_correct: float  # of those, the fraction equal to the ground truth
    ida_exact_match: float  # held-out root questions, the model answering alone
    supervised_exact_match: float | None = None
    seconds: float


class IterateResult(BaseModel):
    task: str
    train_questions: int
    heldout_questions: int
    rows: list[IterateRow]
    out_dir: Path


def task_questions(task: Task, n: int, size: int | None, seed: int, budget: int = 10_000) -> tuple[list[str], list[str]]:
    """(roots, every question in H's trees for them): the distribution the model must answer."""
    roots: dict[str, None] = {}
    every: dict[str, None] = {}
    for i in range(n):
        q = task.instance(seed + i, size).question
        roots[q] = None
        tree = run(q, task.policy, budget=budget, task=task.name)
        every.update((node.question.text(), None) for node in tree.nodes)
    return list(roots), list(every)


def _truth(task: Task, questions: list[str]) -> dict[str, str]:
    out = {}
    for q in questions:
        try:
            out[q] = task.solve(q)
        except ValueError:
            pass  # a question the task cannot check (H may ask helper questions): no ground truth
    return out


def amplified_targets(task: Task, model: DistilledPolicy, questions: list[str], budget: int = 200) -> list[Pair]:
    """Amplify(H, M)'s answer to each question, failures left out."""
    model.prefill(questions)  # most subquestions are themselves training questions: one batched pass
    amp = Amplify(task.policy, model)
    pairs = []
    for q in questions:
        try:
            answer = run(q, amp, budget=budget, task=task.name).answer
        except SCRIPT_ERRORS:
            continue
        if not failed(answer):
            pairs.append(Pair(q, answer, q))  # type: ignore[arg-type]
    return pairs


def iterate(
    task_name: str,
    out_dir: str | Path,
    rounds: int = 3,
    questions: int = 200,
    task_size: int | None = None,
    steps: int = 400,
    size: str = "tiny",
    batch_size: int = 32,
    held_out: float = 0.2,
    seed: int = 0,
    device: str = "cpu",
    supervised: bool = True,
    progress: bool = True,
    on_row: Callable[[IterateRow], None] | None = None,
) -> IterateResult:
    """Run `rounds` of amplification and distillation on a built-in task."""
    if rounds < 1 or questions < 1 or steps < 1:
        raise IdaError("rounds, questions and steps must each be at least 1")
    task = get_task(task_name)
    dev = resolve_device(device)
    out = Path(out_dir)
    roots, every = task_questions(task, questions, task_size, seed)
    truth = _truth(task, every)
    # Split every question by hash: a held-out root's answer is never a training target.
    qpairs = [Pair(q, truth.get(q, ""), q) for q in every]
    train_q, held_q = (list(dict.fromkeys(p.question for p in s)) for s in split(qpairs, held_out, seed))
    held_roots = [q for q in held_q if q in set(roots) and q in truth] or [q for q in held_q if q in truth]
    if not held_roots:
        raise IdaError(f"task {task_name}: too few questions to hold any out; ask for more than {questions}")
    heldout_pairs = [Pair(q, truth[q], q) for q in held_roots]
    sup_pairs = [Pair(q, truth[q], q) for q in train_q if q in truth]
    # An untrained model never says EOS; capping its answers keeps round 1 from writing 64 bytes of noise each.
    max_answer = 2 * max((len(a.encode()) for a in truth.values()), default=16) + 8

    torch.manual_seed(seed)
    ida_model = ByteTransformer(model_config(size)).to(dev)
    sup_model: ByteTransformer | None = ByteTransformer(model_config(size)).to(dev) if supervised else None
    if sup_model is not None:
        sup_model.load_state_dict(ida_model.state_dict())  # both start from the same weights
    common: dict[str, Any] = dict(size=size, steps=steps, batch_size=batch_size, eval_every=steps, seed=seed,
                                  device=device, mode="answer", progress=progress, early_stop=False)
    rows: list[IterateRow] = []
    for r in range(1, rounds + 1):
        t0 = time.perf_counter()
        policy = DistilledPolicy(ida_model, mode="answer", name=f"model-round-{r - 1}", max_new=max_answer)
        targets = amplified_targets(task, policy, train_q)
        correct = sum(truth.get(p.question) == p.completion for p in targets) / len(targets) if targets else 0.0
        if targets:
            res = train(targets, heldout_pairs, out / f"ida-round-{r}", init=ida_model, **common)
            ida_model = load_checkpoint(res.last_dir, dev)[0]
        sup_em = None
        if sup_model is not None and sup_pairs:
            res = train(sup_pairs, heldout_pairs, out / f"supervised-round-{r}", init=sup_model, **common)
            sup_model = load_checkpoint(res.last_dir, dev)[0]
            sup_em = exact_match(sup_model, heldout_pairs)
        row = IterateRow(round=r, steps=r * steps, targets=len(targets), targets_correct=correct,
                         ida_exact_match=exact_match(ida_model, heldout_pairs), supervised_exact_match=sup_em,
                         seconds=time.perf_counter() - t0)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return IterateResult(task=task.name, train_questions=len(train_q), heldout_questions=len(heldout_pairs),
                         rows=rows, out_dir=out)

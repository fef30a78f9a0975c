"""The amplification loop: the answers of Amplify(H, model) become the model's next targets.

Amplify(H, M) runs the engine with the scripted decomposer H at the root and on the
task's primitive questions (σ^1(x) is read off the facts), and the answer model M on
every other subquestion. Each round, the amplified answers to the training questions
become M's targets and M trains for a fixed number of steps; no ground truth is used.
A supervised model, from the same initial weights, trains on the ground truth for the
same steps with the same schedule: the yardstick. Both are scored on held-out questions,
the only other use of the ground truth. With a learned decomposer (the paper's full loop),
H' takes H's place at the roots it is sure of (`ida.distill.decomposer`).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable

import torch
from pydantic import BaseModel

from ida.distill.checkpoint import CheckpointMeta, save_checkpoint
from ida.distill.data import Pair, data_hash, split_exact
from ida.distill.decomposer import MODEL_NODE, PENDING, DecomposerTrainer, LearnedDecomposer
from ida.distill.model import Transformer, model_config, resolve_device
from ida.distill.tokenizer import train_codec
from ida.distill.train import LR, Learner, exact_match
from ida.actions import FAILED, failed
from ida.engine import run
from ida.errors import IdaError
from ida.tasks import Task
from ida.tasks import get as get_task
from ida.tree import Tree
from ida.workspace import Workspace


class Amplify:
    """Amplify(H, M): H at the root and on primitive questions, M's answers for the other subquestions.

    With a `decomposer` (H', learned), the root is H''s where it is sure and H's otherwise.
    M's answers come from `answers` (filled in batches by `amplified_answers`); a subquestion
    not answered yet is noted in `missing` and answered as a failure for now.
    """

    def __init__(self, task: Task, answers: dict[str, str], decomposer: LearnedDecomposer | None = None) -> None:
        self.task, self.answers, self.decomposer = task, answers, decomposer
        self.missing: set[str] = set()
        self.h_calls = 0  # nodes H worked on: decompositions and primitive answers
        self.h_roots: set[str] = set()  # root questions H decomposed (H' deferred, or there is no H')
        self.name = f"amplify({task.policy.name if decomposer is None else decomposer.name}, model)"

    def act(self, ws: Workspace) -> Any:
        q = ws.question_text
        first = ws.policy_state is None
        if ws.depth == 0 and self.decomposer is not None:
            action = self.decomposer.act(ws)
            if first and ws.policy_state is not None and ws.policy_state != MODEL_NODE:
                self.h_calls += 1  # H' deferred: H took the node
                self.h_roots.add(q)
            return action
        if ws.depth == 0 or self.task.primitive(q):
            self.h_calls += first
            if ws.depth == 0:
                self.h_roots.add(q)
            return self.task.policy.act(ws)
        if q not in self.answers:
            self.missing.add(q)
            return f"reply {PENDING}"
        return f"reply {self.answers[q]}"


UNSURE = FAILED + "the model is unsure"


def model_answers(model: Transformer, questions: list[str], max_new: int, min_confidence: float = 0.0,
                  batch_size: int = 128) -> dict[str, str]:
    """The model's greedy answers, batched. An unfinished or empty answer is a failure, and so is
    one below `min_confidence`: the model defers where unsure, and no target is built on it."""
    out = {}
    for i in range(0, len(questions), batch_size):
        chunk = questions[i : i + batch_size]
        for q, g in zip(chunk, model.generate_batch(chunk, max_new)):
            text = g.text.strip()
            if not (g.finished and text):
                out[q] = FAILED + "no answer"
            else:
                out[q] = text if g.confidence >= min_confidence else UNSURE
    return out


@dataclass
class Amplified:
    """What one amplification pass gave: an answer per question, and its cost and traces."""

    answers: dict[str, str]  # question -> Amplify's answer (a failure answer where there is none)
    h_calls: int  # nodes H worked on
    trees: dict[str, Tree]  # question -> its tree (absent where H's script choked)
    h_roots: set[str]  # questions whose root H decomposed
    asked: dict[str, str]  # every subquestion put to M, and M's answer (UNSURE where it deferred)

    def decomposer_defer_rate(self) -> float:
        return len(self.h_roots) / len(self.answers) if self.answers else 0.0

    def primitive_answers(self, task: Task) -> dict[str, str]:
        """H's answers to the primitive subquestions of the trees (σ^1(x) read off the facts)."""
        out = {}
        for tree in self.trees.values():
            for node in tree.nodes[1:]:
                q, a = node.question.text(), node.answer_text
                if a is not None and node.failure is None and not failed(a) and task.primitive(q):
                    out[q] = a
        return out

    def h_pairs(self, family: Any) -> list[Pair]:
        """H's decompositions of root nodes, as (workspace, action) pairs: what H' imitates."""
        out: list[Pair] = []
        for q in sorted(self.h_roots & self.trees.keys()):
            root = self.trees[q].nodes[0]
            out.extend(Pair(root.workspace_at(i), st.action, family(q)) for i, st in enumerate(root.steps))
        return out


def amplified_answers(task: Task, model: Transformer, questions: list[str], max_new: int,
                      min_confidence: float = 0.0, script_errors: tuple[type[Exception], ...] = (ValueError, KeyError, IndexError),
                      decomposer: LearnedDecomposer | None = None) -> Amplified:
    """Amplify(H, M)'s (or Amplify(H', M)'s) answer to each question, with how many nodes H worked on.

    The trees are run in waves: a wave collects the subquestions M has not answered yet (and
    the workspaces H' has not acted on yet), the models answer them all in one batch, and the
    next wave runs again with those answers, until no tree is waiting.
    """
    answers: dict[str, str] = {}
    while True:
        amp = Amplify(task, answers, decomposer)
        results, trees = {}, {}
        for q in questions:
            try:
                trees[q] = run(q, amp, budget=1_000, task=task.name)
                results[q] = trees[q].answer or FAILED + "no answer"
            except script_errors:  # H handed nonsense by an untrained model (int("x7")): no target
                results[q] = FAILED + "H could not use the model's answers"
        waiting = decomposer is not None and (decomposer.missing or decomposer.redo)
        if decomposer is not None:
            decomposer.redo = False
        if not amp.missing and not waiting:
            return Amplified(results, amp.h_calls, trees, amp.h_roots, answers)
        answers.update(model_answers(model, sorted(amp.missing), max_new, min_confidence))
        if decomposer is not None:
            decomposer.generate_missing()


class IterateRow(BaseModel):
    round: int
    steps: int  # training steps so far, the same for both models
    targets: int  # amplified answers that were not failures
    targets_correct: float  # of this round's training questions, the fraction whose amplified answer is right
    h_calls: int  # nodes H worked on so far, over all rounds (the amplification arm's cost in H)
    model_asked: int = 0  # subquestions put to the model this round
    defer_rate: float = 0.0  # of those, the share it gave no answer to (unsure, or unfinished): should fall
    decomposer_defer_rate: float | None = None  # with a learned H': the share of roots it left to H
    decomposer_pairs: int | None = None  # H''s training pairs so far (H's decompositions)
    labels: int  # ground-truth labels the supervised arm has used (distinct questions)
    ida_exact_match: float | None  # held-out questions, the model answering alone (None: nothing held out)
    ida_train_exact_match: float
    supervised_exact_match: float | None = None
    supervised_train_exact_match: float | None = None
    seconds: float  # wall time of the whole run so far
    ida_seconds: float  # the amplification arm's own time so far: amplifying, training, scoring, saving
    supervised_seconds: float | None = None  # the supervised arm's own time so far

    @property
    def ida_score(self) -> float:
        """What the curves show: held-out exact match, or the training questions' when nothing is held out."""
        return self.ida_train_exact_match if self.ida_exact_match is None else self.ida_exact_match

    @property
    def supervised_score(self) -> float | None:
        return self.supervised_train_exact_match if self.supervised_exact_match is None else self.supervised_exact_match


class ArmsByDifficulty(BaseModel):
    difficulty: int
    questions: int
    ida: float
    supervised: float | None = None
    baseline: float | None = None  # the task's trivial answer (permutation: x itself), for scale


class IterateResult(BaseModel):
    task: str
    size: str
    train_questions: int
    heldout_questions: int
    rows: list[IterateRow]
    by_difficulty: list[ArmsByDifficulty] = []  # the final models on the scored questions
    difficulty_name: str = "difficulty"
    out_dir: Path
    plot: Path | None = None


def task_questions(task: Task, n: int, size: int | None, seed: int) -> list[str]:
    """Up to `n` distinct generated questions (a small task has fewer than `n`)."""
    return list(dict.fromkeys(task.instance(seed + i, size).question for i in range(n)))


def _check(rounds: int, steps: int, questions: int, held_out: float) -> None:
    if rounds < 1 or questions < 2 or steps < 1:
        raise IdaError("rounds and steps must be at least 1, questions at least 2")
    if not 0.0 <= held_out < 1.0:
        raise IdaError(f"held_out must be at least 0 and below 1, not {held_out}")


def iterate(
    task_name: str,
    out_dir: str | Path,
    rounds: int = 10,
    steps: int = 200,
    questions: int = 2_000,
    task_size: int | None = None,
    size: str = "tiny",
    batch_size: int = 64,
    held_out: float = 0.1,
    seed: int = 0,
    device: str = "cpu",
    supervised: bool = True,
    lr: float | None = None,
    on_row: Callable[[IterateRow], None] | None = None,
    max_eval: int = 512,
    max_seconds: float | None = None,
    targets_per_round: int | None = None,
    min_confidence: float = 0.7,
    learn_decomposer: bool = False,
    primitive_targets: bool = False,
) -> IterateResult:
    """Run `rounds` rounds of amplification and distillation on a built-in task.

    With `max_seconds`, stop after the round that crosses it: both arms always stop together.
    With `targets_per_round`, each round amplifies a fresh sample of that many training
    questions instead of all of them (a big question set costs less per round).
    With `min_confidence`, a subanswer the model gives with less confidence makes no target:
    early rounds then train on what H and the primitives settle, and harder questions join
    as the model becomes sure of their subquestions.
    With `primitive_targets`, H's answers to the primitive subquestions of the amplified trees
    (σ^1(x), read off the facts) train the model too: one-hop lookups before the chains.
    With `learn_decomposer`, the paper's full loop: a policy model H' trains on H's
    decompositions each round and decomposes the roots it is sure of (`min_confidence` on its
    first action), so calls to H fall as it learns; it is saved as `OUT/decomposer`.
    """
    _check(rounds, steps, questions, held_out)
    task = get_task(task_name)
    dev = resolve_device(device)
    out = Path(out_dir)
    start = time.perf_counter()
    roots = task_questions(task, questions, task_size, seed)
    truth = {q: task.truth(q) for q in roots}
    # Split by family (permutation: the permutation), so that the questions Amplify(H, M) asks M
    # about a training question are never held-out questions: nothing held out shapes a target.
    # held_out=0 is the paper's protocol: train on the whole distribution and score the
    # training questions (for a small task such as 4-element permutations, that is every question).
    all_pairs = [Pair(q, truth[q], task.family(q)) for q in roots]
    train_pairs, held_pairs = split_exact(all_pairs, held_out, seed) if held_out > 0 else (all_pairs, [])
    if (held_out > 0 and not held_pairs) or not train_pairs:
        raise IdaError(f"task {task_name}: {len(roots)} distinct questions are too few to split; ask for more")
    train_q = [p.prompt for p in train_pairs]
    held_eval = random.Random(seed).sample(held_pairs, min(max_eval, len(held_pairs)))
    train_eval = random.Random(seed).sample(train_pairs, min(max_eval, len(train_pairs)))
    max_new = 2 * max(len(a.encode()) for a in truth.values()) + 2  # an untrained model would babble on

    torch.manual_seed(seed)
    # The tokenizer learns from the training questions only: the IDA arm never sees a label.
    codec = train_codec(train_q)
    ida_model = Transformer(model_config(size), codec).to(dev)
    cfg = ida_model.cfg
    peak = lr or LR.get(size, 1e-3)
    ida = Learner(ida_model, rounds * steps, peak, seed)
    sup: Learner | None = None
    if supervised:
        twin = Transformer(cfg, codec).to(dev)
        twin.load_state_dict(ida_model.state_dict())  # both arms start from the same weights
        sup = Learner(twin, rounds * steps, peak, seed)
        sup_encoded = sup.encode(train_pairs)

    rows: list[IterateRow] = []
    h_calls = 0
    school = DecomposerTrainer(task, size, rounds * steps, peak, seed + 1, min_confidence, dev) if learn_decomposer else None
    decomposer: LearnedDecomposer | None = None  # H', from round 2 on

    def score_and_save(model: Transformer, arm: str, pairs: list[Pair], at_step: int) -> tuple[float | None, float]:
        """(held-out, training) exact match; the arm's checkpoint records the first, else the second."""
        held = exact_match(model, held_eval) if held_eval else None
        trained = exact_match(model, train_eval)
        _save(out / arm, model, size, pairs, at_step, trained if held is None else held)
        return held, trained

    ida_seconds = sup_seconds = 0.0  # each arm's own work: the arms run interleaved, but need not
    for r in range(1, rounds + 1):
        t0 = time.perf_counter()
        ida_model.eval()
        asked = train_q if not targets_per_round else random.Random(seed + r).sample(train_q, min(targets_per_round, len(train_q)))
        amp = amplified_answers(task, ida_model, asked, max_new, min_confidence, decomposer=decomposer)
        answers, put_to_model = amp.answers, amp.asked
        h_calls += amp.h_calls
        targets = [Pair(q, a, task.family(q)) for q, a in answers.items() if not failed(a)]
        if primitive_targets:  # H's own answers below the root: the one-hop lookups, a curriculum
            targets += [Pair(q, a, task.family(q)) for q, a in amp.primitive_answers(task).items() if q not in answers]
        if targets:
            ida.fit(ida.encode(targets), steps, batch_size)
        else:  # nothing usable yet: the step count still advances so both arms stay level
            ida.step += steps
        if school is not None:  # H' imitates every decomposition H has made so far
            decomposer = school.learn(amp.h_pairs(task.family), steps, batch_size)
            school.save(out / "decomposer", r * steps)
        ida_held, ida_train = score_and_save(ida_model, "ida", targets or train_pairs, r * steps)
        t1 = time.perf_counter()
        ida_seconds += t1 - t0
        sup_held = sup_train = None
        if sup is not None:
            sup.fit(sup_encoded, steps, batch_size)
            sup_held, sup_train = score_and_save(sup.model, "supervised", train_pairs, r * steps)
            sup_seconds += time.perf_counter() - t1
        row = IterateRow(
            round=r, steps=r * steps, targets=len(targets),
            targets_correct=sum(answers[q] == truth[q] for q in asked) / len(asked),
            h_calls=h_calls, model_asked=len(put_to_model),
            decomposer_defer_rate=amp.decomposer_defer_rate() if school else None,
            decomposer_pairs=len(school.pairs) if school else None,
            defer_rate=sum(map(failed, put_to_model.values())) / len(put_to_model) if put_to_model else 0.0,
            labels=len(train_pairs) if sup is not None else 0,
            ida_exact_match=ida_held, ida_train_exact_match=ida_train,
            supervised_exact_match=sup_held, supervised_train_exact_match=sup_train,
            seconds=time.perf_counter() - start, ida_seconds=ida_seconds,
            supervised_seconds=sup_seconds if sup is not None else None,
        )
        rows.append(row)
        if on_row is not None:
            on_row(row)
        if max_seconds is not None and row.seconds >= max_seconds:
            break
    result = IterateResult(task=task.name, size=size, train_questions=len(train_pairs),
                           heldout_questions=len(held_pairs), rows=rows, out_dir=out,
                           difficulty_name=task.difficulty_name,
                           by_difficulty=by_difficulty(task, ida_model, sup.model if sup else None, held_eval or train_eval))
    from ida.distill.plot import curves_png

    result.plot = curves_png(out / "curves.png", [r.steps for r in rows],
                             {"IDA": [r.ida_score for r in rows],
                              **({"supervised": [r.supervised_score or 0.0 for r in rows]} if supervised else {}),
                              "IDA defers": [r.defer_rate for r in rows],
                              **({"H' defers": [r.decomposer_defer_rate or 0.0 for r in rows]} if learn_decomposer else {})})
    return result


def by_difficulty(task: Task, model: Transformer, other: Transformer | None, pairs: list[Pair]) -> list[ArmsByDifficulty]:
    """Exact match of the model (and of `other`) grouped by the task's difficulty, with the trivial baseline."""
    groups: dict[int, list[Pair]] = {}
    for p in pairs:
        groups.setdefault(task.difficulty(p.prompt), []).append(p)
    rows = []
    for d, group in sorted(groups.items()):
        base = None if task.baseline is None else sum(task.baseline(p.prompt) == p.completion for p in group) / len(group)
        rows.append(ArmsByDifficulty(difficulty=d, questions=len(group), ida=exact_match(model, group),
                                  supervised=None if other is None else exact_match(other, group), baseline=base))
    return rows


def _save(where: Path, model: Transformer, size: str, pairs: Any, step: int, em: float) -> None:
    """Each arm's latest model, loadable by `ida eval` and `DistilledPolicy`."""
    meta = CheckpointMeta(size=size, model=model.cfg, data_hash=data_hash(list(pairs)), mode="answer", step=step,
                          metrics={"exact_match": em})
    save_checkpoint(where, model, None, meta)

"""Score a distilled policy on a built-in task: right answers, counted failures, deferrals, by difficulty.

A policy model runs as the decomposer H' inside the engine, with the task's H answering the
primitive questions (`WithPrimitives`: what the task defines as answered by hand, such as
σ^1(x) read off the facts); an answer model answers outright or, with a threshold, defers
to the task's H where unsure (H then decomposes, and the subquestions come back to the
model: amplification that asks H less as the model learns).
"""

from __future__ import annotations

from typing import Any
from collections.abc import Collection

from pydantic import BaseModel

from ida.actions import Action
from ida.distill.policy import Deferring, DistilledPolicy
from ida.engine import run
from ida.errors import IdaError
from ida.tasks import Instance, Task
from ida.tasks import get as get_task
from ida.workspace import Workspace

# What H's script raises when a model hands it nonsense (int("x"), a key not in the facts):
# the tree is lost, counted as a wrong answer and a failure, never an exception out of here.
SCRIPT_ERRORS: tuple[type[Exception], ...] = (ValueError, KeyError, IndexError, AssertionError)


class DifficultyRow(BaseModel):
    difficulty: int  # the task's difficulty value (permutation: the exponent)
    questions: int
    right: int
    accuracy: float
    baseline: float | None = None  # the task's trivial answer is right this often (None: no trivial answer)


class TaskScore(BaseModel):
    task: str
    questions: int
    accuracy: float
    failures: int  # questions the model failed on: it wrote a non-command, or H could not finish on its output
    failed_outputs: int = 0  # model outputs that were not a command, over every step of every question
    script_errors: int = 0  # of the failed questions, trees whose H script choked on the model's output
    unseen_tokens: int = 0  # prompt tokens the model's training text never used (it read them all the same)
    defer_rate: float | None = None
    actions_per_question: float
    h_calls: int | None = None  # policy model: primitive nodes the task's H answered (None: not counted)
    difficulty_name: str = "difficulty"
    by_difficulty: list[DifficultyRow] = []
    baseline: float | None = None  # share of questions the trivial answer gets right (permutation: x itself)


class WithPrimitives:
    """H' with the task's H on primitive questions: the model decomposes, H answers by hand.

    H' is trained without primitive nodes (`scripted_policy_pairs` skips them), so they are H's alone.
    H keeps a node's script in that node's workspace, so H and the model interleave across nodes.
    """

    def __init__(self, model: Any, task: Task, name: str | None = None) -> None:
        self.model, self.task = model, task
        self.name = name or f"{getattr(model, 'name', 'model')}+{task.policy.name} on primitives"
        self.calls = 0  # every action, the model's and H's
        self.h_calls = 0  # primitive nodes H answered: what H still costs

    def act(self, ws: Workspace) -> Action | str:
        self.calls += 1
        if self.task.primitive(ws.question_text):
            self.h_calls += ws.policy_state is None  # a node's first step: count nodes, not steps
            return self.task.policy.act(ws)
        return self.model.act(ws)


def evaluate_task(
    policy: DistilledPolicy,
    task_name: str | Task,
    questions: int = 50,
    seed: int = 1000,
    task_size: int | None = None,
    threshold: float | None = None,
    budget: int = 500,
    exclude: Collection[str] = (),
) -> TaskScore:
    """Run the model on `questions` generated questions (seeds `seed` and up), none of them in `exclude`
    (the training questions, say: a small task repeats its questions)."""
    task = get_task(task_name) if isinstance(task_name, str) else task_name
    if task.solve is None:
        raise IdaError(f"task {task.name} has no ground truth (solve) to score the model against")
    insts: list[Instance] = []
    for i in range(100 * questions):
        inst = task.instance(seed + i, task_size)
        if inst.question not in exclude:
            insts.append(inst)
        if len(insts) == questions:
            break
    else:
        raise IdaError(f"task {task.name}: fewer than {questions} questions outside the excluded ones")
    if threshold is not None and policy.mode != "answer":
        # A scripted H is a generator per node: it cannot take over single steps of a node the model began.
        raise IdaError("a deferral threshold needs an answer model; a scripted H cannot take over single steps")
    failures0, unseen0 = policy.failures, getattr(policy, "unseen_tokens", 0)
    failed = 0  # questions with at least one failed output or a lost tree: never more than the questions
    if policy.mode == "answer" and threshold is None:
        policy.prefill([i.question for i in insts])  # batched: direct answers need no engine
        right = []
        for inst in insts:
            before = policy.failures
            right.append(policy.act(_Question(inst.question)) == f"reply {inst.answer}")
            failed += policy.failures > before
        return _score(task, insts, right, failures=failed, failed_outputs=policy.failures - failures0,
                      actions=questions, h_calls=0, unseen_tokens=getattr(policy, "unseen_tokens", 0) - unseen0)
    actor: WithPrimitives | Deferring = (
        WithPrimitives(policy, task) if threshold is None else Deferring(policy, task.policy, threshold))
    right, crashed = [], 0
    for inst in insts:
        before = policy.failures
        try:
            right.append(run(inst.question, actor, budget=budget, task=task.name).answer == inst.answer)
            failed += policy.failures > before
        except SCRIPT_ERRORS:
            right.append(False)
            crashed += 1
            failed += 1
    # One act per engine step, so the actor's count is the actions, a lost tree's included.
    return _score(task, insts, right, failures=failed, failed_outputs=policy.failures - failures0,
                  actions=_acts(actor),
                  unseen_tokens=getattr(policy, "unseen_tokens", 0) - unseen0,
                  script_errors=crashed,
                  defer_rate=actor.rate if isinstance(actor, Deferring) else None,
                  h_calls=actor.h_calls if isinstance(actor, WithPrimitives) else None)


def _acts(actor: WithPrimitives | Deferring) -> int:
    """Actions the actor has taken: every engine step is one call."""
    return actor.calls if isinstance(actor, WithPrimitives) else actor.acted + actor.deferred


def _score(task: Task, insts: list[Instance], right: list[bool], actions: int, **fields: Any) -> TaskScore:
    n = len(insts)
    base = task.baseline
    groups: dict[int, list[int]] = {}
    for i, inst in enumerate(insts):
        groups.setdefault(task.difficulty(inst.question), []).append(i)
    rows = [DifficultyRow(difficulty=d, questions=len(ix), right=sum(right[i] for i in ix),
                          accuracy=sum(right[i] for i in ix) / len(ix),
                          baseline=None if base is None else sum(base(insts[i].question) == insts[i].answer
                                                                 for i in ix) / len(ix))
            for d, ix in sorted(groups.items())]
    return TaskScore(task=task.name, questions=n, accuracy=sum(right) / n, actions_per_question=actions / n,
                     difficulty_name=task.difficulty_name, by_difficulty=rows,
                     baseline=None if base is None else sum(base(i.question) == i.answer for i in insts) / n, **fields)


class _Question:
    """The little of a workspace an answer model reads."""

    def __init__(self, question: str) -> None:
        self.question_text = question

    def render(self) -> str:
        return f"question: {self.question_text}"

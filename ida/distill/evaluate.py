"""Score a distilled policy on a built-in task: right answers, counted failures, deferrals.

A policy model runs as the decomposer inside the engine; an answer model answers outright
or, with a threshold, defers to the task's H where unsure (H then decomposes, and the
subquestions come back to the model: amplification that asks H less as the model learns).
"""

from __future__ import annotations

from pydantic import BaseModel

from ida.distill.policy import Deferring, DistilledPolicy
from ida.engine import run
from ida.errors import IdaError
from ida.tasks import get as get_task


class TaskScore(BaseModel):
    task: str
    questions: int
    accuracy: float
    failures: int  # model outputs that were not a command
    defer_rate: float | None = None
    actions_per_question: float


def evaluate_task(
    policy: DistilledPolicy,
    task_name: str,
    questions: int = 50,
    seed: int = 1000,
    task_size: int | None = None,
    threshold: float | None = None,
    budget: int = 500,
) -> TaskScore:
    task = get_task(task_name)
    insts = [task.instance(seed + i, task_size) for i in range(questions)]
    if threshold is not None and policy.mode != "answer":
        # A scripted H is a generator per node: it cannot take over single steps of a node the model began.
        raise IdaError("--threshold needs an answer model; a scripted H cannot take over single steps")
    failures0 = policy.failures
    if policy.mode == "answer" and threshold is None:
        policy.prefill([i.question for i in insts])  # batched: direct answers need no engine
        right = sum(policy.act(_Question(i.question)) == f"reply {i.answer}" for i in insts)
        return TaskScore(task=task.name, questions=questions, accuracy=right / questions,
                         failures=policy.failures - failures0, actions_per_question=1.0)
    actor = policy if threshold is None else Deferring(policy, task.policy, threshold)
    right = actions = 0
    for inst in insts:
        tree = run(inst.question, actor, budget=budget, task=task.name)
        right += tree.answer == inst.answer
        actions += sum(len(n.steps) for n in tree.nodes)
    return TaskScore(task=task.name, questions=questions, accuracy=right / questions,
                     failures=policy.failures - failures0,
                     defer_rate=actor.rate if isinstance(actor, Deferring) else None,
                     actions_per_question=actions / questions)


class _Question:
    """The little of a workspace an answer model reads."""

    def __init__(self, question: str) -> None:
        self.question_text = question

    def render(self) -> str:
        return f"question: {self.question_text}"

"""Trees with a fault put in, so that a backward pass has blame to give: one node lies in its reply.

`faulty_run(task, seed)` runs the task's H on its `seed`th question with one node, drawn by
the seed, replying a wrong answer (a number moved, yes and no swapped, ...); the lie flows up
as any wrong answer would. Used to make blame transcripts (`scripted_blame_trees`) and to
test overseers against each other.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from ida.actions import Action, as_action, failed
from ida.engine import run
from ida.overseer.backward import Report, backward
from ida.policy import Policy
from ida.tasks import Task, TaskError, task_code
from ida.tree import Tree
from ida.workspace import Workspace

MAX_TRIES = 20
SWAPS = {"yes": "no", "no": "yes", "carefully": "normally", "normally": "carefully"}


def wrong(answer: str, rng: random.Random) -> str:
    """Another answer of the same kind."""
    if answer.isdigit():
        return str(max(0, int(answer) + rng.choice([-2, -1, 1, 2, 3])) or int(answer) + 1)
    return SWAPS.get(answer, answer + " or so")


class Lying:
    """`policy`, except that the node asked `question` replies `lie` in place of its own answer."""

    def __init__(self, policy: Policy, question: str, lie: str) -> None:
        self.policy, self.question, self.lie = policy, question, lie
        self.name = getattr(policy, "name", "policy")

    def act(self, ws: Workspace) -> Action | str:
        action = as_action(self.policy.act(ws))
        if action.kind == "reply" and ws.question_text == self.question:
            return Action("reply", self.lie)
        return action


@dataclass(frozen=True)
class Faulty:
    tree: Tree
    truth: str  # the right root answer: the feedback of the backward pass
    liar: str  # the question whose node lied


def faulty_run(task: Task, seed: int, size: int | None = None, db: object | None = None) -> Faulty:
    """A task that needs facts and is given no database looks them up in a temporary one."""
    if db is None and task.facts:
        import tempfile
        from pathlib import Path

        from ida.experience import ExperienceDB
        from ida.tasks import add_facts

        with tempfile.TemporaryDirectory() as scratch, ExperienceDB(Path(scratch) / "facts.sqlite") as facts:
            add_facts(task, facts)
            return faulty_run(task, seed, size, facts)
    inst = task.instance(seed, size)
    rng = random.Random(f"fault:{task.name}:{seed}:{size}")
    with task_code(task):
        honest = run(inst.question, task.policy, db=db, task=task.name)  # type: ignore[arg-type]
    liars = [n for n in honest.nodes if n.answer is not None and not failed(n.answer_text)]
    rng.shuffle(liars)
    for node in liars[:MAX_TRIES]:
        lie = wrong(node.answer_text or "", rng)
        try:  # a lie H cannot take further (σ of an element not in σ) is no fault to blame: draw another
            tree = run(inst.question, Lying(task.policy, node.question.text(), lie), db=db, task=task.name)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - the task's own code choking on the lie
            continue
        return Faulty(tree, inst.answer or task.truth(inst.question), node.question.text())
    return Faulty(honest, inst.answer or task.truth(inst.question), "")


def scripted_blame_trees(task: Task, n: int, size: int | None = None, seed: int = 0) -> Iterator[Tree]:
    """The blame trees of the task's blame script on `n` faulty runs (seeds seed..seed+n-1)."""
    for report in scripted_reports(task, n, size, seed):
        yield from (v.blame.tree for v in report.visits if v.blame.tree is not None)


def scripted_reports(task: Task, n: int, size: int | None = None, seed: int = 0) -> Iterator[Report]:
    from ida.overseer.policy_overseer import PolicyOverseer
    from ida.overseer.scripts import for_task

    script = for_task(task.name)
    if script is None:
        raise TaskError(f"task {task.name} has no blame scripts (they exist for the built-in tasks)")
    for i in range(n):
        f = faulty_run(task, seed + i, size)
        yield backward(f.tree, f.truth, PolicyOverseer(script))

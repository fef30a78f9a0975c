"""Built-in tasks: a seeded question generator, the ground truth, and a scripted decomposer H."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from ida.errors import IdaError
from ida.overseer.blame import Rule
from ida.policies.scripted import ScriptedPolicy


@dataclass(frozen=True)
class Instance:
    question: str
    answer: str


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    generate: Callable[[random.Random, int], str]  # (rng, size) -> question text
    solve: Callable[[str], str]  # question text -> the right answer
    policy: ScriptedPolicy  # H, the scripted decomposer
    default_size: int
    rules: tuple[Rule, ...] = ()  # local backward rules for the RuleOverseer
    facts: tuple[tuple[str, str], ...] = ()  # experience-database entries a run needs (key, sentence)
    primitive: Callable[[str], bool] = lambda q: False  # questions H answers outright, never decomposing
    # Questions of one family are held out together, so no subquestion of a training question is held out.
    family: Callable[[str], str] = lambda q: q
    # How hard a question is (permutation: the exponent), for accuracy by difficulty; named for tables.
    difficulty: Callable[[str], int] = lambda q: 0
    difficulty_name: str = "difficulty"
    # The trivial answer (permutation: x itself), the floor a model must beat; None where there is none.
    baseline: Callable[[str], str] | None = None

    def instance(self, seed: int = 0, size: int | None = None) -> Instance:
        size = self.default_size if size is None else size
        if size < 1:
            raise IdaError(f"task {self.name}: size must be at least 1, not {size}")
        q = self.generate(random.Random(f"{self.name}:{seed}:{size}"), size)
        return Instance(q, self.solve(q))


def _registry() -> dict[str, Task]:
    from ida.tasks import length, multiply, permutation, sorted_list, weights

    return {t.name: t for t in (multiply.TASK, sorted_list.TASK, length.TASK, permutation.TASK, weights.TASK)}


def get(name: str) -> Task:
    tasks = all_tasks()
    if name not in tasks:
        raise IdaError(f"unknown task {name!r}; choose from {', '.join(sorted(tasks))}")
    return tasks[name]


_TASKS: dict[str, Task] | None = None


def all_tasks() -> dict[str, Task]:
    global _TASKS
    if _TASKS is None:
        _TASKS = _registry()
    return _TASKS


def add_facts(task: Task, db) -> int:
    """Add the task's facts whose key the database does not hold yet; returns how many."""
    known = {e.key for e in db.entries()}
    missing = [(k, v) for k, v in task.facts if k not in known]
    with db.transaction():
        for key, text in missing:
            db.add(key, text, author=f"task:{task.name}")
    return len(missing)

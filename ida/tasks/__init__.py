"""Built-in tasks: a seeded question generator, the ground truth, and a scripted decomposer H."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from ida.errors import IdaError
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

    def instance(self, seed: int = 0, size: int | None = None) -> Instance:
        size = self.default_size if size is None else size
        if size < 1:
            raise IdaError(f"task {self.name}: size must be at least 1, not {size}")
        q = self.generate(random.Random(f"{self.name}:{seed}:{size}"), size)
        return Instance(q, self.solve(q))


def _registry() -> dict[str, Task]:
    from ida.tasks import length, multiply, permutation, sorted_list

    return {t.name: t for t in (multiply.TASK, sorted_list.TASK, length.TASK, permutation.TASK)}


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

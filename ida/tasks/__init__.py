"""Built-in tasks: a seeded question generator, the ground truth, and a scripted decomposer H."""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from collections.abc import Callable

from ida.errors import IdaError
from ida.overseer.blame import Rule
from ida.policies.scripted import ScriptedPolicy

if TYPE_CHECKING:
    from ida.experience import ExperienceDB
    from ida.tree import Tree


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


def summary() -> str:
    """Each task's name and what it does, for help texts: built from the registry, so never stale."""
    return "; ".join(f"{t.name} ({t.description})" for t in all_tasks().values())


def add_facts(task: Task, db: ExperienceDB) -> int:
    """Add the task's facts whose key the database does not hold yet; returns how many."""
    known = {e.key for e in db.entries()}
    missing = [(k, v) for k, v in task.facts if k not in known]
    with db.transaction():
        for key, text in missing:
            db.add(key, text, author=f"task:{task.name}")
    return len(missing)


@dataclass(frozen=True)
class TaskRun:
    """One run of a task's H on a generated question: the tree and how it went."""

    task: Task
    instance: Instance
    tree: Tree
    facts_added: int  # facts put into the database first (0 where none were needed or asked for)
    db_path: Path | None  # the database the run looked things up in; None: none, or a temporary one
    size: int

    @property
    def right(self) -> bool:
        return self.tree.answer == self.instance.answer


def run_task(name: str, seed: int = 0, size: int | None = None, *, db: ExperienceDB | None = None,
             add_missing_facts: bool = False, budget: int = 100_000, max_depth: int = 1_000,
             memo: bool = True) -> TaskRun:
    """Run task `name`'s H on its `seed`th question. A task that needs facts and is given no
    database gets a temporary one holding them (gone after the run); with `db`, its missing
    facts are added only when `add_missing_facts` says so."""
    from ida.engine import run
    from ida.experience import ExperienceDB

    t = get(name)
    inst = t.instance(seed, size)
    with tempfile.TemporaryDirectory() as scratch:
        database = db if db is not None else ExperienceDB(Path(scratch) / "facts.sqlite") if t.facts else None
        added = add_facts(t, database) if database is not None and (add_missing_facts or db is None) else 0
        try:
            tree = run(inst.question, t.policy, db=database, budget=budget, max_depth=max_depth, memo=memo,
                       task=t.name)
        finally:
            if database is not None and db is None:
                database.close()
    return TaskRun(t, inst, tree, added, db.path if db is not None else None,
                   t.default_size if size is None else size)

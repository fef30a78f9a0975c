"""Tasks: a kind of question with its decomposer H, and where it has them a question generator,
the ground truth, backward rules and facts. Five are built in; `get` also finds installed ones
and loads them from files and modules (`ida.tasks.load`)."""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ida.errors import IdaError
from ida.overseer.blame import Rule
from ida.policy import Policy

if TYPE_CHECKING:
    from ida.experience import ExperienceDB
    from ida.tree import Tree


@dataclass(frozen=True)
class Instance:
    question: str
    answer: str | None  # None for a task with no ground truth


class TaskError(IdaError):
    """A task's own code raised, or a task lacks what a command needs: one line naming the task."""


@dataclass(frozen=True, kw_only=True)
class Task:
    """A kind of question: its decomposer H and, where it has them, a question generator, the
    ground truth (an oracle), backward rules and the facts its lookups need. Only `name` and
    `policy` are required:

        TASK = Task(name="capitals", policy=h, solve=capital_of, rules=[capital_rule],
                    facts=[("France", "the capital of France is Paris")])
    """

    name: str
    policy: Policy  # H: a scripted decomposer, or any policy
    description: str = ""
    generate: Callable[[random.Random, int], str] | None = None  # (rng, size) -> question text
    solve: Callable[[str], str] | None = None  # question text -> the right answer: the oracle
    default_size: int = 1
    rules: Sequence[Rule] = ()  # local backward rules for the RuleOverseer (`@rule(pattern)`)
    facts: Sequence[tuple[str, str]] = ()  # experience-database entries a run needs (key, sentence)
    primitive: Callable[[str], bool] = lambda q: False  # questions H answers outright, never decomposing
    # Questions of one family are held out together, so no subquestion of a training question is held out.
    family: Callable[[str], str] = lambda q: q
    # How hard a question is (permutation: the exponent), for accuracy by difficulty; named for tables.
    difficulty: Callable[[str], int] = lambda q: 0
    difficulty_name: str = "difficulty"
    # The trivial answer (permutation: x itself), the floor a model must beat; None where there is none.
    baseline: Callable[[str], str] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))  # lists are welcome; stored frozen
        object.__setattr__(self, "facts", tuple((str(k), str(v)) for k, v in self.facts))

    def instance(self, seed: int = 0, size: int | None = None) -> Instance:
        size = self.default_size if size is None else size
        if size < 1:
            raise TaskError(f"task {self.name}: size must be at least 1, not {size}")
        if self.generate is None:
            raise TaskError(f"task {self.name} generates no questions; give one (e.g. ida fix 'QUESTION' "
                            f"--task ... --target ANSWER)")
        with task_code(self, "generating a question"):
            q = self.generate(random.Random(f"{self.name}:{seed}:{size}"), size)
        return Instance(q, None if self.solve is None else self.truth(q))

    def truth(self, question: str) -> str:
        """The ground truth for `question`; a TaskError naming the question when there is none."""
        if self.solve is None:
            raise TaskError(f"task {self.name} has no ground truth (solve): give the right answer, or another overseer")
        with task_code(self, f"solving {question!r}"):
            return str(self.solve(question))


@contextmanager
def task_code(task: Task, doing: str = "running") -> Iterator[None]:
    """Run a task's own code: anything it raises becomes one TaskError naming the task."""
    try:
        yield
    except IdaError:
        raise
    except Exception as e:  # the task is the user's code: its bug is their one-line error, not a traceback
        raise TaskError(f"task {task.name}: {doing}: {type(e).__name__}: {e}") from e


def get(spec: str) -> Task:
    """A task by name (built-in or installed through the `ida.tasks` entry points), or from
    `path/to/file.py:NAME` or `package.module:NAME`."""
    from ida.tasks.load import load

    return load(spec)


def all_tasks() -> dict[str, Task]:
    """The built-in tasks, by name."""
    from ida.tasks.load import builtin

    return builtin()


def summary() -> str:
    """Each built-in task's name and what it does, for help texts: built from the registry, so never stale."""
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
    def right(self) -> bool | None:
        """Whether the answer is the ground truth; None for a task with none."""
        return None if self.instance.answer is None else self.tree.answer == self.instance.answer


def run_task(name: str | Task, seed: int = 0, size: int | None = None, *, db: ExperienceDB | None = None,
             add_missing_facts: bool = False, budget: int = 100_000, max_depth: int = 1_000,
             memo: bool = True, question: str | None = None) -> TaskRun:
    """Run a task's H (a name or spec, see `get`, or a Task) on its `seed`th question, or on
    `question`. A task that needs facts and is given no database gets a temporary one holding
    them (gone after the run); with `db`, its missing facts are added only when
    `add_missing_facts` says so."""
    from ida.engine import run
    from ida.experience import ExperienceDB

    t = get(name) if isinstance(name, str) else name
    inst = t.instance(seed, size) if question is None else Instance(question, t.truth(question) if t.solve else None)
    with tempfile.TemporaryDirectory() as scratch:
        database = db if db is not None else ExperienceDB(Path(scratch) / "facts.sqlite") if t.facts else None
        added = add_facts(t, database) if database is not None and (add_missing_facts or db is None) else 0
        try:
            with task_code(t):
                tree = run(inst.question, t.policy, db=database, budget=budget, max_depth=max_depth, memo=memo,
                           task=t.name)
        finally:
            if database is not None and db is None:
                database.close()
    return TaskRun(t, inst, tree, added, db.path if db is not None else None,
                   t.default_size if size is None else size)

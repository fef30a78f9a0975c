"""Finding a task: built in, installed (the `ida.tasks` entry-point group), or loaded from
`path/to/file.py:NAME` or `package.module:NAME`.

A package adds tasks by declaring, in its pyproject.toml,

    [project.entry-points."ida.tasks"]
    capitals = "mypackage.tasks:CAPITALS"

Loading runs the user's code, so anything it raises becomes one `TaskError` line naming it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import TypeVar
from collections.abc import Callable

from ida.tasks import Task, TaskError

T = TypeVar("T")
GROUP = "ida.tasks"
SPEC = re.compile(r"(?P<where>\S+):(?P<attr>[A-Za-z_][A-Za-z0-9_]*)")


@cache
def builtin() -> dict[str, Task]:
    from ida.tasks import circuit, length, multiply, permutation, sorted_list, weights

    return {t.name: t for t in (multiply.TASK, sorted_list.TASK, length.TASK, permutation.TASK, weights.TASK,
                                circuit.TASK)}


def installed() -> dict[str, EntryPoint]:
    """The tasks installed packages declare, by entry-point name (not loaded yet)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def is_spec(text: str) -> bool:
    """Whether `text` names a task (a name, or FILE.py:NAME / module:NAME) rather than being a question:
    a question has spaces, a task name has none."""
    return bool(text) and not any(c.isspace() for c in text)


def names_task(text: str) -> bool:
    """Whether a command-line word names a task rather than a file: a task's name, or NAME:ATTR
    that is no existing path."""
    return text in builtin() or text in installed() or (SPEC.fullmatch(text) is not None and not Path(text).exists())


def load(spec: str) -> Task:
    """The task `spec` names; one TaskError line when it names none."""
    if spec in builtin():
        return builtin()[spec]
    if (ep := installed().get(spec)) is not None:
        return _checked(_guarded(spec, ep.load), f"entry point {spec} ({ep.value})")
    if m := SPEC.fullmatch(spec):
        where, attr = m["where"], m["attr"]
        module = _from_file(Path(where)) if where.endswith(".py") or "/" in where else _from_module(where)
        if not hasattr(module, attr):
            raise TaskError(f"{where} defines no {attr!r}")
        return _checked(getattr(module, attr), f"{where}:{attr}")
    names = sorted(builtin()) + sorted(set(installed()) - set(builtin()))
    raise TaskError(f"unknown task {spec!r}; choose from {', '.join(names)}, or give FILE.py:NAME or module:NAME")


def _checked(obj: object, what: str) -> Task:
    if not isinstance(obj, Task):
        raise TaskError(f"{what} is a {type(obj).__name__}, not an ida Task (ida.tasks.Task)")
    return obj


def _guarded(what: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except TaskError:
        raise
    except Exception as e:  # the user's code, run on import: its error in one line
        raise TaskError(f"{what}: {type(e).__name__}: {e}") from e


def _from_module(name: str) -> ModuleType:
    if importlib.util.find_spec(name.split(".")[0]) is None:
        raise TaskError(f"no module named {name!r} (a file needs its .py: path/to/file.py:NAME)")
    return _guarded(name, lambda: importlib.import_module(name))


def _from_file(path: Path) -> ModuleType:
    full = path.resolve()
    if not full.is_file():
        raise TaskError(f"{path}: no such file" if not full.exists() else f"{path}: not a file")
    return _import_file(full, str(path))


@cache
def _import_file(full: Path, shown: str) -> ModuleType:
    """Import a task file once per process, under a name of its own (two files may share a stem)."""
    name = f"ida_task_{full.stem}_{hashlib.blake2b(str(full).encode(), digest_size=4).hexdigest()}"
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise TaskError(f"{shown}: cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        _guarded(shown, lambda: spec.loader.exec_module(module))  # type: ignore[union-attr,unused-ignore]
    except TaskError:
        del sys.modules[name]
        raise
    return module

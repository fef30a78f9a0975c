import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Runs several `ida` invocations in one fresh interpreter: each gets its own stdout, stderr and exit
# status, as a process would (an uncaught exception is a traceback on stderr and status 1).
_EACH = """
import contextlib, io, json, sys, traceback
from ida.cli import main

def one(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if isinstance(e.code, str):
                print(e.code, file=sys.stderr)
        except Exception:
            traceback.print_exc()
            code = 1
    return [code, out.getvalue(), err.getvalue()]

calls = json.loads(sys.argv[1])
sys.argv = ["ida"]  # usage lines name the command as the installed entry point does
print(json.dumps([one(args) for args in calls]))
"""


def _env(env: dict | None) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})}


def run_cli(*args: str, cwd: Path, input: str | None = None, env: dict | None = None, timeout: float = 120):
    """Run the real `ida` command in a subprocess (the installed entry point's module)."""
    return subprocess.run(
        [sys.executable, "-m", "ida", *args], cwd=cwd, input=input, capture_output=True, text=True,
        env=_env(env), timeout=timeout,
    )


def run_cli_each(calls: dict[str, tuple[str, ...]], cwd: Path, env: dict | None = None,
                 timeout: float = 120) -> dict[str, subprocess.CompletedProcess]:
    """The named `ida` invocations, in order, in one subprocess: one interpreter start instead of
    one a call, for tests that make many quick calls whose only shared state is files on disk."""
    proc = subprocess.run([sys.executable, "-c", _EACH, json.dumps(list(calls.values()))], cwd=cwd,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, env=_env(env), timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.splitlines()[-1])  # the driver's last line: whatever else was printed
    return {name: subprocess.CompletedProcess(["ida", *args], code, out, err)
            for (name, args), (code, out, err) in zip(calls.items(), results)}


@pytest.fixture
def cli(tmp_path):
    def call(*args: str, **kw):
        kw.setdefault("cwd", tmp_path)
        return run_cli(*args, **kw)

    return call


@pytest.fixture
def cli_each(tmp_path):
    def calls(named: dict[str, tuple[str, ...]], **kw):
        kw.setdefault("cwd", tmp_path)
        return run_cli_each(named, **kw)

    return calls

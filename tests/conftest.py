import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path, input: str | None = None, env: dict | None = None, timeout: float = 120):
    """Run the real `ida` command in a subprocess (the installed entry point's module)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ida", *args], cwd=cwd, input=input, capture_output=True, text=True,
        env=full_env, timeout=timeout,
    )


@pytest.fixture
def cli(tmp_path):
    def call(*args: str, **kw):
        kw.setdefault("cwd", tmp_path)
        return run_cli(*args, **kw)

    return call

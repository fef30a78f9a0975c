"""`import ida` stays light: no torch, no terminal UI, no graph library until they are used."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def loaded_after_import_ida(module: str) -> bool:
    code = f"import sys, ida, ida.tree, ida.engine, ida.policies; print({module!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    return out.strip() == "True"


@pytest.mark.parametrize("module", ["torch", "rich", "networkx"])
def test_import_ida_loads_no_heavy_library(module):
    assert not loaded_after_import_ida(module)


def test_the_lazy_policies_still_resolve():
    from ida.policies import HumanPolicy, MemoPolicy

    assert HumanPolicy.__name__ == "HumanPolicy" and MemoPolicy.__name__ == "MemoPolicy"

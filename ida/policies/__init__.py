"""The policies that ship with ida: scripted (`@scripted`), a person at the terminal
(`HumanPolicy`), and automation over any policy (`MemoPolicy`). `DistilledPolicy` and
`Deferring` live in `ida.distill` (they need torch).

`HumanPolicy` (rich) and `MemoPolicy` (SQLite) load on first use, so importing this
package, or running a scripted tree, loads neither.
"""

from __future__ import annotations

from typing import Any

from ida.policies.scripted import ScriptedPolicy, scripted
from ida.policy import Policy, policy_name

_LAZY = {"HumanPolicy": "ida.policies.human", "MemoPolicy": "ida.policies.memo"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ida.policies' has no attribute {name!r}")


__all__ = ["HumanPolicy", "MemoPolicy", "Policy", "ScriptedPolicy", "policy_name", "scripted"]

"""Policies answer a workspace with one action: `act(workspace) -> Action | str`.

A person types it, a script yields it, a distilled model writes it; the engine does not
care which. `DistilledPolicy` and `Deferring` live in `ida.distill` (they need torch).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ida.actions import Action
from ida.policies.human import HumanPolicy
from ida.policies.memo import MemoPolicy
from ida.policies.scripted import ScriptedPolicy, scripted
from ida.workspace import Workspace


@runtime_checkable
class Policy(Protocol):
    name: str

    def act(self, workspace: Workspace) -> Action | str: ...


def policy_name(policy: object) -> str:
    return getattr(policy, "name", None) or type(policy).__name__


__all__ = ["HumanPolicy", "MemoPolicy", "Policy", "ScriptedPolicy", "policy_name", "scripted"]

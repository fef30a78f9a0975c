"""Policies answer a workspace with one action: `act(workspace) -> Action | str`.

A person types it, a script yields it, a distilled model writes it; the engine does not
care which. Only the protocol lives here, so running a tree loads no terminal UI
(`ida.policies.human`) and no database (`ida.policies.memo`).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ida.actions import Action
from ida.workspace import Workspace


@runtime_checkable
class Policy(Protocol):
    name: str

    def act(self, workspace: Workspace) -> Action | str: ...


def policy_name(policy: object) -> str:
    return getattr(policy, "name", None) or type(policy).__name__

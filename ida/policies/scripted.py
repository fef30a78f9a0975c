"""Scripted policies: a Python generator per node that yields actions and receives results.

    @ida.scripted
    def double(ws):
        n = int(ws.question_text.split()[-1])
        half = yield f"ask what is half of {n}?"
        return str(2 * int(half))      # returning is the same as `yield "reply ..."`
"""

from __future__ import annotations

from collections.abc import Callable, Generator

from ida.actions import Action
from ida.workspace import Workspace

Script = Callable[[Workspace], Generator[Action | str, str, str | None]]


class ScriptedPolicy:
    def __init__(self, fn: Script, name: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__

    def act(self, ws: Workspace) -> Action | str:
        gen = ws.policy_state  # the node's own generator lives in its workspace, so nodes interleave freely
        try:
            if gen is None:
                gen = ws.policy_state = self.fn(ws)
                return next(gen)
            return gen.send(ws.last_result)
        except StopIteration as stop:
            if stop.value is None:
                raise RuntimeError(f"script {self.name} ended without a reply") from None
            return Action("reply", str(stop.value))


def scripted(fn: Script | None = None, *, name: str | None = None):
    """Decorator: turn a generator function into a policy."""
    if fn is None:
        return lambda f: ScriptedPolicy(f, name)
    return ScriptedPolicy(fn, name)

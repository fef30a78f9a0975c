"""What one node sees: its question and the log of its own actions and their results.

The workspace grows only by appending lines, and pointers are numbered on first
appearance, so a pointer's name never changes while the node works and two nodes with
the same history render to the same text. That text is what a person reads, what a
model is trained on, and the key for automation. The budget is kept outside it so that
it never spoils a cache hit.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ida.hypertext import Message, PointerNames
from ida.tree import Found


class Entry(NamedTuple):
    """One action in a workspace and what it showed, kept beside the rendered lines so a view
    (the terminal panel) is drawn from the data, never parsed back from the text."""

    action: str  # the action line as rendered, e.g. `ask What is $1 * 3?`
    kind: str | None  # ask, lookup, unlock, scratch, reply; None where the command was not understood
    shown: str  # what the workspace showed under it (`answer: 42`, lookup results, ...)
    error: str | None = None  # why the action was refused; it then changed nothing

    @property
    def arg(self) -> str:
        return self.action[len(self.kind) + 1:] if self.kind else self.action


class Workspace:
    __slots__ = ("node_id", "question", "names", "lines", "entries", "depth", "budget_left", "last_result",
                 "policy_state", "found")

    def __init__(self, node_id: int, question: Message, depth: int = 0, budget_left: int | None = None) -> None:
        self.node_id = node_id
        self.question = question
        self.depth = depth
        self.budget_left = budget_left
        self.names = PointerNames()
        self.lines: list[str] = [f"question: {self.names.render(question)}"]
        self.entries: list[Entry] = []
        self.last_result: str | None = None  # the result of the previous action, for scripts
        self.policy_state: Any = None  # a policy's own per-node memory (a script's generator)
        self.found: list[Found] = []  # the entries the latest lookup returned: data, not text to parse

    def render(self) -> str:
        return "\n".join(self.lines)

    @property
    def question_text(self) -> str:
        """The question with every pointer expanded, as a script or an answer model wants it."""
        return self.question.text()

    def show(self, m: Message) -> str:
        """Render a message's top level with this workspace's pointer names."""
        return self.names.render(m)

    def record(self, action_line: str, shown: str, result: str, kind: str | None = None,
               error: str | None = None) -> None:
        """Append an action and what it showed; `result` is what a script receives."""
        self.lines.append(f"> {action_line}")
        if shown:
            self.lines.append(shown)
        self.entries.append(Entry(action_line, kind, shown, error))
        self.last_result = result

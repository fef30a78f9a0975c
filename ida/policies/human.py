"""A person at the terminal as a policy: show the workspace, read one command, check it, return it.

The prompt takes the five commands of the action language. A command is checked against
the workspace before it is returned (syntax, pointers, brackets), so a mistake costs one
line of explanation and the same prompt again, never a step of the budget. Words such as
`help`, `raw` and `exit` are meta commands handled here; a session adds its own (`undo`,
`tree`) through `commands`.

`suggest` (workspace -> (command, confidence) or None) proposes an action, a distilled
model's for instance: it is shown as the editable default of the prompt, and Enter accepts it.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple
from collections.abc import Callable

from rich.console import Console, Group, RenderableType
from rich.text import Text

from ida import terminal
from ida.actions import Action, ActionError, parse_action
from ida.hypertext import HypertextError, parse
from ida.render import workspace_view
from ida.workspace import Workspace

PROMPT = "ida> "

HELP = """\
commands (one per line):
  ask <question>     open a subquestion; it is answered before you continue here
  unlock $n          show the content behind pointer $n (its own pointers stay locked)
  lookup <query>     search the experience database
  scratch <text>     a note to self in this workspace
  reply <answer>     answer this workspace's question and close it
  [brackets] nest a message, $n passes a pointer on without opening it, \\[ \\] \\$ \\\\ escape.
automation: what you do here is replayed wherever a workspace reads exactly like this one, what you
  unlocked included; a step taken with pointers still locked (passing $n on in an ask) serves a whole
  recursion. Above the panel and in `tree`, […] is a message this workspace cannot open.
meta:
{meta}"""

META_HELP = {
    "help": "this list",
    "raw": "the workspace exactly as automation and models see it",
    "undo": "take back your last action (and what automation did after it)",
    "tree": "the tree so far: open questions and finished subtrees",
    "exit": "save and leave; `ida ask --resume` continues here",
}

class Suggestion(NamedTuple):
    text: str
    confidence: float
    note: str = ""  # how often such confidence was right, where the model knows ("" where not)


Reader = Callable[[str, "str | None"], str]


class Leave(Exception):
    """The person asked to stop (`exit`, end of input). Nothing is lost: the caller saves."""


def check_action(text: str, ws: Workspace) -> Action:
    """Parse a command and check it against `ws`; raises ActionError/HypertextError with one line."""
    action = parse_action(text)
    if action.kind == "unlock":
        if ws.names.get(action.pointer) is None:
            known = ", ".join(f"${i}" for i in range(1, len(ws.names) + 1)) or "none"
            raise ActionError(f"unknown pointer {action.arg} (this workspace has: {known})")
    elif action.kind in ("ask", "reply"):
        try:
            parse(action.arg, ws.names)
        except HypertextError as e:
            raise ActionError(f"{action.kind}: {e}") from None
    return action


# ---- the policy ------------------------------------------------------------------------


class HumanPolicy:
    """A person at the terminal. `read(prompt, default)` reads a line (the terminal by default)."""

    name = "human"

    def __init__(
        self,
        console: Console | None = None,
        read: Reader | None = None,
        commands: dict[str, Callable[[Workspace], None]] | None = None,
        suggest: Callable[[Workspace], Suggestion | None] | None = None,
        footer: Callable[[Workspace], str] | None = None,
        above: Callable[[Workspace], RenderableType | None] | None = None,
    ) -> None:
        self.console = console or terminal.Console(highlight=False)  # data shown, never obeyed
        self.read = read or self._read_terminal
        self.commands: dict[str, Callable[[Workspace], None]] = {"help": self._help, "raw": self._raw,
                                                                 **(commands or {})}
        self.commands.setdefault("exit", self._exit)
        self.suggest = suggest
        self.footer = footer
        self.above = above
        self.shown = 0  # workspaces shown to the person
        self.current: Workspace | None = None  # the workspace at the prompt
        self.last_suggested: str | None = None
        self._prefilled = False

    # -- the loop --

    def act(self, ws: Workspace) -> Action:
        self.shown += 1
        self.current = ws
        self.show(ws)
        suggestion = self.suggest(ws) if self.suggest is not None else None
        self.last_suggested = suggestion[0] if suggestion else None
        if suggestion:
            text, confidence, note = Suggestion(*suggestion)
            self.console.print(Text.assemble(("model suggests", "magenta"),
                                             f" (confidence {confidence:.2f}{'; ' + note if note else ''}): ",
                                             (text, "bold"), ("   Enter accepts; edit to change", "dim")))
        while True:
            try:
                line = self.read(PROMPT, self.last_suggested)
            except EOFError:
                self.console.print()
                raise Leave("end of input") from None
            line = line.strip()
            if not line and self.last_suggested and not self._prefilled:
                line = self.last_suggested  # no line editing here: an empty line accepts the suggestion
            word = line.lower()
            if word in self.commands:
                self.commands[word](ws)
                continue
            try:
                return check_action(line, ws)
            except (ActionError, HypertextError) as e:
                self.console.print(Text.assemble(("error: ", "bold red"), str(e)), soft_wrap=True)

    def show(self, ws: Workspace) -> None:
        extra = self.above(ws) if self.above is not None else None
        panel = workspace_view(ws, self.footer(ws) if self.footer is not None else "")
        self.console.print(Group(extra, panel) if extra is not None else panel)

    # -- meta commands --

    def _help(self, ws: Workspace) -> None:
        meta = "\n".join(f"  {w:<18} {META_HELP.get(w, '')}" for w in self.commands)
        self.console.print(Text(HELP.format(meta=meta)))

    def _raw(self, ws: Workspace) -> None:
        self.console.print(Text(ws.render()))

    def _exit(self, ws: Workspace) -> None:
        raise Leave("exit")

    # -- reading a line --

    def _read_terminal(self, prompt: str, default: str | None) -> str:
        """input() with readline (history, editing); a default is put on the line, ready to edit."""
        self.console.file.flush()
        readline: Any = None
        if sys.stdin.isatty():
            try:
                import readline  # noqa: F401  (makes input() editable)
            except ImportError:  # pragma: no cover - platforms without readline
                readline = None
        self._prefilled = bool(readline and default)
        if readline is not None and default:
            readline.set_startup_hook(lambda: readline.insert_text(default))
        try:
            return input(prompt)
        finally:
            if readline is not None:
                readline.set_startup_hook(None)

"""Blame questions put to a person, each in an `ida ask` session (`ida backward --overseer ask`).

Each blame question is a session in the sessions file, so it is resumable: a person who
leaves halfway (exit, Ctrl-C, Ctrl-D) ends the pass, and the next pass over the same tree
resumes that question's session where it stopped. Automation answers a workspace the person
has answered before, in this pass or an earlier one: the same blame context is never asked
twice. The person may decompose a blame into subquestions, like any question.
"""

from __future__ import annotations

from rich.text import Text

from rich.console import Console

from ida.hypertext import Message
from ida.policies.human import Leave, Reader
from ida.session import Session, SessionStore
from ida.tree import Tree


class AskRunner:
    name = "ask"

    def __init__(self, store: SessionStore, console: Console | None = None, read: Reader | None = None,
                 db: object | None = None) -> None:
        self.store, self.console, self.read, self.db = store, console, read, db
        self.shown = 0  # workspaces shown to the person (automation answered the others)
        self.automated = 0

    def __call__(self, question: Message, run_id: str) -> Tree:
        text = question.text()
        info = next((s for s in self.store.sessions() if not s.done and s.question == text), None)
        resumed = info is not None
        if info is None:
            info = self.store.create(text)
        session = Session(info, self.store, db=self.db, console=self.console, read=self.read)
        if self.console is not None:
            blames = run_id.rsplit("-blame", 1)[-1]
            self.console.print(Text.assemble((f"blame of node #{blames}", "bold"), f": session {info.id}"
                                             + (" (resumed)" if resumed else "")), highlight=False)
        tree = session.run()
        self.shown += session.human.shown
        self.automated += session.counts["auto"]
        if tree is None:
            raise KeyboardInterrupt if session.interrupted else Leave(f"left the blame of session {info.id}")
        return tree

"""Automation: remember a policy's action per rendered workspace, and replay it next time.

A person is treated as a pure function from context to action (as in Ought's patchwork):
once they have acted in a context, an identical context, in this session or a later one,
gets the same action without asking. The key is the rendered workspace, which already
names pointers by order of appearance and keeps the budget out, so two nodes that see
the same thing share the entry. The table lives in SQLite so it survives sessions.

    auto = Automation(".ida/automation.sqlite")
    policy = MemoPolicy(HumanPolicy(), auto)      # asks the person only for new contexts
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path

from ida.actions import Action
from ida.errors import IdaError
from ida.store import Database, Migrations, execute_script, now
from ida.workspace import Workspace

# The table as the first release made it. The sessions file holds it too (`ida.session.store`):
# a change to it is a migration in both lists.
AUTOMATION_TABLE = """
CREATE TABLE IF NOT EXISTS automation (
    key TEXT PRIMARY KEY,          -- blake2b of the rendered workspace
    workspace TEXT NOT NULL,       -- the rendered workspace itself, for people to read
    action TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    session TEXT,
    created TEXT NOT NULL
);
"""

MIGRATIONS = Migrations()
migration = MIGRATIONS.add


@migration
def m001_initial(conn: sqlite3.Connection) -> None:
    """The automation table (files of the first release have it at `user_version` 0)."""
    execute_script(conn, AUTOMATION_TABLE)


class AutomationError(IdaError):
    """The automation table cannot be opened or written."""


def workspace_key(rendered: str) -> str:
    """The automation key of a rendered workspace (also used to check a replay)."""
    return hashlib.blake2b(rendered.encode(), digest_size=16).hexdigest()


class Automation:
    """The persisted map rendered workspace -> action text.

    Give it a path, or an open `Database` whose schema has the table (the session store
    does, so that a person's action and its automation entry are written in one transaction).
    """

    def __init__(self, where: str | Path | Database) -> None:
        self._own = not isinstance(where, Database)
        self.db = Database(where, MIGRATIONS, what="automation table", error=AutomationError) \
            if not isinstance(where, Database) else where
        self.path = self.db.path

    # -- reading --

    def get(self, rendered: str) -> str | None:
        row = self.db.conn.execute("SELECT action FROM automation WHERE key = ?",
                                   (workspace_key(rendered),)).fetchone()
        return row[0] if row else None

    def __len__(self) -> int:
        return self.db.one("SELECT count(*) FROM automation")

    def entries(self) -> list[tuple[str, str]]:
        """(rendered workspace, action) pairs, oldest first."""
        return list(self.db.conn.execute("SELECT workspace, action FROM automation ORDER BY rowid"))

    # -- writing --

    def transaction(self) -> AbstractContextManager[None]:
        """BEGIN IMMEDIATE ... COMMIT; nested use joins the open transaction."""
        return self.db.transaction()

    def put(self, rendered: str, action: str, source: str = "", session: str | None = None) -> None:
        with self.transaction():
            self.db.conn.execute(
                "INSERT OR REPLACE INTO automation (key, workspace, action, source, session, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (workspace_key(rendered), rendered, action, source, session, now()),
            )

    def forget(self, key: str, action: str | None = None) -> bool:
        """Remove the entry under a workspace key (only if it still says `action`, when given)."""
        with self.transaction():
            sql, params = "DELETE FROM automation WHERE key = ?", [key]
            if action is not None:
                sql += " AND action = ?"
                params.append(action)
            return self.db.conn.execute(sql, params).rowcount > 0

    def close(self) -> None:
        if self._own:
            self.db.close()

    def __enter__(self) -> Automation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MemoPolicy:
    """Act from automation when the context was seen before; otherwise ask `inner` and remember.

    `hits` and `misses` count how often automation answered and how often `inner` was asked.
    `on_hit` and `remember` are the two places a subclass hooks in (the session records both).
    """

    def __init__(self, inner: object, automation: Automation | str | Path, name: str | None = None) -> None:
        self.inner = inner
        self.automation = automation if isinstance(automation, Automation) else Automation(automation)
        self.name = name or f"memo({getattr(inner, 'name', type(inner).__name__)})"
        self.hits = 0
        self.misses = 0

    def act(self, ws: Workspace) -> Action | str:
        rendered = ws.render()
        hit = self.automation.get(rendered)
        if hit is not None:
            self.hits += 1
            self.on_hit(ws, rendered, hit)
            return hit
        action = self.inner.act(ws)  # type: ignore[attr-defined]
        self.misses += 1
        self.remember(ws, rendered, str(action).strip())
        return action

    def on_hit(self, ws: Workspace, rendered: str, action: str) -> None:
        """Automation answered `ws` with `action`."""

    def remember(self, ws: Workspace, rendered: str, action: str) -> None:
        """`inner` answered `ws` with `action`: keep it for the next identical context."""
        self.automation.put(rendered, action, source=getattr(self.inner, "name", ""))

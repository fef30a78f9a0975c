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
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ida.actions import Action
from ida.errors import IdaError
from ida.workspace import Workspace

_SCHEMA = """
CREATE TABLE IF NOT EXISTS automation (
    key TEXT PRIMARY KEY,          -- blake2b of the rendered workspace
    workspace TEXT NOT NULL,       -- the rendered workspace itself, for people to read
    action TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    session TEXT,
    created TEXT NOT NULL
)
"""


class AutomationError(IdaError):
    """The automation table cannot be opened or written."""


def workspace_key(rendered: str) -> str:
    """The automation key of a rendered workspace (also used to check a replay)."""
    return hashlib.blake2b(rendered.encode(), digest_size=16).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def connect(path: str | Path) -> sqlite3.Connection:
    """An SQLite connection in WAL mode that waits for other writers; we BEGIN/COMMIT ourselves."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: a commit survives a killed process
    except (sqlite3.Error, OSError) as e:
        raise AutomationError(f"{path}: cannot open: {e}") from None
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, label: str) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT around the block; nested use joins the open transaction.

    IMMEDIATE takes the write lock up front, so two writers wait on each other (busy
    timeout) instead of failing when a read transaction tries to upgrade.
    """
    if conn.in_transaction:
        yield
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("COMMIT")
    except BaseException as e:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(e, sqlite3.DatabaseError):
            raise AutomationError(f"{label}: {e}") from None
        raise


class Automation:
    """The persisted map rendered workspace -> action text.

    Give it a path, or share an open connection (the session store does, so that a
    person's action and its automation entry are written in one transaction).
    """

    def __init__(self, where: str | Path | sqlite3.Connection) -> None:
        if isinstance(where, sqlite3.Connection):
            self.conn, self.path, self._own = where, None, False
        else:
            self.path = Path(where)
            self.conn, self._own = connect(self.path), True
        try:
            self.conn.execute(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise AutomationError(f"{self.path or 'automation'}: {e}") from None

    # -- reading --

    def get(self, rendered: str) -> str | None:
        row = self.conn.execute("SELECT action FROM automation WHERE key = ?", (workspace_key(rendered),)).fetchone()
        return row[0] if row else None

    def __len__(self) -> int:
        return self.conn.execute("SELECT count(*) FROM automation").fetchone()[0]

    def entries(self) -> list[tuple[str, str]]:
        """(rendered workspace, action) pairs, oldest first."""
        return list(self.conn.execute("SELECT workspace, action FROM automation ORDER BY rowid"))

    # -- writing --

    def transaction(self):
        """BEGIN IMMEDIATE ... COMMIT; nested use joins the open transaction."""
        return transaction(self.conn, str(self.path or "automation"))

    def put(self, rendered: str, action: str, source: str = "", session: str | None = None) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO automation (key, workspace, action, source, session, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (workspace_key(rendered), rendered, action, source, session, _now()),
            )

    def forget(self, rendered: str, action: str | None = None) -> bool:
        """Remove the entry for a context (only if it still says `action`, when given)."""
        with self.transaction():
            sql, params = "DELETE FROM automation WHERE key = ?", [workspace_key(rendered)]
            if action is not None:
                sql += " AND action = ?"
                params.append(action)
            return self.conn.execute(sql, params).rowcount > 0

    def close(self) -> None:
        if self._own:
            self.conn.close()

    def __enter__(self) -> Automation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MemoPolicy:
    """Act from automation when the context was seen before; otherwise ask `inner` and remember.

    `hits` and `misses` count how often automation answered and how often `inner` was asked.
    """

    def __init__(self, inner: object, automation: Automation | str | Path, name: str | None = None) -> None:
        self.inner = inner
        self.automation = automation if isinstance(automation, Automation) else Automation(automation)
        self.name = name or f"memo({getattr(inner, 'name', type(inner).__name__)})"
        self.hits = 0
        self.misses = 0
        self.last_automated = False

    def act(self, ws: Workspace) -> Action | str:
        rendered = ws.render()
        hit = self.automation.get(rendered)
        if hit is not None:
            self.hits += 1
            self.last_automated = True
            return hit
        action = self.inner.act(ws)  # type: ignore[attr-defined]
        self.misses += 1
        self.last_automated = False
        self.automation.put(rendered, str(action).strip(), source=getattr(self.inner, "name", ""))
        return action

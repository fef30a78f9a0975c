"""Automation: remember a policy's action per rendered workspace, and replay it next time.

A person is treated as a pure function from context to action (as in Ought's patchwork):
once they have acted in a context, an identical context, in this session or a later one,
gets the same action without asking. The key is the rendered workspace, which already
names pointers by order of appearance and keeps the budget out, so two nodes that see
the same thing share the entry. The table lives in SQLite so it survives sessions.

Automation is a versioned store, like the experience database: an entry has its author
(`person`, `model`, `overseer:NAME`, a policy's name), the run, node and step it came from
and why; every change is an event in an append-only log, so `history` and `revert` work
and nothing is lost. A forgotten entry keeps its row (not live): the person is asked again.

    auto = Automation(".ida/automation.sqlite")
    policy = MemoPolicy(HumanPolicy(), auto)      # asks the person only for new contexts
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from ida.actions import Action, ActionError, parse_action
from ida.errors import IdaError
from ida.hypertext import HypertextError, msg, parse
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

# Entries get ids, authors, provenance and a history. SQLite cannot change a primary key in
# place, so the table is rebuilt (new table, copy, drop, rename); each old row becomes an
# entry whose history starts with one `add` event.
AUTOMATION_HISTORY = """
CREATE TABLE automation_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,      -- blake2b of the rendered workspace
    workspace TEXT NOT NULL,       -- the rendered workspace itself, for people to read
    action TEXT NOT NULL,          -- the latest action (kept when forgotten, for people to read)
    live INTEGER NOT NULL DEFAULT 1,  -- 0: forgotten, the person is asked again
    author TEXT NOT NULL,          -- of the latest change: person | model | overseer:NAME | a policy
    run TEXT,                      -- the session or run it came from
    node INTEGER,
    step INTEGER,
    reason TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
INSERT INTO automation_new (key, workspace, action, author, run, created, updated)
    SELECT key, workspace, action, CASE source WHEN '' THEN 'person' ELSE source END, session, created, created
    FROM automation ORDER BY rowid;
DROP TABLE automation;
ALTER TABLE automation_new RENAME TO automation;
CREATE TABLE automation_events (
    revision INTEGER PRIMARY KEY AUTOINCREMENT,
    entry INTEGER NOT NULL REFERENCES automation(id),
    kind TEXT NOT NULL CHECK (kind IN ('add', 'edit', 'forget', 'revert')),
    action TEXT,                   -- the entry's action after the change; NULL: forgotten
    author TEXT NOT NULL,
    run TEXT,
    node INTEGER,
    step INTEGER,
    reason TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL,
    source INTEGER                 -- the event that wrote this action (itself, or the one a revert restored)
);
CREATE INDEX automation_events_entry ON automation_events (entry, revision);
INSERT INTO automation_events (entry, kind, action, author, run, reason, at)
    SELECT id, 'add', action, author, run, 'kept before automation had a history', created FROM automation ORDER BY id;
UPDATE automation_events SET source = revision;
"""

MIGRATIONS = Migrations()
migration = MIGRATIONS.add


@migration
def m001_initial(conn: sqlite3.Connection) -> None:
    """The automation table (files of the first release have it at `user_version` 0)."""
    execute_script(conn, AUTOMATION_TABLE)


@migration
def m002_history(conn: sqlite3.Connection) -> None:
    """Entries with ids, authors and provenance, and their event log (`AUTOMATION_HISTORY`)."""
    execute_script(conn, AUTOMATION_HISTORY)


class AutomationError(IdaError):
    """The automation table cannot be opened or written, or an unknown entry or bad action."""


def workspace_key(rendered: str) -> str:
    """The automation key of a rendered workspace (also used to check a replay)."""
    return hashlib.blake2b(rendered.encode(), digest_size=16).hexdigest()


class Origin(BaseModel):
    """Who made a change and from where: the author, the run (a session's id), node and step, why."""

    author: str = "person"
    run: str | None = None
    node: int | None = None
    step: int | None = None
    reason: str = ""

    def where(self) -> str:
        """`run #node step n`, as much of it as is known."""
        parts = [self.run or ""] + ([f"#{self.node}"] if self.node is not None else []) + \
            ([f"step {self.step}"] if self.step is not None else [])
        return " ".join(p for p in parts if p)


class AutoEntry(BaseModel):
    """An entry: the context (rendered workspace), its action and who wrote it, from where."""

    id: int
    key: str
    workspace: str
    action: str
    live: bool
    origin: Origin  # of the latest change
    created: str
    updated: str

    @property
    def question(self) -> str:
        """The context's question line, without its `question: ` label."""
        return self.workspace.split("\n", 1)[0].removeprefix("question: ")

    @property
    def lines(self) -> int:
        return self.workspace.count("\n") + 1


class AutoEvent(BaseModel):
    """One change to an entry; `action` is the entry's action after it, None when forgotten."""

    revision: int
    entry: int
    kind: Literal["add", "edit", "forget", "revert"]
    action: str | None
    origin: Origin
    at: str


_POINTER = re.compile(r"\\.|\$([0-9]+)", re.S)  # an escape pair first, so `\$1` is no pointer


def pointer_count(rendered: str) -> int:
    """How many pointers a rendered workspace names: they are numbered in order, so the highest."""
    return max((int(m.group(1)) for m in _POINTER.finditer(rendered) if m.group(1) and len(m.group(1)) < 19),
               default=0)


def check_in_context(action: str, rendered: str) -> str:
    """`action` parsed and checked against the pointers of the context `rendered`; its text, rendered."""
    try:
        a = parse_action(action)
        n = pointer_count(rendered)
        if a.kind == "unlock" and not 1 <= a.pointer <= n:
            raise ActionError(f"unknown pointer {a.arg} (this workspace has {n})")
        if a.kind in ("ask", "reply"):
            parse(a.arg, [msg("")] * n)
    except (ActionError, HypertextError) as e:
        raise AutomationError(f"not an action for this workspace: {e}") from None
    return a.render()


_COLS = "id, key, workspace, action, live, author, run, node, step, reason, created, updated"
_EVENT_COLS = "revision, entry, kind, action, author, run, node, step, reason, at"


def _entry(row: tuple) -> AutoEntry:
    id_, key, ws, action, live, author, run, node, step, reason, created, updated = row
    return AutoEntry(id=id_, key=key, workspace=ws, action=action, live=bool(live), created=created, updated=updated,
                     origin=Origin(author=author, run=run, node=node, step=step, reason=reason))


def _event(row: tuple) -> AutoEvent:
    rev, entry, kind, action, author, run, node, step, reason, at = row
    return AutoEvent(revision=rev, entry=entry, kind=kind, action=action, at=at,
                     origin=Origin(author=author, run=run, node=node, step=step, reason=reason))


def parse_entry_ref(ref: str | int) -> int:
    """`12` or `a12`, as entries are listed."""
    if isinstance(ref, int):
        return ref
    digits = ref[1:] if ref[:1] in ("a", "A") else ref
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        raise AutomationError(f"bad automation entry {ref!r}: expected a number such as 12 or a12")
    return int(digits)


class Automation:
    """The persisted map rendered workspace -> action text, with its history.

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
        """The action for a context, if automation has one (a forgotten entry has none)."""
        row = self.db.conn.execute("SELECT action FROM automation WHERE key = ? AND live = 1",
                                   (workspace_key(rendered),)).fetchone()
        return row[0] if row else None

    def find(self, rendered: str) -> AutoEntry | None:
        """The entry for a context, live or forgotten."""
        row = self.db.conn.execute(f"SELECT {_COLS} FROM automation WHERE key = ?",
                                   (workspace_key(rendered),)).fetchone()
        return _entry(row) if row else None

    def entry(self, ref: str | int) -> AutoEntry:
        """An entry by id (`12` or `a12`), live or forgotten."""
        row = self.db.conn.execute(f"SELECT {_COLS} FROM automation WHERE id = ?",
                                   (parse_entry_ref(ref),)).fetchone()
        if row is None:
            raise AutomationError(f"no automation entry {ref} in {self.path}")
        return _entry(row)

    def __len__(self) -> int:
        return self.db.one("SELECT count(*) FROM automation WHERE live = 1")

    def entries(self) -> list[tuple[str, str]]:
        """(rendered workspace, action) of the live entries, oldest first."""
        return list(self.db.conn.execute("SELECT workspace, action FROM automation WHERE live = 1 ORDER BY id"))

    def records(self, forgotten: bool = False) -> list[AutoEntry]:
        """The live entries (and the forgotten ones, when asked), oldest first."""
        where = "" if forgotten else " WHERE live = 1"
        return [_entry(r) for r in self.db.conn.execute(f"SELECT {_COLS} FROM automation{where} ORDER BY id")]

    def history(self, ref: str | int) -> list[AutoEvent]:
        entry = self.entry(ref)
        rows = self.db.conn.execute(f"SELECT {_EVENT_COLS} FROM automation_events WHERE entry = ? ORDER BY revision",
                                    (entry.id,))
        return [_event(r) for r in rows]

    @property
    def revision(self) -> int:
        """The number of changes ever made to automation."""
        return self.db.one("SELECT coalesce(max(revision), 0) FROM automation_events")

    # -- writing --

    def transaction(self) -> AbstractContextManager[None]:
        """BEGIN IMMEDIATE ... COMMIT; nested use joins the open transaction."""
        return self.db.transaction()

    def put(self, rendered: str, action: str, origin: Origin | None = None) -> int:
        """Set the action for a context (a new entry, or a forgotten one back); returns the entry's id."""
        origin = origin or Origin()
        key = workspace_key(rendered)
        with self.transaction():
            row = self.db.conn.execute("SELECT id, action, live FROM automation WHERE key = ?", (key,)).fetchone()
            if row is not None and row[1] == action and row[2]:
                return int(row[0])  # already says so: no change, no event
            at = now()
            if row is None:
                entry = int(self.db.conn.execute(
                    "INSERT INTO automation (key, workspace, action, author, run, node, step, reason, created, updated)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, rendered, action, *_prov(origin), at, at)).lastrowid or 0)
            else:
                entry = int(row[0])
                self._set(entry, action, origin, at)
            self._log(entry, "add" if row is None or not row[2] else "edit", action, origin, at, source=None)
            return entry

    def edit(self, ref: str | int, action: str, origin: Origin | None = None) -> AutoEntry:
        """Change an entry's action (checked against its context); a forgotten entry comes back."""
        entry = self.entry(ref)
        self.put(entry.workspace, check_in_context(action, entry.workspace), origin)
        return self.entry(entry.id)

    def forget(self, key: str, action: str | None = None, origin: Origin | None = None) -> bool:
        """Forget the entry under a workspace key (only if it still says `action`, when given):
        the person is asked again there. Its history stays."""
        with self.transaction():
            row = self.db.conn.execute("SELECT id, action FROM automation WHERE key = ? AND live = 1",
                                       (key,)).fetchone()
            if row is None or (action is not None and row[1] != action):
                return False
            origin, at = origin or Origin(), now()
            self.db.conn.execute("UPDATE automation SET live = 0, author = ?, run = ?, node = ?, step = ?, reason = ?,"
                                 " updated = ? WHERE id = ?", (*_prov(origin), at, row[0]))
            self._log(int(row[0]), "forget", None, origin, at, source=None)
            return True

    def revert(self, ref: str | int, to_revision: int | None = None, origin: Origin | None = None) -> AutoEntry:
        """Make an entry as it was at `to_revision` (default: before its latest change), with the
        author and provenance of the action it gets back."""
        entry = self.entry(ref)
        origin = origin or Origin(reason=f"revert to revision {to_revision}" if to_revision is not None else "revert")
        with self.transaction():
            events = self.history(entry.id)
            if to_revision is None:
                if len(events) < 2:
                    raise AutomationError(f"a{entry.id} has no earlier state to go back to")
                to_revision = events[-2].revision
            if to_revision < events[0].revision:
                raise AutomationError(f"a{entry.id} did not exist at revision {to_revision} "
                                      f"(its history starts at {events[0].revision})")
            then = next(e for e in reversed(events) if e.revision <= to_revision)
            if (then.action is None) == (not entry.live) and (then.action is None or then.action == entry.action):
                return entry  # already so
            at = now()
            if then.action is None:
                self.db.conn.execute("UPDATE automation SET live = 0, updated = ? WHERE id = ?", (at, entry.id))
                source = None
            else:
                source = self.db.one("SELECT source FROM automation_events WHERE revision = ?", (then.revision,))
                src = next(e for e in events if e.revision == source).origin
                self._set(entry.id, then.action, src, at)
            self._log(entry.id, "revert", then.action, origin, at, source=source)
        return self.entry(entry.id)

    def _set(self, entry: int, action: str, origin: Origin, at: str) -> None:
        self.db.conn.execute("UPDATE automation SET action = ?, live = 1, author = ?, run = ?, node = ?, step = ?,"
                             " reason = ?, updated = ? WHERE id = ?", (action, *_prov(origin), at, entry))

    def _log(self, entry: int, kind: str, action: str | None, origin: Origin, at: str, source: int | None) -> None:
        cur = self.db.conn.execute(
            "INSERT INTO automation_events (entry, kind, action, author, run, node, step, reason, at, source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (entry, kind, action, *_prov(origin), at, source))
        if source is None and action is not None:  # an add or edit wrote this action itself
            self.db.conn.execute("UPDATE automation_events SET source = revision WHERE revision = ?", (cur.lastrowid,))

    def close(self) -> None:
        if self._own:
            self.db.close()

    def __enter__(self) -> Automation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _prov(o: Origin) -> tuple[str, str | None, int | None, int | None, str]:
    return o.author, o.run, o.node, o.step, o.reason


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
        self.automation.put(rendered, action, Origin(author=getattr(self.inner, "name", "") or "policy",
                                                     node=ws.node_id, step=len(ws.entries)))

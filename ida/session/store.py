"""The sessions file: each session's question and settings, the actions in the order they were
chosen, and the automation table, in one SQLite file (on `ida.store`), so that an action and
its automation entry are written in one transaction.

    store = SessionStore(".ida/sessions.sqlite")
    info = store.create("What is 351 * 5019?", transcript="transcripts/sessions/x.jsonl")
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence

from ida.errors import IdaError
from ida.hypertext import HypertextError, parse
from ida.policies.memo import AUTOMATION_HISTORY, AUTOMATION_TABLE, Automation, Origin
from ida.store import Database, Migrations, default_path, execute_script, now

SESSIONS_ENV = "IDA_SESSIONS"
DEFAULT_BUDGET = 100_000
DEFAULT_MAX_DEPTH = 1_000

# Who chose an action: the person, the person accepting a model's suggestion, or automation.
PERSON, MODEL, AUTO = "person", "model", "auto"

MIGRATIONS = Migrations()
migration = MIGRATIONS.add


@migration
def m001_initial(conn: sqlite3.Connection) -> None:
    """The first release's tables (its files are at `user_version` 0, hence IF NOT EXISTS)."""
    execute_script(conn, """
    CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        question TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open',      -- open | done
        budget INTEGER NOT NULL,
        max_depth INTEGER NOT NULL,
        automate INTEGER NOT NULL DEFAULT 1,
        db_path TEXT,
        transcript TEXT NOT NULL,
        answer TEXT,
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session TEXT NOT NULL REFERENCES sessions(id),
        node INTEGER NOT NULL,
        action TEXT NOT NULL,
        source TEXT NOT NULL,                     -- person | model | auto
        ws_hash TEXT NOT NULL,                    -- the workspace it answered: replay checks it
        live INTEGER NOT NULL DEFAULT 1,          -- 0: undone, or set aside when a replay diverged
        at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS actions_by_session ON actions (session, live, id);
    """ + AUTOMATION_TABLE)


@migration
def m002_transcript_optional(conn: sqlite3.Connection) -> None:
    """A session need not save a transcript (NULL): the library writes files only where told.

    SQLite cannot drop NOT NULL in place: the table is rebuilt (its recipe: new table, copy,
    drop, rename), rowids kept so the listing order stays.
    """
    execute_script(conn, """
    CREATE TABLE sessions_new (
        id TEXT PRIMARY KEY,
        question TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open',      -- open | done
        budget INTEGER NOT NULL,
        max_depth INTEGER NOT NULL,
        automate INTEGER NOT NULL DEFAULT 1,
        db_path TEXT,
        transcript TEXT,                          -- NULL: no transcript is saved
        answer TEXT,
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    INSERT INTO sessions_new (rowid, id, question, status, budget, max_depth, automate, db_path, transcript,
                              answer, created, updated)
        SELECT rowid, id, question, status, budget, max_depth, automate, db_path, transcript,
               answer, created, updated FROM sessions;
    DROP TABLE sessions;
    ALTER TABLE sessions_new RENAME TO sessions;
    """)


@migration
def m003_automation_history(conn: sqlite3.Connection) -> None:
    """Automation entries with ids, authors, provenance and history (as `ida.policies.memo`'s m002)."""
    execute_script(conn, AUTOMATION_HISTORY)


class SessionError(IdaError):
    """An unknown or finished session, or a sessions file that cannot be used."""


def sessions_path(path: str | Path | None = None) -> Path:
    """The sessions file: `path`, else $IDA_SESSIONS, else .ida/sessions.sqlite here."""
    return default_path(SESSIONS_ENV, "sessions.sqlite", path)


@dataclass(frozen=True)
class SessionInfo:
    id: str
    question: str
    status: str
    budget: int
    max_depth: int
    automate: bool
    db_path: str | None
    transcript: str | None  # where the finished tree is saved; None: nowhere
    answer: str | None
    created: str
    updated: str
    person: int = 0  # live actions the person chose (typed or accepted from the model)
    auto: int = 0  # live actions automation chose

    @property
    def done(self) -> bool:
        return self.status == "done"


@dataclass(frozen=True)
class Recorded:
    row: int
    node: int
    action: str
    source: str
    ws_hash: str


def _check_transcript_path(path: str | Path | None) -> None:
    if path is not None and Path(path).is_dir():
        raise SessionError(f"{path}: is a folder; give a file for the transcript, such as {Path(path) / 'session.jsonl'}")


class SessionStore:
    """Sessions, their actions and the automation table, in one SQLite file."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = sessions_path(path)
        try:
            self.db = Database(self.path, MIGRATIONS, what="sessions file", error=SessionError)
        except SessionError as e:
            reason = str(e).removeprefix(f"{self.path}: ")
            raise SessionError(f"{self.path}: not a usable sessions file: {reason}") from None
        self.automation = Automation(self.db)

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self):
        return self.db.transaction()

    # -- sessions --

    def create(self, question: str, budget: int = DEFAULT_BUDGET, max_depth: int = DEFAULT_MAX_DEPTH,
               db_path: str | Path | None = None, transcript: str | Path | None = None,
               automate: bool = True, transcript_dir: str | Path | None = None) -> SessionInfo:
        """A new open session. Its finished tree is saved to `transcript`, else to `transcript_dir`/ID.jsonl,
        else nowhere."""
        if not question.strip():
            raise SessionError("the question is empty")
        try:
            parse(question)
        except HypertextError as e:
            raise SessionError(f"the question is not valid hypertext: {e}") from None
        if budget < 1 or max_depth < 0:
            raise SessionError("the budget must be at least 1 and the depth limit at least 0")
        _check_transcript_path(transcript)
        sid = uuid.uuid4().hex[:8]
        if transcript is None and transcript_dir is not None:
            transcript = Path(transcript_dir) / f"{sid}.jsonl"
        at = now()
        with self.transaction():
            self.conn.execute(
                "INSERT INTO sessions (id, question, budget, max_depth, automate, db_path, transcript, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sid, question, budget, max_depth, int(automate),
                 None if db_path is None else str(Path(db_path).resolve()),
                 None if transcript is None else str(Path(transcript).resolve()), at, at),
            )
        return self.get(sid)

    _SELECT = """SELECT s.id, s.question, s.status, s.budget, s.max_depth, s.automate, s.db_path, s.transcript,
                        s.answer, s.created, s.updated,
                        coalesce(sum(a.live = 1 AND a.source != 'auto'), 0), coalesce(sum(a.live = 1 AND a.source = 'auto'), 0)
                 FROM sessions s LEFT JOIN actions a ON a.session = s.id"""

    def _info(self, row: tuple) -> SessionInfo:
        return SessionInfo(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7], row[8], row[9],
                           row[10], int(row[11]), int(row[12]))

    def get(self, sid: str) -> SessionInfo:
        """A session by id or by a unique prefix of its id."""
        rows = self.conn.execute(self._SELECT + " WHERE s.id LIKE ? || '%' GROUP BY s.id",
                                 (sid.replace("%", "").replace("_", ""),)).fetchall() if sid else []
        exact = [r for r in rows if r[0] == sid]
        if exact:
            return self._info(exact[0])
        if not rows:
            raise SessionError(f"no session {sid!r} in {self.path}")
        if len(rows) > 1:
            raise SessionError(f"{sid!r} is the start of {len(rows)} session ids; give more of it")
        return self._info(rows[0])

    def sessions(self) -> list[SessionInfo]:
        """Every session, the most recently updated first."""
        rows = self.conn.execute(self._SELECT + " GROUP BY s.id ORDER BY s.updated DESC, s.rowid DESC").fetchall()
        return [self._info(r) for r in rows]

    def latest_open(self) -> SessionInfo | None:
        return next((s for s in self.sessions() if not s.done), None)

    def set_transcript(self, sid: str, transcript: str | Path) -> SessionInfo:
        """Save an open session's tree to `transcript` instead (a resumed session whose path failed)."""
        _check_transcript_path(transcript)
        with self.transaction():
            self.conn.execute("UPDATE sessions SET transcript = ?, updated = ? WHERE id = ? AND status = 'open'",
                              (str(Path(transcript).resolve()), now(), sid))
        return self.get(sid)

    def finish(self, sid: str, answer: str | None) -> None:
        with self.transaction():
            self.conn.execute("UPDATE sessions SET status = 'done', answer = ?, updated = ? WHERE id = ?",
                              (answer, now(), sid))

    # -- actions --

    def actions(self, sid: str) -> list[Recorded]:
        rows = self.conn.execute("SELECT id, node, action, source, ws_hash FROM actions "
                                 "WHERE session = ? AND live = 1 ORDER BY id", (sid,))
        return [Recorded(*r) for r in rows]

    def append(self, sid: str, rows: Sequence[tuple[int, str, str, str]],
               remember: tuple[str, str, Origin] | None = None) -> int | None:
        """Store (node, action, source, ws_hash) rows and, when given, an automation entry (context,
        action, origin): one transaction. Returns the automation entry's id, if one was written."""
        if not rows and remember is None:
            return None
        at = now()
        entry = None
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO actions (session, node, action, source, ws_hash, at) VALUES (?, ?, ?, ?, ?, ?)",
                [(sid, node, action, source, h, at) for node, action, source, h in rows],
            )
            if remember is not None:
                entry = self.automation.put(*remember)
            self.conn.execute("UPDATE sessions SET updated = ? WHERE id = ?", (at, sid))
        return entry

    def undo(self, sid: str) -> Recorded | None:
        """Take back the last action the person chose, what followed it, and its automation entry."""
        with self.transaction():
            row = self.conn.execute(
                "SELECT id, node, action, source, ws_hash FROM actions WHERE session = ? AND live = 1 "
                "AND source != 'auto' ORDER BY id DESC LIMIT 1", (sid,)).fetchone()
            if row is None:
                return None
            rec = Recorded(*row)
            self.conn.execute("UPDATE actions SET live = 0 WHERE session = ? AND id >= ?", (sid, rec.row))
            self.automation.forget(rec.ws_hash, rec.action,
                                   Origin(author=PERSON, run=sid, node=rec.node, reason="undo"))
            self.conn.execute("UPDATE sessions SET updated = ? WHERE id = ?", (now(), sid))
        return rec

    def set_aside(self, sid: str, from_row: int) -> int:
        """Mark the actions from `from_row` on as not live (a replay diverged there); returns how many."""
        with self.transaction():
            return self.conn.execute("UPDATE actions SET live = 0 WHERE session = ? AND id >= ? AND live = 1",
                                     (sid, from_row)).rowcount

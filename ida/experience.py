"""The experience database: editable, versioned lessons in one SQLite file.

An entry is a one-line sentence under a key (`vase: vases are fragile; move slowly
near them`). The `entries` table is the current state; every change is also an event
in an append-only log, and the event's rowid is the database `revision`. Nothing is
ever deleted: a removed entry keeps its row (not live), so `revert` can bring it back.
Lookups use an index on the case-folded key and an FTS5 index over live entries.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ida.errors import IdaError
from ida.files import atomic_open
from ida.store import Database, Migrations, default_path, execute_script, now

DB_ENV = "IDA_DB"
APPLICATION_ID = 0x1DA0E8DB  # marks the file as ours, so a foreign SQLite db is refused

# Words so common that ranking by them costs a scan of most of the index and says little.
_STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "will", "with"]
)
_MAX_QUERY_TOKENS = 32
# bm25 scores every row that matches, so a word found in most entries would make a lookup
# linear in the database. Beyond this many matches only the newest ones are ranked.
RANK_WINDOW = 2000

MIGRATIONS = Migrations()
migration = MIGRATIONS.add


@migration
def m001_initial(conn: sqlite3.Connection) -> None:
    """The schema of the first release (`user_version` 1)."""
    execute_script(conn, """
CREATE TABLE entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    key_fold TEXT NOT NULL,
    text TEXT NOT NULL,
    author TEXT NOT NULL,
    provenance TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    live INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX entries_key_fold ON entries(key_fold) WHERE live = 1;
CREATE TABLE events (
    revision INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id INTEGER NOT NULL REFERENCES entries(id),
    kind TEXT NOT NULL CHECK (kind IN ('add', 'edit', 'remove', 'revert')),
    key TEXT,
    text TEXT,
    author TEXT NOT NULL,
    provenance TEXT NOT NULL,
    at TEXT NOT NULL,
    -- the add/edit event that wrote key and text (its own revision for add/edit, the
    -- restored one for revert, NULL when the entry is gone): revert restores its author too
    source INTEGER
);
CREATE INDEX events_entry ON events(entry_id, revision);
CREATE VIRTUAL TABLE entries_fts USING fts5(
    key, text, tokenize = 'porter unicode61 remove_diacritics 2'
);
""")


SCHEMA_VERSION = len(MIGRATIONS)


_REVISION = "SELECT coalesce(max(revision), 0) FROM events"


class ExperienceError(IdaError):
    """A bad database file, an unknown entry, or a malformed import line."""


class Provenance(BaseModel):
    """Why a change was made: free text, and the run/node/feedback when the overseer made it."""

    model_config = ConfigDict(extra="forbid")
    note: str = ""
    run_id: str | None = None
    node_id: int | None = None
    feedback: str | None = None


class Entry(BaseModel):
    """A live entry. `author` and `provenance` are those of the add or edit that wrote its key and text."""

    id: int
    key: str
    text: str
    author: str
    provenance: Provenance
    created: str
    updated: str
    revision: int  # the revision of the latest change to it: the one that gave it this key and text

    def render(self) -> str:
        return f"[e{self.id}] {self.key}: {self.text}"


class Event(BaseModel):
    """One change. `key`/`text` are the entry's state after it; None means the entry is gone."""

    revision: int
    entry_id: int
    kind: Literal["add", "edit", "remove", "revert"]
    key: str | None
    text: str | None
    author: str
    provenance: Provenance
    at: str


class ExportLine(BaseModel):
    """One JSON Lines record of `export_jsonl`; each line stands alone so files concatenate."""

    model_config = ConfigDict(extra="forbid")
    id: int | None = None  # informative only: an import assigns new ids
    key: str
    text: str
    author: str | None = None
    provenance: Provenance = Provenance()
    created: str | None = None
    updated: str | None = None


def _clean(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise ExperienceError(f"{what} must not be empty")
    if len(value.splitlines()) > 1:  # \n, \r and the rarer separators (\u2028, \x85, ...)
        raise ExperienceError(f"{what} must be one line (an entry renders as one line)")
    return value


INT64_MAX = 2**63 - 1  # SQLite's largest integer: a Python int past it cannot even be bound


def parse_entry_id(raw: str) -> int:
    """`12` or `e12`, as entries render (`[e12] key: text`): ASCII digits only, within SQLite's range."""
    digits = raw[1:] if raw[:1] in ("e", "E") else raw
    # str.isdigit() would take '²' and '٣' (int('٣') is 3): an id is plain ASCII.
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19 or int(digits) > INT64_MAX:
        raise ExperienceError(f"bad entry id {raw!r}: expected a number such as 12 or e12")
    return int(digits)


def _known_id(entry_id: int) -> int:
    if not 0 <= entry_id <= INT64_MAX:
        raise ExperienceError(f"no entry e{entry_id}")
    return entry_id


def query_words(query: str) -> list[str]:
    """The distinct words of user text, stopwords dropped unless nothing else is left."""
    words = list(dict.fromkeys(w.casefold() for w in re.findall(r"\w+", query)))
    return ([w for w in words if w not in _STOPWORDS] or words)[:_MAX_QUERY_TOKENS]


def fts_query(words: list[str]) -> str:
    """Words as an FTS5 expression that cannot fail to parse: quoted strings, OR-joined.

    Every word becomes a string literal, so operators (`NEAR`, `-`, `*`, `AND`, quotes)
    in user text are plain words, whatever the user typed.
    """
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def resolve_path(path: str | Path | None = None) -> Path:
    """Where the experience database is: `path`, else $IDA_DB, else .ida/experience.sqlite here."""
    return default_path(DB_ENV, "experience.sqlite", path)


class ExperienceDB:
    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        """Open or create the database, upgrading an older one; `timeout` is how long to wait for another writer."""
        self._db = Database(path, MIGRATIONS, what="experience database", error=ExperienceError,
                            application_id=APPLICATION_ID, timeout=timeout)
        self.path = self._db.path
        # `revision` is asked for at every node of a run: it is cached, and read again only
        # when another connection has committed (PRAGMA data_version moves) or we wrote.
        self._seen_version: int | None = None
        self._revision = 0
        self.last_import_revision: int | None = None  # set by import_jsonl
        self._version_cursor = self._db.conn.cursor()  # a cursor of its own: it is asked at every node

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._db.conn

    def transaction(self) -> AbstractContextManager[None]:
        """One SQLite transaction around the block (all or nothing); nested use joins it."""
        return self._writes(self._db.transaction)

    def savepoint(self) -> AbstractContextManager[None]:
        """A block whose changes raising undoes, even inside an open transaction (which then keeps
        and commits its own): how a guess is tried and taken back (`ida.overseer.counterfactual.trial`)."""
        return self._writes(self._db.savepoint)

    @contextmanager
    def _writes(self, block: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
        # Inside a transaction `revision` is read afresh, never cached, so a rolled-back savepoint
        # leaves no stale value; the cache is dropped when the outermost block ends, either way.
        outermost = not self._db.in_transaction
        try:
            with block():
                yield
        finally:
            if outermost:
                self._seen_version = None  # our own commits do not move data_version

    def _snapshot(self):
        return self._db.snapshot()

    def _one(self, sql: str, params: tuple = ()) -> int:
        return self._db.one(sql, params)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ExperienceDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # An entry's revision is that of the latest change to it (the events index makes it one seek).
    _ENTRY_COLS = ("entries.id, key, text, author, provenance, created, updated,"
                   " (SELECT max(revision) FROM events WHERE entry_id = entries.id)")
    _EVENT_COLS = "revision, entry_id, kind, key, text, author, provenance, at"

    @staticmethod
    def _entry(row: tuple) -> Entry:
        id_, key, text, author, prov, created, updated, revision = row
        return Entry(
            id=id_, key=key, text=text, author=author,
            provenance=Provenance.model_validate_json(prov), created=created, updated=updated, revision=revision,
        )

    @staticmethod
    def _event(row: tuple) -> Event:
        rev, entry_id, kind, key, text, author, prov, at = row
        return Event(
            revision=rev, entry_id=entry_id, kind=kind, key=key, text=text, author=author,
            provenance=Provenance.model_validate_json(prov), at=at,
        )

    def _log(self, entry_id: int, kind: str, key: str | None, text: str | None,
             author: str, prov: str, at: str, source: int | None) -> int:
        """Append one event; returns its revision."""
        return self._conn.execute(
            "INSERT INTO events (entry_id, kind, key, text, author, provenance, at, source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (entry_id, kind, key, text, author, prov, at, source),
        ).lastrowid or 0

    def _set(self, entry_id: int, key: str | None, text: str | None, author: str, prov: str, at: str) -> None:
        """Make the row and the FTS index say (key, text), or not live when text is None."""
        self._conn.execute("DELETE FROM entries_fts WHERE rowid = ?", (entry_id,))
        if key is None or text is None:
            self._conn.execute(
                "UPDATE entries SET live = 0, author = ?, provenance = ?, updated = ? WHERE id = ?",
                (author, prov, at, entry_id),
            )
            return
        self._conn.execute(
            "UPDATE entries SET key = ?, key_fold = ?, text = ?, author = ?, provenance = ?,"
            " updated = ?, live = 1 WHERE id = ?",
            (key, key.casefold(), text, author, prov, at, entry_id),
        )
        self._conn.execute("INSERT INTO entries_fts (rowid, key, text) VALUES (?, ?, ?)", (entry_id, key, text))

    # ---- the public surface -------------------------------------------------------------

    @property
    def revision(self) -> int:
        """The number of changes ever made: the revision of the latest one, 0 for a new database."""
        if self._db.in_transaction:
            return self._one(_REVISION)
        # data_version first: a commit that lands between the two reads is then seen next time.
        try:
            version = self._version_cursor.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.ProgrammingError:  # closed: let the connection say so in one line
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._seen_version:
            with self._snapshot():
                self._revision = self._one(_REVISION)
            self._seen_version = version
        return self._revision

    def add(self, key: str, text: str, *, author: str = "user", provenance: Provenance | None = None) -> Entry:
        key, text = _clean(key, "key"), _clean(text, "text")
        prov = (provenance or Provenance()).model_dump_json()
        at = now()
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO entries (key, key_fold, text, author, provenance, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, key.casefold(), text, author, prov, at, at),
            )
            entry_id = int(cur.lastrowid or 0)
            self._conn.execute("INSERT INTO entries_fts (rowid, key, text) VALUES (?, ?, ?)", (entry_id, key, text))
            self._log(entry_id, "add", key, text, author, prov, at, source=self.revision + 1)
            return self.get(entry_id)

    def edit(self, entry_id: int, text: str | None = None, *, key: str | None = None,
             author: str = "user", provenance: Provenance | None = None) -> Entry:
        if text is None and key is None:
            raise ExperienceError(f"edit e{entry_id}: give a new text, a new key, or both")
        prov = (provenance or Provenance()).model_dump_json()
        at = now()
        with self.transaction():
            old = self.get(entry_id)
            key = old.key if key is None else _clean(key, "key")
            text = old.text if text is None else _clean(text, "text")
            self._set(entry_id, key, text, author, prov, at)
            self._log(entry_id, "edit", key, text, author, prov, at, source=self.revision + 1)
            return self.get(entry_id)

    def remove(self, entry_id: int, *, author: str = "user", provenance: Provenance | None = None) -> int:
        """Remove a live entry (its history stays); returns the revision of this change."""
        prov = (provenance or Provenance()).model_dump_json()
        at = now()
        with self.transaction():
            self.get(entry_id)
            self._set(entry_id, None, None, author, prov, at)
            return self._log(entry_id, "remove", None, None, author, prov, at, source=None)

    def get(self, entry_id: int) -> Entry:
        _known_id(entry_id)
        with self._snapshot():
            row = self._conn.execute(
                f"SELECT {self._ENTRY_COLS}, live FROM entries WHERE entries.id = ?", (entry_id,)
            ).fetchone()
        if row is None:
            raise ExperienceError(f"no entry e{entry_id}")
        if not row[-1]:
            raise ExperienceError(f"entry e{entry_id} was removed (see its history)")
        return self._entry(row[:-1])

    def entries(self) -> list[Entry]:
        with self._snapshot():
            rows = self._conn.execute(f"SELECT {self._ENTRY_COLS} FROM entries WHERE live = 1 ORDER BY entries.id")
            return [self._entry(r) for r in rows]

    def history(self, entry_id: int) -> list[Event]:
        _known_id(entry_id)
        with self._snapshot():
            rows = self._conn.execute(
                f"SELECT {self._EVENT_COLS} FROM events WHERE entry_id = ? ORDER BY revision", (entry_id,)
            ).fetchall()
        if not rows:
            raise ExperienceError(f"no entry e{entry_id}")
        return [self._event(r) for r in rows]

    def events(self, since: int = 0) -> list[Event]:
        since = max(0, min(since, INT64_MAX))
        with self._snapshot():
            rows = self._conn.execute(
                f"SELECT {self._EVENT_COLS} FROM events WHERE revision > ? ORDER BY revision", (since,)
            )
            return [self._event(r) for r in rows]

    def revert(self, to_revision: int, *, author: str = "user", provenance: Provenance | None = None) -> int:
        """Make every entry as it was at `to_revision`, logging one `revert` event per entry changed."""
        prov = (provenance or Provenance(note=f"revert to revision {to_revision}")).model_dump_json()
        at = now()
        with self.transaction():
            current = self.revision
            if not 0 <= to_revision <= current:
                raise ExperienceError(f"no revision {to_revision} (revisions run from 0 to {current})")
            touched = self._conn.execute(
                "SELECT DISTINCT entry_id FROM events WHERE revision > ? ORDER BY entry_id", (to_revision,)
            ).fetchall()
            for (entry_id,) in touched:
                then = self._state(entry_id, to_revision)
                if then == self._state(entry_id, current):
                    continue
                key, text, source = then
                if source is None:
                    self._set(entry_id, None, None, author, prov, at)
                else:  # the entry gets back the author and provenance of the words it gets back
                    src_author, src_prov = self._conn.execute(
                        "SELECT author, provenance FROM events WHERE revision = ?", (source,)
                    ).fetchone()
                    self._set(entry_id, key, text, src_author, src_prov, at)
                self._log(entry_id, "revert", key, text, author, prov, at, source)
            return self.revision

    def _state(self, entry_id: int, revision: int) -> tuple[str | None, str | None, int | None]:
        """(key, text, source) of an entry at a revision; all None when it did not exist or was removed."""
        row = self._conn.execute(
            "SELECT key, text, source FROM events WHERE entry_id = ? AND revision <= ?"
            " ORDER BY revision DESC LIMIT 1",
            (entry_id, revision),
        ).fetchone()
        return tuple(row) if row else (None, None, None)

    def lookup(self, query: str, k: int = 5) -> list[Entry]:
        """Entries whose key is the query, then ranked matches: see `lookup_with_revision`."""
        return self.lookup_with_revision(query, k)[0]

    def lookup_with_revision(self, query: str, k: int = 5) -> tuple[list[Entry], int]:
        """Entries, and the revision they were read at (in the same snapshot, so the two agree).

        Entries whose key is the query (case-insensitive) first, then FTS5 bm25 rank over key and text.

        A word that matches more than RANK_WINDOW entries says little (low idf) and is costly,
        so the rarer words of a query are ranked first and the full query only fills the
        places left; a query of common words alone ranks the newest RANK_WINDOW matches.
        Never raises on any query text.
        """
        query = query.strip()
        if not query or k <= 0:
            return [], self.revision
        k = min(k, 2**62)  # asking for more than exist is asking for all; SQLite's LIMIT is an int64
        with self._snapshot():
            revision = self.revision
            found = [
                self._entry(r) for r in self._conn.execute(
                    f"SELECT {self._ENTRY_COLS} FROM entries WHERE key_fold = ? AND live = 1 ORDER BY entries.id LIMIT ?",
                    (query.casefold(), k),
                )
            ]
            words = query_words(query)
            rare = [w for w in words if self._window_start(fts_query([w])) is None]
            for group in [rare, words] if rare and rare != words else [words]:
                if len(found) >= k or not group:
                    break
                seen = {e.id for e in found}
                found += [e for e in self._ranked(fts_query(group), k + len(seen)) if e.id not in seen][: k - len(found)]
            return found, revision

    def _window_start(self, expr: str) -> int | None:
        """Lowest rowid among the newest RANK_WINDOW matches, or None when there are fewer."""
        row = self._conn.execute(
            "SELECT rowid FROM entries_fts WHERE entries_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
            (expr, RANK_WINDOW - 1),
        ).fetchone()
        return row[0] if row else None

    def _ranked(self, expr: str, limit: int) -> list[Entry]:
        start = self._window_start(expr) or 0
        # Rank inside the FTS table first, then join only the winners; bm25 weights a word
        # in the key above the same word in the text.
        rows = self._conn.execute(
            f"SELECT {self._ENTRY_COLS} FROM entries JOIN ("
            "  SELECT rowid AS hit, bm25(entries_fts, 4.0, 1.0) AS score FROM entries_fts"
            "  WHERE entries_fts MATCH ? AND rowid >= ? ORDER BY score, rowid LIMIT ?"
            ") ON id = hit ORDER BY score, id",
            (expr, start, limit),
        )
        return [self._entry(r) for r in rows]

    # ---- JSON Lines, for review and sharing in version control -----------------------

    def export_jsonl(self, path: str | Path) -> int:
        """Write live entries, one JSON object per line, atomically; returns how many."""
        entries = self.entries()
        with atomic_open(path) as f:  # a failed write is one WriteError line and keeps the old file
            for e in entries:
                f.write(ExportLine(**e.model_dump(exclude={"revision"})).model_dump_json(exclude_none=True) + "\n")
        return len(entries)

    def import_jsonl(self, path: str | Path, *, author: str = "import") -> int:
        """Validate every line, then add them all in one transaction; returns how many were added
        (`last_import_revision` is then the revision of that transaction, not of a later writer).

        A line keeps its own author and provenance (`author` is for lines without one). A line
        whose key and text already exist as a live entry is skipped, so importing the same
        shared file twice changes nothing.
        """
        path = Path(path)
        records: list[tuple[str, str, str, Provenance]] = []
        try:
            # Lines end at \n only: a JSON string may hold U+2028 or U+0085, which splitlines() would cut.
            with open(path, encoding="utf-8", newline="\n") as f:
                for n, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    try:
                        records.append(_import_record(line, author))
                    except ExperienceError as exc:
                        raise ExperienceError(f"{path}:{n}: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ExperienceError(f"{path}: cannot read: {reason}") from None
        added = 0
        with self.transaction():
            for key, text, who, prov in records:
                if self._conn.execute(
                    "SELECT 1 FROM entries WHERE key_fold = ? AND live = 1 AND key = ? AND text = ? LIMIT 1",
                    (key.casefold(), key, text),
                ).fetchone():
                    continue
                self.add(key, text, author=who, provenance=prov)
                added += 1
            self.last_import_revision = self.revision
        return added


def _import_record(line: str, author: str) -> tuple[str, str, str, Provenance]:
    """(key, text, author, provenance) of one import line; any mistake is one ExperienceError line."""
    try:
        rec = ExportLine.model_validate_json(line)  # a 5,000-digit number or deep nesting is a ValidationError
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ExperienceError(f"{where + ': ' if where else ''}{err['msg']}") from None
    return _clean(rec.key, "key"), _clean(rec.text, "text"), rec.author or author, rec.provenance

"""The one SQLite layer: every ida database file is opened, locked and upgraded here.

Three kinds of file use it: the experience database, a standalone automation table and
the sessions file. Each lists its schema as numbered migrations, in the style of
simonw/llm's `llm/migrations.py`:

    MIGRATIONS = Migrations()
    migration = MIGRATIONS.add

    @migration
    def m001_initial(conn): ...

The n-th migration brings `PRAGMA user_version` to n. Opening a file applies the ones it
lacks, in order, each in its own write transaction; a file from a newer ida (a version
past the list) is refused in one line rather than misread.

Durability: `synchronous = FULL` for every file. With WAL, NORMAL already survives a
killed process but may lose the last commits on power loss; everything written here is
a person's work (lessons, typed actions) written at human speed, so the fsync per
commit costs nothing anyone notices, and losing it would.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from ida.errors import IdaError

Migration = Callable[[sqlite3.Connection], None]


class StoreError(IdaError):
    """A database file that cannot be opened, read or written."""


def now() -> str:
    """The time of a change: UTC, ISO 8601, microseconds (so changes within a second stay ordered)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def default_path(env_var: str, name: str, given: str | Path | None = None) -> Path:
    """`given`, else $`env_var`, else `.ida/NAME` in the working directory."""
    env = os.environ.get(env_var)
    return Path(given) if given else Path(env) if env else Path.cwd() / ".ida" / name


def connect(path: Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    """A connection in WAL mode that waits `timeout` seconds for other writers; we BEGIN/COMMIT ourselves."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")  # readers never wait on the writer
        conn.execute("PRAGMA synchronous = FULL")  # see the module docstring
    except BaseException:
        conn.close()
        raise
    return conn


def connect_read_only(path: Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    """A connection that only reads, for a file in a place we cannot write (a read-only medium).

    WAL needs its -shm index file beside the database; where it cannot be made, the file is
    opened immutable: nobody can be changing a file on a read-only medium.
    """
    uri = f"file:{quote(str(path.absolute()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
    try:
        conn.execute("PRAGMA schema_version").fetchone()  # the first read is where a missing -shm fails
        return conn
    except sqlite3.OperationalError:
        conn.close()
        return sqlite3.connect(uri + "&immutable=1", uri=True, timeout=timeout, isolation_level=None)


def _unwritable(path: Path) -> bool:
    return path.is_file() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


class Migrations(list[Migration]):
    """The numbered schema steps of one kind of file, oldest first."""

    def add(self, step: Migration) -> Migration:
        """Decorator: append `step`, whose name must be `mNNN_...` with NNN its position."""
        expected = f"m{len(self) + 1:03d}_"
        if not step.__name__.startswith(expected):
            raise ValueError(f"migration {step.__name__} is number {len(self) + 1}: name it {expected}...")
        self.append(step)
        return step


def execute_script(conn: sqlite3.Connection, sql: str) -> None:
    """Run `sql` statement by statement: executescript() would commit the open transaction."""
    statement = ""
    for line in sql.splitlines(keepends=True):  # our own DDL: plain ASCII lines
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement: {statement.strip()[:60]}")


class Database:
    """One open SQLite file: its connection, the transaction helper and an up-to-date schema.

    `what` names the kind of file in messages ("experience database"); errors are raised
    as `error`, so each caller keeps its own error class. `application_id`, when given,
    marks the file as ours, so a foreign SQLite database is refused instead of altered.
    An existing file in a place we cannot write is opened for reading only (`read_only`).
    """

    def __init__(self, path: str | Path, migrations: Migrations, *, what: str,
                 error: type[IdaError] = StoreError, application_id: int = 0, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.what = what
        self.error = error
        self._conn: sqlite3.Connection | None = None
        self._depth = 0
        self._writing = False
        self.read_only = _unwritable(self.path)
        try:
            self._conn = (connect_read_only if self.read_only else connect)(self.path, timeout=timeout)
            self._migrate(migrations, application_id)
            self._conn.execute("PRAGMA foreign_keys = ON")
        except IdaError:
            self.close()
            raise
        except (sqlite3.Error, OSError) as exc:
            self.close()
            reason = str(exc) or type(exc).__name__
            raise error(f"{self.path}: cannot open {what}: {reason}") from None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise self.error(f"{self.path}: {self.what} is closed")
        return self._conn

    def one(self, sql: str, params: tuple = ()) -> int:
        """The first column of the first row, or 0."""
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else 0

    # ---- transactions -------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction around the block (all or nothing); nested use joins it.

        BEGIN IMMEDIATE takes the write lock up front, so two writers wait on each other
        (busy timeout) instead of failing when a read transaction tries to upgrade.
        """
        if self.read_only:
            raise self.error(f"{self.path}: cannot change the {self.what}: it is read-only here")
        if self._depth and not self._writing:
            raise RuntimeError("a write transaction cannot start inside a read snapshot")
        with self._begin("BEGIN IMMEDIATE", writing=True):
            yield

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A write block that raising undoes, and nothing else, even inside an open transaction:
        there a SAVEPOINT (the outer block keeps its own changes and commits them), outside one a
        transaction of its own. For trying a change and taking it back."""
        if not self._depth:
            with self.transaction():
                yield
            return
        if not self._writing:
            raise RuntimeError("a savepoint cannot start inside a read snapshot")
        conn, name = self.conn, f"ida_{self._depth}"  # one name a level: the innermost open one is meant
        conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            if conn.in_transaction:  # some errors (disk full) end the whole transaction, savepoints with it
                with contextlib.suppress(sqlite3.Error):  # the original error says more
                    conn.execute(f"ROLLBACK TO {name}")
                    conn.execute(f"RELEASE {name}")
            raise
        else:
            conn.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction, so a multi-statement read sees one consistent state."""
        with self._begin("BEGIN", writing=False):
            yield

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def _begin(self, begin: str, *, writing: bool) -> Iterator[None]:
        conn = self.conn
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        try:
            conn.execute(begin)
            self._depth, self._writing = 1, writing
            yield
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # the original error says more
                    conn.execute("ROLLBACK")
            # Locked past the busy timeout, disk full, a file damaged under us: one line.
            if isinstance(exc, sqlite3.DatabaseError):
                raise self.error(f"{self.path}: {exc}") from None
            raise
        finally:
            self._depth, self._writing = 0, False

    # ---- the schema ---------------------------------------------------------------------

    def _migrate(self, migrations: Migrations, application_id: int) -> None:
        # Reading the version takes no lock; only a file that lacks migrations takes the
        # write lock, and checks again under it (another process may be upgrading it too).
        with self.snapshot():
            version, app, tables = self._state()
        if application_id and app != application_id and (app or version or tables):
            raise self.error(f"{self.path}: an SQLite database, but not an ida {self.what}")
        if version > len(migrations):
            raise self.error(f"{self.path}: schema version {version} is newer than this ida supports "
                             f"({len(migrations)}); upgrade ida")
        if version == len(migrations):
            return
        if self.read_only:
            raise self.error(f"{self.path}: schema version {version} needs upgrading to {len(migrations)}, "
                             "but the file is read-only here")
        # A migration that rebuilds a table must not trip foreign keys halfway; each checks
        # them before it commits (SQLite's recipe for schema changes).
        self.conn.execute("PRAGMA foreign_keys = OFF")
        for number, step in enumerate(migrations, start=1):
            with self.transaction():
                version, app, _ = self._state()
                if version >= number:
                    continue
                if application_id and not app:
                    self.conn.execute(f"PRAGMA application_id = {int(application_id)}")
                step(self.conn)
                if self.conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                    raise self.error(f"{self.path}: migration {step.__name__} broke a foreign key")
                self.conn.execute(f"PRAGMA user_version = {number}")

    def _state(self) -> tuple[int, int, int]:
        return (self.one("PRAGMA user_version"), self.one("PRAGMA application_id"),
                self.one("SELECT count(*) FROM sqlite_master"))

    @property
    def version(self) -> int:
        return self.one("PRAGMA user_version")

    # ---- closing ------------------------------------------------------------------------

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

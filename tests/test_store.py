"""ida/store.py: numbered migrations on real files, files made by the previous release, and the
experience database's cached revision under a second process.

tests/fixtures/experience-v1.sqlite and sessions-v0.sqlite were written by main at 4893ef7 (before
ida/store.py), then set to journal_mode=DELETE so each is one self-contained file.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import ida
from ida.errors import IdaError
from ida.experience import ExperienceDB, ExperienceError
from ida.policies.memo import Automation
from ida.session import SessionError, SessionStore
from ida.store import Database, Migrations, StoreError, execute_script

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[1]


def copy_fixture(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copy(FIXTURES / name, target)
    return target


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


# ---- migrations ------------------------------------------------------------------------


def notes_migrations(*extra) -> Migrations:
    steps = Migrations()

    @steps.add
    def m001_initial(conn):
        execute_script(conn, "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);")

    for step in extra:
        steps.add(step)
    return steps


def m002_add_author(conn):
    conn.execute("ALTER TABLE notes ADD COLUMN author TEXT NOT NULL DEFAULT 'someone'")


def test_migrations_apply_in_order_keep_data_and_track_user_version(tmp_path):
    path = tmp_path / "notes.sqlite"
    with Database(path, notes_migrations(), what="notes file") as db, db.transaction():
        db.conn.execute("INSERT INTO notes (text) VALUES ('kept')")
    assert user_version(path) == 1
    with Database(path, notes_migrations(m002_add_author), what="notes file") as db:
        assert db.version == 2
        assert db.conn.execute("SELECT text, author FROM notes").fetchall() == [("kept", "someone")]
    with Database(path, notes_migrations(m002_add_author), what="notes file") as db:  # nothing left to do
        assert db.version == 2


def test_a_failing_migration_rolls_back_alone(tmp_path):
    path = tmp_path / "notes.sqlite"
    Database(path, notes_migrations(), what="notes file").close()

    def m002_broken(conn):
        conn.execute("ALTER TABLE notes ADD COLUMN half TEXT")
        conn.execute("INSERT INTO nowhere VALUES (1)")

    with pytest.raises(StoreError) as err:
        Database(path, notes_migrations(m002_broken), what="notes file")
    assert "no such table: nowhere" in str(err.value) and "\n" not in str(err.value)
    assert user_version(path) == 1
    conn = sqlite3.connect(path)
    assert [c[1] for c in conn.execute("PRAGMA table_info(notes)")] == ["id", "text"]  # the half step is gone
    conn.close()


def test_a_newer_file_is_one_line_and_left_alone(tmp_path):
    path = tmp_path / "notes.sqlite"
    Database(path, notes_migrations(m002_add_author), what="notes file").close()
    with pytest.raises(StoreError) as err:
        Database(path, notes_migrations(), what="notes file")
    assert str(err.value) == f"{path}: schema version 2 is newer than this ida supports (1); upgrade ida"
    assert user_version(path) == 2


def test_migrations_are_numbered_by_name():
    steps = Migrations()
    with pytest.raises(ValueError, match="name it m001_"):
        steps.add(m002_add_author)


# ---- transactions and savepoints ------------------------------------------------------------


class _Undo(Exception):
    pass


def notes(db: Database) -> list[str]:
    return [t for (t,) in db.conn.execute("SELECT text FROM notes ORDER BY id")]


def test_a_savepoint_undoes_its_own_changes_and_the_open_transaction_commits_its_own(tmp_path):
    path = tmp_path / "notes.sqlite"
    with Database(path, notes_migrations(), what="notes file") as db:
        with db.transaction():
            db.conn.execute("INSERT INTO notes (text) VALUES ('outer, before')")
            with pytest.raises(_Undo), db.savepoint():
                db.conn.execute("INSERT INTO notes (text) VALUES ('tried')")
                with db.transaction():  # nested in the savepoint: joins it, and is undone with it
                    db.conn.execute("INSERT INTO notes (text) VALUES ('tried, nested')")
                with db.savepoint():  # a savepoint within one, released: kept until the outer one goes
                    db.conn.execute("INSERT INTO notes (text) VALUES ('tried, inner')")
                assert notes(db) == ["outer, before", "tried", "tried, nested", "tried, inner"]
                raise _Undo
            assert notes(db) == ["outer, before"] and db.in_transaction
            with db.savepoint():  # one that ends well is part of the transaction
                db.conn.execute("INSERT INTO notes (text) VALUES ('kept')")
        with pytest.raises(_Undo), db.savepoint():  # outside a transaction: a transaction of its own
            db.conn.execute("INSERT INTO notes (text) VALUES ('alone')")
            raise _Undo
        assert not db.in_transaction
        with db.snapshot(), pytest.raises(RuntimeError, match="inside a read snapshot"), db.savepoint():
            pass
    with Database(path, notes_migrations(), what="notes file") as again:
        assert notes(again) == ["outer, before", "kept"]


# ---- files made by the previous release ----------------------------------------------------


def test_experience_file_of_the_previous_release_opens_with_its_data(tmp_path):
    path = copy_fixture("experience-v1.sqlite", tmp_path)
    with ExperienceDB(path) as db:
        assert [(e.key, e.text) for e in db.entries()] == [
            ("vase", "vases are fragile; move slowly near them"), ("cat", "cats knock cups over")]
        assert db.revision == 5
        assert [ev.kind for ev in db.history(3)] == ["add", "remove"]
        assert db.get(1).provenance.run_id == "r1" and db.lookup("cups")[0].key == "cat"
        e = db.add("stairs", "carry nothing fragile on the stairs")
        assert e.revision == 6 and db.revert(5) == 7
    assert user_version(path) == 1


def test_experience_file_from_a_newer_ida_is_one_line(tmp_path):
    path = copy_fixture("experience-v1.sqlite", tmp_path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with pytest.raises(ExperienceError) as err:
        ExperienceDB(path)
    assert str(err.value) == f"{path}: schema version 2 is newer than this ida supports (1); upgrade ida"


def test_sessions_file_of_the_previous_release_is_migrated_with_its_data(tmp_path):
    path = copy_fixture("sessions-v0.sqlite", tmp_path)
    assert user_version(path) == 0
    with SessionStore(path) as store:
        [old] = store.sessions()
        assert old.id == "8a92d7ad" and old.question == "What is 12 * 3?" and old.transcript == "/tmp/old-session.jsonl"
        assert (old.person, old.auto) == (1, 1)
        assert [r.action for r in store.actions(old.id)] == ["ask What is 10 * 3?", "reply 30"]
        assert store.automation.get("workspace text") == "ask What is 10 * 3?"
        new = store.create("What is 2 * 2?")  # the transcript column takes NULL now
        assert new.transcript is None
        [kept] = store.automation.records()  # the old row is an entry now, with a history of one add
        assert (kept.id, kept.origin.author, kept.origin.run) == (1, "person", old.id)
        assert [e.kind for e in store.automation.history(kept.id)] == ["add"]
        assert store.undo(old.id).action == "ask What is 10 * 3?" and store.actions(old.id) == []
    assert user_version(path) == 3
    with SessionStore(path) as store:  # reopening changes nothing
        assert {s.id for s in store.sessions()} == {old.id, new.id}


def test_sessions_file_from_a_newer_ida_is_one_line(tmp_path):
    path = tmp_path / "sessions.sqlite"
    SessionStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 9")
    conn.commit()
    conn.close()
    with pytest.raises(SessionError) as err:
        SessionStore(path)
    assert "schema version 9 is newer" in str(err.value) and "\n" not in str(err.value)


def test_a_standalone_automation_file_of_the_previous_release(tmp_path):
    path = tmp_path / "automation.sqlite"
    conn = sqlite3.connect(path)  # the first release's DDL, user_version 0
    conn.execute("CREATE TABLE IF NOT EXISTS automation (key TEXT PRIMARY KEY, workspace TEXT NOT NULL, "
                 "action TEXT NOT NULL, source TEXT NOT NULL DEFAULT '', session TEXT, created TEXT NOT NULL)")
    conn.execute("INSERT INTO automation VALUES ('k', 'ws', 'reply 1', '', NULL, 'then')")
    conn.commit()
    conn.close()
    with Automation(path) as auto:
        assert auto.entries() == [("ws", "reply 1")]
        assert auto.entry("a1").origin.author == "person" and auto.revision == 1
    assert user_version(path) == 2


# ---- the cached revision against another process ---------------------------------------------

ADD = "import sys; from ida.experience import ExperienceDB; ExperienceDB(sys.argv[1]).add(sys.argv[2], 'from elsewhere')"


def add_from_another_process(path: Path, key: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", ADD, str(path), key], check=True, env=env, timeout=60)


def test_revision_sees_a_commit_by_another_process(tmp_path):
    path = tmp_path / "exp.sqlite"
    with ExperienceDB(path) as db:
        assert db.revision == 0 and db.revision == 0  # the second read is from the cache
        add_from_another_process(path, "cat")
        assert db.revision == 1
        e = db.add("vase", "vases are fragile")  # our own write moves it too
        assert e.revision == 2 and db.revision == 2
        assert db.remove(e.id) == 3 and db.revision == 3


def test_the_next_ask_after_another_process_writes_is_not_a_memo_hit(tmp_path):
    path = tmp_path / "exp.sqlite"

    def asker(edit_between: bool):
        @ida.scripted
        def policy(ws):
            if ws.question_text == "leaf":
                yield "lookup lesson"  # an answer that rests on the database
                return "leaf answer"
            yield "ask leaf"
            if edit_between:
                add_from_another_process(path, "lesson")
            yield "ask leaf"
            return "done"
        return policy

    with ExperienceDB(path) as db:
        same = ida.run("root", asker(False), db=db)
        assert len(same) == 2  # the second ask reuses the first leaf
        changed = ida.run("root", asker(True), db=db)
        assert len(changed) == 3 and changed.db_revision == 1  # another revision: the leaf is asked again


def test_a_change_returns_its_own_revision_while_another_connection_writes(tmp_path):
    path = tmp_path / "exp.sqlite"
    with ExperienceDB(path) as mine, ExperienceDB(path) as theirs:
        e = mine.add("vase", "vases are fragile")
        theirs.add("cat", "cats knock things over")
        assert e.revision == 1 and mine.revision == 2
        assert mine.edit(e.id, "vases break").revision == 3
        theirs.add("dog", "dogs bark")
        assert mine.remove(e.id) == 5


def test_store_errors_are_ida_errors():
    assert issubclass(StoreError, IdaError)


# ---- a read-only medium ------------------------------------------------------------------


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder whose files can be read and not written: a read-only tmpfs as root, else chmod."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                          capture_output=True).returncode != 0:
            pytest.skip("needs to mount a tmpfs (root, in a namespace that allows it)")
        try:
            yield folder, lambda: subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        finally:  # a file left open on it keeps it busy: detach it anyway, and say so
            busy = subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0
            if busy:
                subprocess.run(["umount", "-l", str(folder)], capture_output=True)
            assert not busy, "a file on the read-only medium was left open"
    else:
        def lock() -> None:
            for p in [*folder.iterdir(), folder]:
                p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield folder, lock
        finally:
            for p in [folder, *folder.iterdir()]:
                p.chmod(0o755)


def test_a_database_on_a_read_only_medium_reads_and_refuses_writes_in_one_line(read_only_folder, cli):
    folder, lock = read_only_folder
    path = folder / "exp.sqlite"
    with ExperienceDB(path) as db:
        db.add("vase", "vases are fragile")
    lock()
    with ExperienceDB(path) as db:
        assert [e.key for e in db.entries()] == ["vase"] and db.revision == 1 and db.lookup("fragile")
        with pytest.raises(ExperienceError) as err:
            db.add("cat", "cats knock things over")
    assert str(err.value) == f"{path}: cannot change the experience database: it is read-only here"
    r = cli("db", "list", "--db", str(path))
    assert r.returncode == 0 and "vase" in r.stdout, r.stderr
    r = cli("db", "rm", "e1", "--db", str(path))
    assert r.returncode == 2 and "read-only" in r.stderr and "Traceback" not in r.stderr


def test_an_answer_computed_across_another_process_write_is_not_reused(tmp_path):
    """A leaf looks up at revision 0 and another process writes before it replies: its answer
    is keyed by revision 0, so asked again at revision 1 it is a miss, never stale."""
    path = tmp_path / "exp.sqlite"
    writes = iter([True])

    @ida.scripted
    def policy(ws):
        if ws.question_text == "leaf":
            yield "lookup lesson"
            if next(writes, False):  # the first leaf only: a write while it is being answered
                add_from_another_process(path, "lesson")
            return "leaf answer"
        yield "ask leaf"
        yield "ask leaf"
        return "done"

    with ExperienceDB(path) as db:
        tree = ida.run("root", policy, db=db)
    assert len(tree) == 3 and tree.db_revision == 1  # the second ask saw revision 1: a new leaf


def test_an_answer_that_looked_something_up_is_not_reused_after_another_process_writes(tmp_path):
    """The node looks up (revision 0), another process writes, then the node asks a question
    answered before (which reads revision 1) and replies. Its answer rests on revision 0's
    entries: asked again at revision 1 it must be answered anew, not reused."""
    path = tmp_path / "exp.sqlite"
    writes = iter([True])

    @ida.scripted
    def policy(ws):
        if ws.question_text == "leaf":
            return "leaf answer"
        if ws.question_text == "reader":
            found = yield "lookup vase"
            if next(writes, False):
                add_from_another_process(path, "vase")
            yield "ask leaf"
            return "read " + found
        yield "ask leaf"
        yield "ask reader"
        yield "ask reader"
        return "done"

    with ExperienceDB(path) as db:
        tree = ida.run("root", policy, db=db)
    readers = [n for n in tree.nodes if n.question.text() == "reader"]
    assert len(readers) == 2, [n.question.text() for n in tree.nodes]
    assert readers[0].answer_text == "read nothing found" and readers[1].answer_text != readers[0].answer_text
    leaves = [n for n in tree.nodes if n.question.text() == "leaf"]
    assert len(leaves) == 1  # the leaf looked nothing up: its answer holds at any revision


def test_the_revision_is_not_read_for_answers_that_looked_nothing_up(tmp_path, monkeypatch):
    @ida.scripted
    def policy(ws):
        if ws.question_text == "leaf":
            return "leaf answer"
        for _ in range(3):
            yield "ask leaf"
        return "done"

    with ExperienceDB(tmp_path / "exp.sqlite") as db:
        reads = []
        real = type(db).revision.fget
        monkeypatch.setattr(type(db), "revision", property(lambda self: reads.append(1) or real(self)))
        tree = ida.run("root", policy, db=db)
    assert len(tree) == 2 and tree.nodes[0].children == [1, 1, 1]
    assert len(reads) == 1  # for the tree's record only: none at the two hits


def test_an_answer_rests_on_the_lookups_below_it_asked_or_reused(tmp_path):
    """`outer` reuses `inner` (a lookup) and `wrapper` asks `deep` (a lookup): both rest on the
    database through their children, so after another process writes both are answered anew."""
    path = tmp_path / "exp.sqlite"

    @ida.scripted
    def policy(ws):
        q = ws.question_text
        if q in ("inner", "deep"):
            found = yield "lookup vase"
            return found
        if q in ("outer", "wrapper"):
            got = yield "ask " + ("inner" if q == "outer" else "deep")
            return got
        yield "ask inner"
        yield "ask outer"
        yield "ask wrapper"
        add_from_another_process(path, "vase")
        yield "ask outer"
        yield "ask wrapper"
        return "done"

    with ExperienceDB(path) as db:
        tree = ida.run("root", policy, db=db)
    asked = [n.question.text() for n in tree.nodes]
    assert asked.count("outer") == 2 and asked.count("wrapper") == 2, asked
    assert tree.nodes[0].steps[3].result != tree.nodes[0].steps[1].result  # the new entry is seen

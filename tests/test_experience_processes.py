"""The experience database under real processes: SIGKILL mid-write, concurrent readers and writers."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ida.experience import ExperienceDB

ROOT = Path(__file__).resolve().parents[1]

# Adds batches of entries, one transaction each, and prints the ids only after the commit
# returned (the acknowledgement). Halfway through each batch it says "half"; in batch
# number `stall_at` it then stalls, so that a kill can be sure to land inside an open
# transaction. A tiny
# page cache makes SQLite spill uncommitted pages into the WAL mid-transaction: recovery
# must ignore them.
WRITER = textwrap.dedent("""
    import sys, time
    from ida.experience import ExperienceDB
    db = ExperienceDB(sys.argv[1])
    db._conn.execute("PRAGMA cache_size = 4")
    batch, stall_at, tag, n = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], 0
    while True:
        with db.transaction():
            ids = []
            for i in range(batch):
                if i == batch // 2:
                    print("half", flush=True)
                    time.sleep(30 if n == stall_at else 0)
                ids.append(db.add(f"{tag}-{n}-{i}", f"lesson {n} part {i} about vases " + "x" * 200).id)
        print("committed", *ids, flush=True)
        n += 1
""")

# Adds entries in pairs and removes every fifth pair, each pair in one transaction, until
# the stop file appears: every committed state has an even number of entries and events.
PAIRS = textwrap.dedent("""
    import os, sys, time
    from ida.experience import ExperienceDB
    db = ExperienceDB(sys.argv[1])
    print("ready", flush=True)
    n = 0
    while not os.path.exists(sys.argv[2]):
        with db.transaction():
            a = db.add(f"left{n}", f"the left half of pair {n}")
            b = db.add(f"right{n}", f"the right half of pair {n}")
        if n % 5 == 4:
            with db.transaction():
                db.remove(a.id)
                db.remove(b.id)
        n += 1
        time.sleep(0.001)  # keep the database small enough for many reads per second
    print(n, flush=True)
""")

# Each writer adds its entries one transaction at a time, racing the other writers.
RACER = textwrap.dedent("""
    import sys
    from ida.experience import ExperienceDB
    db = ExperienceDB(sys.argv[1])
    for n in range(int(sys.argv[3])):
        db.add(sys.argv[2], f"entry {n} from {sys.argv[2]}")
""")


def spawn(script: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def check_integrity(path: Path) -> None:
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.execute("INSERT INTO entries_fts (entries_fts) VALUES ('integrity-check')")  # raises if FTS is corrupt
    conn.close()


def test_sigkill_mid_batch_keeps_every_committed_entry(tmp_path):
    path = tmp_path / "exp.sqlite"
    batch, acknowledged = 60, set()
    # Round 0 kills a writer stalled inside a batch; the others kill it wherever it is
    # (adding, committing, syncing) after a growing number of commits.
    for round_, stall in enumerate([True, False, False, False]):
        proc = spawn(WRITER, str(path), str(batch), str(2 if stall else -1), f"round{round_}")
        commits = 0
        for line in proc.stdout:
            if line.startswith("committed"):
                acknowledged.update(int(x) for x in line.split()[1:])
                commits += 1
            elif line.startswith("half") and commits >= 2 + round_:
                time.sleep(0.002 * round_)
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()

        check_integrity(path)
        with ExperienceDB(path) as db:
            ids = {e.id for e in db.entries()}
            assert acknowledged <= ids
            if stall:
                assert ids == acknowledged  # the half-written batch left no trace
            assert len(ids) % batch == 0  # a batch is all or nothing
            assert db.revision == len(ids)  # the log and the entries agree
            last = max(acknowledged)
            assert db.lookup(db.get(last).key)[0].id == last  # and so does the full-text index
    check_integrity(path)


def test_reader_sees_only_committed_states_while_a_writer_writes(tmp_path):
    path, stop = tmp_path / "exp.sqlite", tmp_path / "stop"
    ExperienceDB(path).close()
    writer = spawn(PAIRS, str(path), str(stop))
    assert writer.stdout.readline().strip() == "ready"
    counts = set()
    with ExperienceDB(path) as db:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline and writer.poll() is None:
            entries = db.entries()
            assert len(entries) % 2 == 0, f"saw half a pair: {len(entries)} entries"
            assert len(db.events()) % 2 == 0
            counts.add(len(entries))
            for e in db.lookup("pair", k=4):
                assert e.key.startswith(("left", "right"))
        stop.touch()
        assert writer.wait(timeout=30) == 0, writer.stderr.read()
        pairs = int(writer.stdout.read())
        assert len(db.entries()) == 2 * (pairs - pairs // 5)
    writer.stdout.close()
    writer.stderr.close()
    assert len(counts) > 3  # the reads really interleaved with the writes
    check_integrity(path)


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "new" / "exp.sqlite"  # not there yet: the writers also race to create it
    procs = [spawn(RACER, str(path), name, "60") for name in ("alpha", "beta", "gamma")]
    for p in procs:
        assert p.wait(timeout=60) == 0, p.stderr.read()
        p.stdout.close()
        p.stderr.close()
    with ExperienceDB(path) as db:
        entries = db.entries()
        assert len(entries) == 180 and db.revision == 180
        assert {e.key for e in entries} == {"alpha", "beta", "gamma"}
        assert [ev.revision for ev in db.events()] == list(range(1, 181))
    check_integrity(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_is_one_line(tmp_path):
    from ida.experience import ExperienceError

    path = tmp_path / "locked.sqlite"
    ExperienceDB(path).close()
    path.chmod(0)
    try:
        with pytest.raises(ExperienceError, match="cannot open"):
            ExperienceDB(path)
    finally:
        path.chmod(0o644)

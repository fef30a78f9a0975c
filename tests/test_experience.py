import json
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ida.errors import IdaError
from ida.experience import Entry, ExperienceDB, ExperienceError, Provenance, fts_query, query_words


@pytest.fixture
def db(tmp_path):
    with ExperienceDB(tmp_path / "x" / "exp.sqlite") as d:
        yield d


def test_new_db_creates_file_and_starts_at_revision_zero(tmp_path):
    path = tmp_path / "deep" / "dir" / "exp.sqlite"
    with ExperienceDB(path) as d:
        assert d.revision == 0 and d.entries() == []
    assert path.exists()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_add_get_render_and_provenance(db):
    prov = Provenance(note="backward pass", run_id="r7", node_id=3, feedback="the vase broke")
    e = db.add(" vase ", "vases are fragile; move slowly near them", author="overseer", provenance=prov)
    assert e.render() == "[e1] vase: vases are fragile; move slowly near them"
    assert db.get(e.id) == e and e.provenance == prov and e.author == "overseer"
    assert e.created == e.updated and e.created.endswith("+00:00")
    assert db.revision == 1


@pytest.mark.parametrize("key, text", [("", "x"), ("k", "   "), ("k", "two\nlines"), ("a\rb", "x")])
def test_add_rejects_empty_or_multiline(db, key, text):
    with pytest.raises(ExperienceError):
        db.add(key, text)
    assert db.revision == 0


def test_edit_remove_history_and_revision(db):
    a = db.add("vase", "vases are fragile")
    b = db.add("cat", "cats knock things over")
    edited = db.edit(a.id, "vases break when dropped", provenance=Provenance(note="clearer"))
    assert edited.text == "vases break when dropped" and edited.key == "vase" and edited.created == a.created
    assert db.edit(a.id, key="Vase").key == "Vase"
    db.remove(b.id, author="bob")
    assert db.revision == 5
    assert [e.id for e in db.entries()] == [a.id]
    with pytest.raises(ExperienceError, match="removed"):
        db.get(b.id)
    with pytest.raises(ExperienceError, match="no entry e99"):
        db.get(99)
    with pytest.raises(ExperienceError):
        db.edit(b.id, "resurrect")  # removed entries are edited only through revert
    with pytest.raises(ExperienceError):
        db.edit(a.id)  # nothing to change
    hist = db.history(a.id)
    assert [(ev.kind, ev.key, ev.text) for ev in hist] == [
        ("add", "vase", "vases are fragile"),
        ("edit", "vase", "vases break when dropped"),
        ("edit", "Vase", "vases break when dropped"),
    ]
    assert hist[1].provenance.note == "clearer"
    assert [(ev.kind, ev.author, ev.text) for ev in db.history(b.id)] == [
        ("add", "user", "cats knock things over"), ("remove", "bob", None)]
    assert [ev.revision for ev in db.events()] == [1, 2, 3, 4, 5]
    assert [ev.revision for ev in db.events(since=3)] == [4, 5]
    with pytest.raises(ExperienceError):
        db.history(42)


def test_revert_restores_earlier_state_as_new_events(db):
    a = db.add("vase", "vases are fragile", author="overseer", provenance=Provenance(run_id="r1", node_id=4))
    b = db.add("cat", "cats knock things over")
    snapshot = [(e.id, e.key, e.text, e.author, e.provenance) for e in db.entries()]
    rev = db.revision
    db.edit(a.id, "vases are sturdy", key="pot")
    db.remove(b.id)
    c = db.add("dog", "dogs bark")
    log_before = db.events()

    new_rev = db.revert(rev, author="carol")
    assert new_rev == db.revision == rev + 3 + 3  # one revert event per entry that changed
    assert [(e.id, e.key, e.text, e.author, e.provenance) for e in db.entries()] == snapshot
    assert db.events()[: len(log_before)] == log_before  # the log only grows
    reverts = db.events(since=rev + 3)
    assert {ev.kind for ev in reverts} == {"revert"} and {ev.author for ev in reverts} == {"carol"}
    assert [ev.text for ev in db.history(c.id)] == ["dogs bark", None]
    assert db.lookup("pot") == [] and [e.id for e in db.lookup("vase")] == [a.id]

    # Reverting the revert brings the later state back, again as new events.
    db.revert(rev + 3)
    assert {(e.key, e.text) for e in db.entries()} == {("pot", "vases are sturdy"), ("dog", "dogs bark")}
    assert db.revert(db.revision) == db.revision  # nothing to change, no events
    db.revert(0)
    assert db.entries() == [] and db.lookup("dog") == []
    for bad in (-1, db.revision + 1):
        with pytest.raises(ExperienceError, match="no revision"):
            db.revert(bad)


def test_lookup_exact_key_first_then_full_text(db):
    db.add("kitchen", "the vase in the kitchen is fragile")
    db.add("glass", "a vase made of glass breaks; carry the vase with two hands")
    exact = db.add("VASE", "vases are fragile; move slowly near them")
    db.add("dog", "dogs bark at the mail carrier")
    found = db.lookup("vase", k=5)
    assert found[0].id == exact.id  # exact key (case-insensitive) beats text matches
    assert found[1].key == "glass"  # two hits of the word outrank one (bm25)
    assert {e.key for e in found} == {"VASE", "glass", "kitchen"}
    assert [e.id for e in db.lookup("vase", k=1)] == [exact.id]
    assert db.lookup("Vase kitchen")[0].key == "kitchen"  # not an exact key: full-text ranking
    assert {e.key for e in db.lookup("vases")} == {"VASE", "glass", "kitchen"}  # stemmed: vases ~ vase
    assert db.lookup("bark")[0].key == "dog"
    assert db.lookup("zebra") == [] and db.lookup("") == [] and db.lookup("   \t") == []
    assert db.lookup("vase", k=0) == []


def test_lookup_key_with_odd_characters_and_unicode(db):
    e = db.add("café-ÉTÉ", "le café est chaud")
    assert db.lookup("CAFÉ-été")[0].id == e.id  # unicode case folding
    assert db.lookup("cafe")[0].id == e.id  # diacritics removed in the full-text index
    assert db.lookup('"NEAR(cafe * -chaud)')[0].id == e.id


def test_query_sanitizer():
    assert fts_query(query_words('the "vase" AND NEAR(x*)')) == '"vase" OR "near" OR "x"'
    assert query_words("the of a") == ["the", "of", "a"]  # all stopwords: keep them
    assert query_words(" -*\"' ") == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60) | st.sampled_from(['"', '""', "*", "-", "NEAR(a b)", "a OR", "AND", "^x", "{key}:x",
                                               "key:vase", "\x00", "𝔘𝔫𝔦", "a\"b*c-d"]))
def test_lookup_never_raises_on_any_text(db, query):
    if db.revision == 0:
        db.add("vase", "vases are fragile; move slowly near them")
        db.add("near", 'quotes " and * and - and NEAR(x y)')
    result = db.lookup(query, k=3)
    assert isinstance(result, list) and len(result) <= 3
    assert all(isinstance(e, Entry) for e in result)


def test_transaction_is_all_or_nothing(db):
    db.add("keep", "this stays")
    with pytest.raises(RuntimeError), db.transaction():
        db.add("a", "first")
        with db.transaction():  # nested: joins the outer transaction
            db.add("b", "second")
        db.edit(1, "changed")
        raise RuntimeError("overseer crashed mid-apply")
    assert db.revision == 1 and [e.text for e in db.entries()] == ["this stays"]
    assert db.lookup("first") == [] and db.lookup("changed") == []
    with db.transaction():
        db.add("a", "first")
        db.add("b", "second")
    assert db.revision == 3


def test_failed_write_inside_transaction_rolls_back_everything(db):
    with pytest.raises(ExperienceError), db.transaction():
        db.add("a", "first")
        db.remove(77)
    assert db.revision == 0 and db.entries() == []


def test_export_import_round_trip(db, tmp_path):
    db.add("vase", "vases are fragile", author="overseer",
           provenance=Provenance(run_id="r1", node_id=2, feedback="the vase broke"))
    db.add("cat", 'cats say "meow" ✓')
    db.remove(db.add("gone", "removed entries are not exported").id)
    path = tmp_path / "lessons.jsonl"
    assert db.export_jsonl(path) == 2
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["provenance"]["run_id"] == "r1"

    with ExperienceDB(tmp_path / "other.sqlite") as other:
        assert other.import_jsonl(path) == 2
        got = [(e.key, e.text, e.author, e.provenance) for e in other.entries()]
        assert got == [(e.key, e.text, e.author, e.provenance) for e in db.entries()]
        assert other.import_jsonl(path) == 0  # already there: importing twice changes nothing
        assert other.revision == 2


@pytest.mark.parametrize("bad, line, words", [
    ('{"key": "a", "text": "b"}\n{"key": "c"}\n', 2, "text"),
    ('{"key": "a", "text": "b"}\n\nnot json\n', 3, "json"),
    ('{"key": "a", "text": "b", "colour": "red"}\n', 1, "colour"),
    ('{"key": "", "text": "b"}\n', 1, "key must not be empty"),
    ('{"key": "a", "text": "b", "provenance": {"node_id": "x"}}\n', 1, "node_id"),
])
def test_malformed_import_names_file_and_line_and_adds_nothing(db, tmp_path, bad, line, words):
    path = tmp_path / "bad.jsonl"
    path.write_text(bad)
    with pytest.raises(ExperienceError) as err:
        db.import_jsonl(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}: ") and words in msg.lower() and "\n" not in msg
    assert db.revision == 0


def test_import_missing_file(db, tmp_path):
    with pytest.raises(ExperienceError, match="cannot read"):
        db.import_jsonl(tmp_path / "nope.jsonl")


def test_bad_files_get_one_clear_line(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all\n" * 50)
    foreign = tmp_path / "foreign.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    newer = tmp_path / "newer.sqlite"
    ExperienceDB(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    a_dir = tmp_path / "adir"
    a_dir.mkdir()
    for path, words in [(junk, "not a database"), (foreign, "not an ida experience database"),
                        (newer, "schema version 99 is newer"), (a_dir, "cannot open")]:
        with pytest.raises(ExperienceError) as err:
            ExperienceDB(path)
        assert isinstance(err.value, IdaError)
        assert str(path) in str(err.value) and words in str(err.value) and "\n" not in str(err.value)


def test_entries_survive_reopen_and_closed_db_refuses(tmp_path):
    path = tmp_path / "exp.sqlite"
    with ExperienceDB(path) as d:
        d.add("vase", "vases are fragile")
    d2 = ExperienceDB(path)
    assert [e.key for e in d2.entries()] == ["vase"] and d2.revision == 1
    d2.close()
    with pytest.raises(ExperienceError, match="closed"):
        d2.add("x", "y")


def test_a_writer_held_past_the_timeout_is_one_line_not_a_hang(tmp_path):
    path = tmp_path / "exp.sqlite"
    with ExperienceDB(path) as d:
        d.add("vase", "vases are fragile")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is in the middle of a write
    try:
        with ExperienceDB(path, timeout=0.2) as d:  # opening and reading do not wait on it
            assert [e.key for e in d.entries()] == ["vase"] and d.lookup("vase")
            with pytest.raises(ExperienceError, match="database is locked"):
                d.add("cat", "cats knock things over")
            assert d.revision == 1
    finally:
        other.execute("ROLLBACK")
        other.close()


line_text = st.text(min_size=1, max_size=40).filter(lambda t: t.strip() and len(t.strip().splitlines()) == 1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(line_text, line_text), min_size=1, max_size=5))
def test_export_import_round_trips_any_one_line_text(tmp_path_factory, pairs):
    tmp = tmp_path_factory.mktemp("rt")
    with ExperienceDB(tmp / "a.sqlite") as a, ExperienceDB(tmp / "b.sqlite") as b:
        with a.transaction():
            for key, text in pairs:
                a.add(key, text)
        a.export_jsonl(tmp / "x.jsonl")
        b.import_jsonl(tmp / "x.jsonl")
        assert {(e.key, e.text) for e in b.entries()} == {(e.key, e.text) for e in a.entries()}
        for e in a.entries():
            assert "\n" not in e.render()


# ---- unicode, ids and hostile import lines ---------------------------------------------------

from ida.experience import parse_entry_id  # noqa: E402
from ida.files import WriteError  # noqa: E402


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(line_text, line_text, st.text(max_size=30)), min_size=1, max_size=4,
                unique_by=lambda row: (row[0].strip(), row[1].strip())))  # an import skips duplicates
def test_export_import_round_trips_any_unicode(tmp_path_factory, rows):
    """Notes are free text: line and paragraph separators (U+2028, U+0085, CR) survive the file."""
    tmp = tmp_path_factory.mktemp("uni")
    with ExperienceDB(tmp / "a.sqlite") as a, ExperienceDB(tmp / "b.sqlite") as b:
        for key, text, note in rows:
            a.add(key, text, provenance=Provenance(note=note + "\u2028\x85\r\n"))
        a.export_jsonl(tmp / "x.jsonl")
        assert "\u2028" in (tmp / "x.jsonl").read_text(encoding="utf-8")  # raw in the file: splitlines() would cut it
        b.import_jsonl(tmp / "x.jsonl")
        assert [(e.key, e.text, e.provenance) for e in b.entries()] == [(e.key, e.text, e.provenance)
                                                                       for e in a.entries()]


@pytest.mark.parametrize("raw", ["٣", "²", "e٣", "12a", "", "e", "-1", "99999999999999999999", "9223372036854775808"])
def test_entry_ids_are_ascii_digits_within_int64(raw):
    with pytest.raises(ExperienceError, match="bad entry id"):
        parse_entry_id(raw)


def test_entry_ids_parse():
    assert parse_entry_id("e12") == parse_entry_id("12") == 12
    assert parse_entry_id("9223372036854775807") == 2**63 - 1


def test_huge_ids_and_limits_are_answers_not_overflows(db):
    db.add("vase", "vases are fragile")
    for call in (lambda: db.get(10**20), lambda: db.history(10**20), lambda: db.remove(10**20),
                 lambda: db.edit(10**20, "x")):
        with pytest.raises(ExperienceError, match="no entry e1000"):
            call()
    assert [e.key for e in db.lookup("vase", k=10**30)] == ["vase"]
    assert db.events(since=10**30) == [] and len(db.events(since=-(10**30))) == 1


@pytest.mark.parametrize("line", ['{"key": "a", "text": "b", "id": ' + "9" * 5000 + "}",
                                  '{"key": "a", "text": "b", "provenance": {"note": ' + "[" * 100_000 + "]" * 100_000 + "}}",
                                  "[" * 100_000 + "]" * 100_000])
def test_hostile_import_lines_are_one_line(db, tmp_path, line):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"key": "ok", "text": "fine"}\n' + line + "\n")
    with pytest.raises(ExperienceError) as err:
        db.import_jsonl(path)
    assert str(err.value).startswith(f"{path}:2: ") and "\n" not in str(err.value)
    assert db.entries() == []


def test_export_is_atomic_and_a_failure_is_one_line(db, tmp_path):
    db.add("vase", "vases are fragile")
    target = tmp_path / "out.jsonl"
    target.write_text("the previous export\n")
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises(WriteError) as err:
        db.export_jsonl(tmp_path / "blocker" / "out.jsonl")
    assert "\n" not in str(err.value)
    assert db.export_jsonl(target) == 1 and json.loads(target.read_text())["key"] == "vase"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".ida-")] == []  # no temporary left

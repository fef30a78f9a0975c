"""`ida db` through the real command, in a subprocess (fixture `cli` from conftest)."""

import json
import sqlite3

import pytest

from ida.experience import ExperienceDB


def ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


def one_line_error(r, *words):
    assert r.returncode == 2, (r.stdout, r.stderr)
    err = r.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in err, err
    return err


def test_every_subcommand_round_trip(cli, tmp_path):
    out = ok(cli("db", "add", "vase", "vases are fragile; move slowly near them", "--author", "alice",
                 "--note", "from the vase run"))
    assert "[e1] vase: vases are fragile; move slowly near them" in out and "revision 1" in out
    ok(cli("db", "add", "cat", "cats [bold]knock[/] vases off tables"))  # brackets are text, not markup
    ok(cli("db", "add", "stairs", "carry nothing fragile on the stairs"))

    listed = ok(cli("db", "list"))
    assert "3 entries, revision 3" in listed and "cats [bold]knock[/] vases off tables" in listed
    assert "alice" in listed

    assert "[e1] vase: vases break when dropped" in ok(cli("db", "edit", "e1", "--text", "vases break when dropped"))
    assert "[e3] steps:" in ok(cli("db", "edit", "3", "--key", "steps"))
    assert "removed e2" in ok(cli("db", "rm", "e2", "--author", "bob"))

    history = ok(cli("db", "history", "e1"))
    assert "add" in history and "edit" in history and "from the vase run" in history
    assert "vases break when dropped" in history
    assert "(gone)" in ok(cli("db", "history", "2"))

    found = ok(cli("db", "search", "fragile vase"))
    assert "2 best matches" in found and found.index("vases break") < found.index("carry nothing")
    assert "1 best matches" in ok(cli("db", "search", "fragile vase", "-k", "1"))
    assert "no matches" in ok(cli("db", "search", '"NEAR(zebra* -'))

    out = ok(cli("db", "revert", "3"))
    assert "reverted to revision 3" in out and "now at revision 9" in out
    listed = ok(cli("db", "list"))
    assert "move slowly near them" in listed and "knock" in listed and "stairs" in listed

    assert "exported 3 entries" in ok(cli("db", "export", "-o", "shared/lessons.jsonl"))
    lines = (tmp_path / "shared/lessons.jsonl").read_text().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["vase", "cat", "stairs"]
    assert "imported 3 new entries" in ok(cli("db", "import", "shared/lessons.jsonl", "--db", "other.sqlite"))
    assert "imported 0 new entries" in ok(cli("db", "import", "shared/lessons.jsonl", "--db", "other.sqlite"))
    assert "3 entries" in ok(cli("db", "list", "--db", "other.sqlite"))


def test_default_path_and_env_var(cli, tmp_path):
    ok(cli("db", "add", "k", "in the default place"))
    with ExperienceDB(tmp_path / ".ida" / "experience.sqlite") as db:
        assert [e.text for e in db.entries()] == ["in the default place"]
    ok(cli("db", "add", "k", "in the env place", env={"IDA_DB": str(tmp_path / "env.sqlite")}))
    assert "in the env place" in ok(cli("db", "list", "--db", "env.sqlite"))
    assert "no entries (revision 0)" in ok(cli("db", "list", "--db", "empty.sqlite"))


def test_help_lists_every_subcommand(cli):
    out = ok(cli("db", "--help"))
    for sub in ("list", "add", "edit", "rm", "history", "revert", "search", "export", "import"):
        assert sub in out


def test_user_mistakes_get_one_line_and_exit_2(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("just some notes, not a database\n" * 20)
    err = one_line_error(cli("db", "list", "--db", "notes.txt"), "notes.txt", "not a database")
    assert err.count("notes.txt") == 1

    newer = tmp_path / "newer.sqlite"
    ExperienceDB(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    conn.close()
    one_line_error(cli("db", "list", "--db", "newer.sqlite"), "newer.sqlite", "newer")

    ok(cli("db", "add", "vase", "vases are fragile"))
    one_line_error(cli("db", "rm", "vase"), "bad entry id 'vase'")
    one_line_error(cli("db", "edit", "e1x", "--text", "t"), "bad entry id")
    one_line_error(cli("db", "history", "99"), "no entry e99")
    one_line_error(cli("db", "edit", "e1"), "give a new text")
    one_line_error(cli("db", "add", "vase", "  "), "text must not be empty")
    one_line_error(cli("db", "revert", "5"), "no revision 5")
    (tmp_path / "bad.jsonl").write_text('{"key": "a", "text": "b"}\n{"key": "a"}\n')
    one_line_error(cli("db", "import", "bad.jsonl"), "bad.jsonl:2:", "text")
    one_line_error(cli("db", "import", "missing.jsonl"), "missing.jsonl")
    assert "1 entries, revision 1" in ok(cli("db", "list"))  # nothing half-done


@pytest.mark.parametrize("args", [["db", "rm"], ["db", "revert", "x"], ["db", "frobnicate"]])
def test_usage_errors_exit_2(cli, args):
    assert cli(*args).returncode == 2


def test_ids_and_limits_are_parsed_strictly(cli, tmp_path):
    ok(cli("db", "add", "vase", "vases are fragile"))
    ok(cli("db", "add", "cat", "cats knock vases over"))
    ok(cli("db", "add", "stairs", "careful on the stairs"))
    for raw in ("٣", "²", "e٣", "99999999999999999999"):
        one_line_error(cli("db", "rm", raw), "bad entry id")
        one_line_error(cli("db", "history", raw), "bad entry id")
    assert "3 entries" in ok(cli("db", "list"))  # `ida db rm ٣` used to remove e3
    assert "vase" in ok(cli("db", "search", "vase", "-k", "100000000000000000000"))
    one_line_error(cli("db", "revert", "100000000000000000000"), "no revision")


def test_add_edit_rm_print_the_revision_of_their_own_change(cli, tmp_path):
    assert "(revision 1)" in ok(cli("db", "add", "vase", "vases are fragile"))
    assert "(revision 2)" in ok(cli("db", "edit", "e1", "--text", "vases break"))
    assert "removed e1  (revision 3)" in ok(cli("db", "rm", "e1"))


def test_hostile_import_line_is_one_line(cli, tmp_path):
    (tmp_path / "big.jsonl").write_text('{"key": "a", "text": "b", "id": ' + "9" * 5000 + "}\n")
    one_line_error(cli("db", "import", "big.jsonl"), "big.jsonl:1:")
    (tmp_path / "deep.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n")
    one_line_error(cli("db", "import", "deep.jsonl"), "deep.jsonl:1:")

"""`ida db` through the real command, in a subprocess (fixtures `cli` and `cli_each` from conftest)."""

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


def test_every_subcommand_round_trip(cli_each, tmp_path):
    r = cli_each({
        "add": ("db", "add", "vase", "vases are fragile; move slowly near them", "--author", "alice",
                "--note", "from the vase run"),
        "add cat": ("db", "add", "cat", "cats [bold]knock[/] vases off tables"),  # brackets are text, not markup
        "add stairs": ("db", "add", "stairs", "carry nothing fragile on the stairs"),
        "list": ("db", "list"),
        "edit text": ("db", "edit", "e1", "--text", "vases break when dropped"),
        "edit key": ("db", "edit", "3", "--key", "steps"),
        "rm": ("db", "rm", "e2", "--author", "bob"),
        "history": ("db", "history", "e1"),
        "history gone": ("db", "history", "2"),
        "search": ("db", "search", "fragile vase"),
        "search k": ("db", "search", "fragile vase", "-k", "1"),
        "search bad": ("db", "search", '"NEAR(zebra* -'),
        "revert": ("db", "revert", "3"),
        "list reverted": ("db", "list"),
        "export": ("db", "export", "-o", "shared/lessons.jsonl"),
        "import": ("db", "import", "shared/lessons.jsonl", "--db", "other.sqlite"),
        "import again": ("db", "import", "shared/lessons.jsonl", "--db", "other.sqlite"),
        "list other": ("db", "list", "--db", "other.sqlite"),
    })
    out = ok(r["add"])
    assert "[e1] vase: vases are fragile; move slowly near them" in out and "revision 1" in out
    ok(r["add cat"])
    ok(r["add stairs"])

    listed = ok(r["list"])
    assert "3 entries, revision 3" in listed and "cats [bold]knock[/] vases off tables" in listed
    assert "alice" in listed

    assert "[e1] vase: vases break when dropped" in ok(r["edit text"])
    assert "[e3] steps:" in ok(r["edit key"])
    assert "removed e2" in ok(r["rm"])

    history = ok(r["history"])
    assert "add" in history and "edit" in history and "from the vase run" in history
    assert "vases break when dropped" in history
    assert "(gone)" in ok(r["history gone"])

    found = ok(r["search"])
    assert "2 best matches" in found and found.index("vases break") < found.index("carry nothing")
    assert "1 best matches" in ok(r["search k"])
    assert "no matches" in ok(r["search bad"])

    out = ok(r["revert"])
    assert "reverted to revision 3" in out and "now at revision 9" in out
    listed = ok(r["list reverted"])
    assert "move slowly near them" in listed and "knock" in listed and "stairs" in listed

    assert "exported 3 entries" in ok(r["export"])
    lines = (tmp_path / "shared/lessons.jsonl").read_text().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["vase", "cat", "stairs"]
    assert "imported 3 new entries" in ok(r["import"])
    assert "imported 0 new entries" in ok(r["import again"])
    assert "3 entries" in ok(r["list other"])


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


def test_user_mistakes_get_one_line_and_exit_2(cli_each, tmp_path):
    (tmp_path / "notes.txt").write_text("just some notes, not a database\n" * 20)
    newer = tmp_path / "newer.sqlite"
    ExperienceDB(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    conn.close()
    (tmp_path / "bad.jsonl").write_text('{"key": "a", "text": "b"}\n{"key": "a"}\n')
    r = cli_each({
        "notes": ("db", "list", "--db", "notes.txt"), "newer": ("db", "list", "--db", "newer.sqlite"),
        "add": ("db", "add", "vase", "vases are fragile"),
        "rm key": ("db", "rm", "vase"), "edit id": ("db", "edit", "e1x", "--text", "t"),
        "history": ("db", "history", "99"), "edit nothing": ("db", "edit", "e1"),
        "add empty": ("db", "add", "vase", "  "), "revert": ("db", "revert", "5"),
        "import bad": ("db", "import", "bad.jsonl"), "import missing": ("db", "import", "missing.jsonl"),
        "list": ("db", "list"),
    })
    err = one_line_error(r["notes"], "notes.txt", "not a database")
    assert err.count("notes.txt") == 1
    one_line_error(r["newer"], "newer.sqlite", "newer")

    ok(r["add"])
    one_line_error(r["rm key"], "bad entry id 'vase'")
    one_line_error(r["edit id"], "bad entry id")
    one_line_error(r["history"], "no entry e99")
    one_line_error(r["edit nothing"], "give a new text")
    one_line_error(r["add empty"], "text must not be empty")
    one_line_error(r["revert"], "no revision 5")
    one_line_error(r["import bad"], "bad.jsonl:2:", "text")
    one_line_error(r["import missing"], "missing.jsonl")
    assert "1 entries, revision 1" in ok(r["list"])  # nothing half-done


@pytest.mark.parametrize("args", [["db", "rm"], ["db", "revert", "x"], ["db", "frobnicate"]])
def test_usage_errors_exit_2(cli, args):
    assert cli(*args).returncode == 2


def test_ids_and_limits_are_parsed_strictly(cli_each, tmp_path):
    bad_ids = ("٣", "²", "e٣", "99999999999999999999")
    r = cli_each({
        "add vase": ("db", "add", "vase", "vases are fragile"), "add cat": ("db", "add", "cat", "cats knock vases over"),
        "add stairs": ("db", "add", "stairs", "careful on the stairs"),
        **{f"{cmd} {raw}": ("db", cmd, raw) for raw in bad_ids for cmd in ("rm", "history")},
        "list": ("db", "list"), "search": ("db", "search", "vase", "-k", "100000000000000000000"),
        "revert": ("db", "revert", "100000000000000000000"),
    })
    for name in ("add vase", "add cat", "add stairs"):
        ok(r[name])
    for raw in bad_ids:
        one_line_error(r[f"rm {raw}"], "bad entry id")
        one_line_error(r[f"history {raw}"], "bad entry id")
    assert "3 entries" in ok(r["list"])  # `ida db rm ٣` used to remove e3
    assert "vase" in ok(r["search"])
    one_line_error(r["revert"], "no revision")


def test_add_edit_rm_print_the_revision_of_their_own_change(cli, tmp_path):
    assert "(revision 1)" in ok(cli("db", "add", "vase", "vases are fragile"))
    assert "(revision 2)" in ok(cli("db", "edit", "e1", "--text", "vases break"))
    assert "removed e1  (revision 3)" in ok(cli("db", "rm", "e1"))


def test_hostile_import_line_is_one_line(cli, tmp_path):
    (tmp_path / "big.jsonl").write_text('{"key": "a", "text": "b", "id": ' + "9" * 5000 + "}\n")
    one_line_error(cli("db", "import", "big.jsonl"), "big.jsonl:1:")
    (tmp_path / "deep.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n")
    one_line_error(cli("db", "import", "deep.jsonl"), "deep.jsonl:1:")

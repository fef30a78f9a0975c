"""The breakable vase, run on real trees: nothing here is canned."""

import subprocess
import sys

import pytest

from ida.errors import IdaError
from ida.experience import ExperienceDB
from ida.scenarios import vase
from tests.conftest import ROOT


@pytest.fixture
def db(tmp_path):
    return ExperienceDB(tmp_path / "exp.sqlite")


def test_the_vase_story(db):
    r = vase.replay(vase.parse_room(vase.DEFAULT_ROOM), db)
    # run 1: the lookup finds nothing, the node moves normally, the vase breaks at step 3
    node = next(n for n in r.first.nodes if n.question.text() == "how should I move past the vase?")
    assert node.steps[0].action == "lookup vase" and node.steps[0].result == "nothing found"
    assert node.answer_text == "normally"
    assert r.first_outcome.feedback == "the vase broke at step 3"
    # the backward pass visits the root and that node, blames that node alone, adds the lesson
    assert [v.node for v in r.report.visits] == [r.first.root, node.id]
    assert r.report.blamed == [node.id]
    (entry,) = r.applied.entries
    assert (entry.key, entry.text) == ("vase", "vases are fragile; move slowly near them")
    assert entry.provenance.run_id == r.first.run_id and entry.provenance.node_id == node.id
    assert entry.provenance.feedback == "the vase broke at step 3"
    # run 2: the same tree up to that lookup, which now returns the lesson; the node moves carefully
    assert r.changed_at == node.id
    again = r.second.nodes[node.id]
    assert again.question == node.question and f"[e{entry.id}] vase:" in again.steps[0].result
    assert again.answer_text == "carefully"
    assert not r.second_outcome.broken
    assert [n.question for n in r.first.nodes] == [n.question for n in r.second.nodes]


def test_lessons_persist_in_the_database(db):
    room = vase.parse_room(vase.DEFAULT_ROOM)
    vase.replay(room, db)
    r = vase.replay(room, db)
    assert r.first_outcome.feedback is None and r.report is None and r.second is None


def test_the_mechanism_is_not_about_the_word_vase(db):
    room = vase.parse_room("glass bowl@2:fragile, oak crate@5, grandma's teacup@7:fragile")
    r = vase.replay(room, db)
    assert r.first_outcome.feedback == "the glass bowl broke at step 1; the grandma's teacup broke at step 3"
    keys = sorted(e.key for e in r.applied.entries)
    assert keys == ["glass bowl", "grandma's teacup"]  # one lesson per fragile object
    assert not r.second_outcome.broken
    for tree in (r.first, r.second):  # never slows down for the sturdy one
        crate = next(n for n in tree.nodes if n.question.text() == "how should I move past the oak crate?")
        assert crate.answer_text == "normally"
    assert r.second_outcome.time == r.first_outcome.time + 2 * (vase.SPEED["carefully"] - vase.SPEED["normally"])


def test_a_misleading_entry_is_edited_not_duplicated(db):
    e = db.add("vase", "a vase holds flowers")
    r = vase.replay(vase.parse_room("vase@3:fragile"), db)
    assert [(x.op, x.entry_id) for x in r.report.edits] == [("edit", e.id)]
    assert db.get(e.id).text == "a vase holds flowers; vases are fragile; move slowly near them"
    assert not r.second_outcome.broken


@pytest.mark.parametrize("spec", ["", "vase", "vase@x", "vase@3:glass", "vase@3, vase@4", "a@3, b@3", "v[x]@3"])
def test_bad_room_specs_are_user_errors(spec):
    with pytest.raises(IdaError):
        vase.parse_room(spec)


def test_room_from_json_and_random(tmp_path):
    (tmp_path / "room.json").write_text('{"door": 12, "things": [{"name": "urn", "at": 11, "fragile": true}]}')
    assert vase.parse_room(str(tmp_path / "room.json")).things[0].name == "urn"
    assert vase.parse_room("random", seed=3) == vase.parse_room("random", seed=3)


def test_cli_replay_saves_both_transcripts(cli, tmp_path):
    r = cli("vase")
    assert r.returncode == 0, r.stderr
    assert "the vase broke at step 3" in r.stdout and "the path changed here" in r.stdout
    assert "summary: run 1 broke 1 (vase)" in r.stdout and "run 2 broke 0" in r.stdout
    saved = sorted(p.name[:4] for p in (tmp_path / "transcripts/vase").glob("*.jsonl"))
    assert saved == ["run1", "run2"]


def test_cli_db_persists_lessons(cli, tmp_path):
    assert cli("vase", "--db", "lessons.sqlite").returncode == 0
    r = cli("vase", "--db", "lessons.sqlite")
    assert r.returncode == 0 and "nothing broke" in r.stdout


def test_cli_bad_room_is_one_line(cli):
    r = cli("vase", "--room", "vase@three")
    assert r.returncode == 2 and "bad room item" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_human_overseer_assigns_the_blame(cli):
    typed = "target 4 carefully\ndone\nadd vase: vases are fragile; move slowly near them\ndone\n"
    r = cli("vase", "--overseer", "human", input=typed)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "blame>" in r.stdout and "run 2 broke 0" in r.stdout


def test_example_script_runs(tmp_path):
    script = ROOT / "examples" / "vase.py"
    assert len(script.read_text().splitlines()) < 80
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert "vase broke" in r.stdout and "nothing broke" in r.stdout

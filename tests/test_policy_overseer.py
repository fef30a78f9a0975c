"""PolicyOverseer with the blame scripts gives the rule overseer's reports, one blame tree a node visited."""

import random

import pytest

import ida
from ida.experience import ExperienceDB
from ida.overseer import RuleOverseer, backward
from ida.overseer.faults import faulty_run, scripted_blame_trees, wrong
from ida.overseer.policy_overseer import PolicyOverseer
from ida.overseer.saved import blame_dir, load_report, report_path, save_report
from ida.overseer.scripts import for_task
from ida.scenarios import vase
from ida.tasks import add_facts, get
from ida.transcript import load_transcript

TREES = 60  # faulty trees per task


def key(b):
    """Everything a blame decides, its alternatives too (notes are prose, and edits' reasons name their source)."""
    return (b.ok, dict(b.targets), [(e.op, e.key, e.text, e.entry_id) for e in b.edits],
            None if b.correction is None else (b.correction.step, b.correction.action), [key(c) for c in b.candidates])


def same_reports(r1, r2):
    assert [(v.node, v.target, key(v.blame)) for v in r1.visits] == [(v.node, v.target, key(v.blame)) for v in r2.visits]
    assert r1.blamed == r2.blamed and [v.node for v in r1.unexplained] == [v.node for v in r2.unexplained]


@pytest.fixture
def db(tmp_path):
    """Facts with faults of their own: one wrong, one missing (the lookup rule's edits and adds)."""
    with ExperienceDB(tmp_path / "facts.sqlite") as d:
        add_facts(get("weights"), d)
        entries = {e.key: e for e in d.entries()}
        d.edit(entries["plum"].id, "a plum weighs 90 grams", author="test")
        d.remove(entries["fig"].id, author="test")
        yield d


def targets_for(task, node, rng):
    """The node's own answer, a wrong one, and the truth where the task can say it (the circuit's
    black box speaks only at the output: its gates get both bits)."""
    answer = node.answer_text or ""
    try:
        truth = {task.truth(node.question.text())}
    except ida.IdaError:
        truth = {"0", "1"}
    return {answer, wrong(answer, rng)} | truth


@pytest.mark.parametrize("name", ["multiply", "sorted", "length", "permutation", "weights", "circuit"])
def test_scripted_blame_gives_the_rules_reports_on_every_task(name, db):
    task = get(name)
    rules, scripted = RuleOverseer(task.rules), PolicyOverseer(for_task(name))
    kinds = set()
    for seed in range(TREES):
        size = random.Random(seed).randint(1, 4 if name == "multiply" else 7)
        f = faulty_run(task, seed, size, db if name == "weights" else None)  # circuit: its own beliefs
        before = scripted.trees
        r1, r2 = backward(f.tree, f.truth, rules), backward(f.tree, f.truth, scripted)
        same_reports(r1, r2)
        assert scripted.trees - before == len(r2.visits) == len(r2.blame_trees)  # linear: one blame tree a visit
        # every node, toward its own answer, the truth and a wrong one: each rule family, each branch
        for node in f.tree.nodes:
            for target in targets_for(task, node, random.Random(node.id)):
                a, b = rules.blame(node, target, f.tree), scripted.blame(node, target, f.tree)
                assert key(a) == key(b), (node.question.text(), target, a, b)
                kinds |= {e.op for e in a.edits} | {k for k, v in [("ok", a.ok), ("targets", a.targets),
                                                                   ("correction", a.correction),
                                                                   ("candidates", a.candidates)] if v}
    want = {"ok", "targets", "correction"}
    assert kinds >= {"weights": {"ok", "correction", "edit", "add"}, "permutation": want | {"candidates"},
                     "circuit": want | {"candidates"}}.get(name, want)


def vase_run(seed):
    room = vase.parse_room("random", seed)
    rng = random.Random(seed)
    with ExperienceDB(":memory:") as db:
        for t in room.things:  # an entry that does not warn: the pass edits it rather than adding one
            if rng.random() < 0.4:
                db.add(t.name, f"the {t.name} is {rng.choice(['blue', 'old'])}", author="test")
        tree = ida.run(vase.root_question(room), vase.agent, db=db, task="vase")
    return room, tree, vase.execute(tree.answer, room).feedback


def test_scripted_blame_gives_the_vase_rules_reports():
    rules, scripted = vase.overseer(), PolicyOverseer(for_task("vase"))
    ops, passes = set(), 0
    for seed in range(TREES):
        room, tree, feedback = vase_run(seed)
        if feedback is not None:
            r1, r2 = backward(tree, feedback, rules), backward(tree, feedback, scripted)
            same_reports(r1, r2)
            assert len(r2.blame_trees) == len(r2.visits)
            ops |= {e.op for e in r1.edits}
            passes += 1
        for node in tree.nodes:
            for target in ("carefully", "normally", node.answer_text, f"the {room.things[0].name} broke at step 1"):
                assert key(rules.blame(node, target, tree)) == key(scripted.blame(node, target, tree))
    assert passes > 10 and ops == {"add", "edit"}


def test_the_vase_replay_with_scripted_blame_learns_the_lesson(tmp_path):
    with ExperienceDB(tmp_path / "x.sqlite") as db:
        r = vase.replay(vase.parse_room(vase.DEFAULT_ROOM), db, PolicyOverseer(for_task("vase")))
    (entry,) = r.applied.entries
    assert (entry.key, entry.text) == ("vase", "vases are fragile; move slowly near them")
    assert entry.author == "overseer:policy:blame-script:vase" and not r.second_outcome.broken


def test_blame_trees_are_saved_beside_the_report_and_load_as_transcripts(tmp_path):
    f = faulty_run(get("length"), 3, 5)
    report = backward(f.tree, f.truth, PolicyOverseer(for_task("length")))
    transcript = f.tree.save(tmp_path / "run.jsonl")
    saved = load_report(save_report(report, report_path(transcript)))
    assert saved.blame_trees == len(report.visits) > 1
    folder = blame_dir(report_path(transcript))
    assert folder == tmp_path / "run.blame"
    for v in saved.visits:
        assert v.blame_tree == f"run.blame/{v.node}.jsonl"
        blame_tree = load_transcript(tmp_path / v.blame_tree)
        assert blame_tree.meta["blames"] == {"run": f.tree.run_id, "node": v.node, "target": v.target}
        assert blame_tree.root_node.question.text().startswith("blame: node [")
    (folder / "99.jsonl").write_text("stale")
    save_report(backward(f.tree, f.tree.answer, PolicyOverseer(for_task("length"))), report_path(transcript))
    assert sorted(p.name for p in folder.iterdir()) == ["0.jsonl"]  # the root is ok now: one tree, no stale ones


def test_scripted_blame_trees_come_from_faulty_runs():
    trees = list(scripted_blame_trees(get("length"), 3, 4))
    assert trees and all(t.root_node.question.text().startswith("blame: node") for t in trees)
    with pytest.raises(ida.IdaError, match="no blame scripts"):
        next(scripted_blame_trees(_no_script_task(), 1))


def _no_script_task():
    from dataclasses import replace

    return replace(get("length"), name="mine")

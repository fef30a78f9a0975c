"""The engine's `lookup` action against a real experience database."""

import ida
from ida.experience import ExperienceDB
from ida.tasks import add_facts, get


def test_a_task_that_consults_the_database(tmp_path):
    task = get("weights")
    db = ExperienceDB(tmp_path / "exp.sqlite")
    add_facts(task, db)
    for seed in range(10):
        inst = task.instance(seed, 4)
        tree = ida.run(inst.question, task.policy, db=db)
        assert tree.answer == inst.answer
    lookups = [(n, s) for n in tree.nodes for s in n.steps if s.lookup is not None]
    assert len(lookups) == 4
    node, step = lookups[0]
    thing = step.action.removeprefix("lookup ")
    entry = next(e for e in db.entries() if e.key == thing)
    assert step.lookup.entry_ids[0] == entry.id and step.lookup.revision == db.revision
    assert f"[e{entry.id}] {thing}: " in node.workspace_at(1)  # the workspace shows id, key and sentence


def test_without_facts_the_lookup_says_nothing_found(tmp_path):
    task = get("weights")
    tree = ida.run("What is the total weight of [fig] in grams?", task.policy, db=ExperienceDB(tmp_path / "e.sqlite"))
    assert tree.nodes[1].steps[0].result == "nothing found"
    assert ida.failed(tree.answer)


def test_an_edit_is_seen_by_the_next_run(tmp_path):
    db = ExperienceDB(tmp_path / "exp.sqlite")
    e = db.add("fig", "a fig weighs 40 grams")
    task = get("weights")
    q = "What is the total weight of [fig] in grams?"
    assert ida.run(q, task.policy, db=db).answer == "40"
    db.edit(e.id, "a fig weighs 50 grams")
    tree = ida.run(q, task.policy, db=db)
    assert tree.answer == "50" and tree.db_revision == db.revision

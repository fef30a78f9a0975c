"""The task API in Python: keyword arguments with defaults, rules as plain functions, entries as
data for policies and rules, strict rule coverage, an oracle that raises, the blame prompt."""

from __future__ import annotations

import json

import pytest

import ida
from ida.experience import ExperienceDB
from ida.overseer import Blame, HumanOverseer, NodeContext, OracleOverseer, RuleOverseer, backward, local_step, rule
from ida.overseer.overseers import NoRule
from ida.policies import scripted
from ida.tasks import Task, TaskError, get, run_task
from ida.transcript import load_transcript


@scripted
def echo(ws):
    found = yield f"lookup {ws.question_text.removeprefix('what is ').removesuffix('?')}"
    return ws.found[0].text if ws.found else found


@rule(r"what is .*\?")
def echo_rule(ctx: NodeContext, target: str) -> Blame:
    return local_step(ctx, target, ctx.found[0].text if ctx.found else None, None)


def test_a_task_needs_only_a_name_and_a_policy_and_takes_lists():
    t = Task(name="echo", policy=echo, rules=[echo_rule], facts=[("x", "ex")])
    assert t.description == "" and t.solve is None and t.generate is None and t.default_size == 1
    assert t.rules == (echo_rule,) and t.facts == (("x", "ex"),)
    with pytest.raises(TypeError):
        Task("echo", echo)  # type: ignore[misc]  # keyword arguments only: no order to remember
    with pytest.raises(TaskError, match="generates no questions"):
        t.instance(0)
    r = run_task(t, question="what is x?")  # its facts go into a temporary database
    assert r.tree.answer == "ex" and r.right is None and r.facts_added == 1


def test_a_rule_is_the_function_itself_with_its_pattern():
    assert echo_rule.__name__ == "echo_rule" and echo_rule.pattern.fullmatch("what is x?")
    tree = ida.run("what is x?", echo)
    blame = echo_rule(NodeContext(tree.root_node, tree), "ex")  # callable and testable directly
    assert blame.note.startswith("target unreachable")


def test_lookups_give_policies_and_rules_entries_as_data(tmp_path):
    with ExperienceDB(tmp_path / "e.sqlite") as db:
        e = db.add("x", "a sentence: with a colon, and [e9] inside")
        tree = ida.run("what is x?", echo, db=db)
    assert tree.answer == "a sentence: with a colon, and [e9] inside"  # from ws.found, not the screen
    step = tree.root_node.steps[0]
    assert [(f.id, f.key, f.text) for f in step.lookup.found] == [(e.id, "x", e.text)]
    path = tree.save(tmp_path / "t.jsonl")
    loaded = load_transcript(path)
    assert NodeContext(loaded.root_node, loaded).found == step.lookup.found


def test_transcripts_written_before_entries_were_data_read_them_back_from_the_result(tmp_path):
    with ExperienceDB(tmp_path / "e.sqlite") as db:
        for key, text in [("x", "first: one"), ("x", "second [e2] x: two"), ("y x", "third")]:
            db.add(key, text)
        tree = ida.run("what is x?", echo, db=db)
    path = tree.save(tmp_path / "t.jsonl")
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    for rec in lines:
        for s in rec.get("steps", []):
            if s.get("lookup"):
                del s["lookup"]["found"]  # as an older ida wrote it
    old = tmp_path / "old.jsonl"
    old.write_text("".join(json.dumps(r) + "\n" for r in lines))
    step = load_transcript(old).root_node.steps[0]
    assert [(f.key, f.text) for f in step.lookup.found] == [("x", "first: one"), ("x", "second [e2] x: two"),
                                                                ("y x", "third")]


def test_a_strict_rule_overseer_raises_on_a_question_no_rule_covers():
    tree = ida.run("what is y?", echo)
    with pytest.raises(NoRule, match="no rule for node #0's question: what is y"):
        backward(tree, "why", RuleOverseer([], strict=True))
    report = backward(tree, "why", RuleOverseer([]))  # not strict: a note, the pass goes on
    assert report.visits[0].blame.note == "no rule for this kind of question"


def test_a_rule_or_oracle_that_raises_is_a_note_naming_the_question_not_a_crash():
    task = get("multiply")
    tree = ida.run(task.instance(2).question, task.policy)

    def solve(q: str) -> str:
        if q != tree.root_node.question.text():
            raise RuntimeError("oracle down")
        return task.solve(q)

    report = backward(tree, "1", OracleOverseer(solve, task.rules))
    note = report.visits[0].blame.note
    assert "the ground truth raised on" in note and "RuntimeError: oracle down" in note

    @rule(".*")
    def broken(ctx: NodeContext, target: str) -> Blame:
        raise ZeroDivisionError("bad rule")

    report = backward(tree, "1", RuleOverseer([broken]))
    assert report.visits[0].blame.note == "rule broken raised ZeroDivisionError: bad rule"
    assert [v.node for v in report.unexplained] == [0]


def test_the_blame_prompt_numbers_steps_skips_right_nodes_and_refuses_a_non_correction():
    task = get("length")
    tree = ida.run(task.instance(1, 4).question, task.policy)
    root, child = tree.root_node, tree.nodes[tree.root_node.children[0]]
    typed = iter([f"correct 0 {root.steps[0].action}", "correct 9 reply 1", "help", "note looked fine",
                  f"target #{child.id} {child.answer_text}", "done"])  # the child is sent its own answer: not asked
    shown: list[str] = []
    report = backward(tree, "999", HumanOverseer(ask=lambda _: next(typed), show=shown.append))
    screen = "\n".join(shown)
    assert f"[0] {root.steps[0].action}" in screen and f"[{len(root.steps) - 1}] {root.steps[-1].action}" in screen
    assert f"node #{child.id} already answers {child.answer_text}: ok" in screen  # not asked
    assert "a correction must change it" in screen and "no step 9" in screen and "correct <step#>" in screen
    assert [v.node for v in report.visits] == [0, child.id] and report.visits[1].blame.ok
    assert report.visits[0].blame.note == "looked fine" and report.visits[0].blame.correction is None

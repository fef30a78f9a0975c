"""The backward pass: blame lands where the fault is, edits carry provenance, the fix shows."""


import ida
from ida.actions import as_action
from ida.experience import ExperienceDB
from ida.overseer import (Blame, HumanOverseer, OracleOverseer, RuleOverseer, apply, backward, fix, local_step,
                          rule)
from ida.tasks import add_facts, get
from ida.transcript import read_transcript


class lying_at:
    """A policy that acts like `policy` except that the node asked `question` lies in its reply."""

    name = "liar"

    def __init__(self, policy, question: str, lie) -> None:
        self.policy, self.question, self.lie = policy, question, lie

    def act(self, ws):
        action = as_action(self.policy.act(ws))
        if action.kind == "reply" and ws.question_text == self.question:
            return f"reply {self.lie(action.arg)}"
        return action


def test_one_wrong_fact_is_blamed_edited_alone_and_the_fix_shows(tmp_path):
    task = get("weights")
    db = ExperienceDB(tmp_path / "exp.sqlite")
    add_facts(task, db)
    plum = next(e for e in db.entries() if e.key == "plum")
    db.edit(plum.id, "a plum weighs 90 grams", author="someone careless")
    before = {e.id: e.text for e in db.entries()}
    question = "What is the total weight of [pear plum apple] in grams?"
    target = task.solve(question)

    result = fix(question, target, task.policy, OracleOverseer(task.solve, task.rules), db=db,
                 corrections_dir=tmp_path / "corrections")

    first, second = result.steps
    assert first.tree.answer == "440" and target == "410"
    report = first.report
    plum_node = next(n.id for n in first.tree.nodes if "plum" in n.question.text() and n.depth == 1)
    assert report.blamed == [plum_node]
    assert [(e.op, e.entry_id, e.text) for e in report.edits] == [("edit", plum.id, "a plum weighs 60 grams")]
    assert second.tree.answer == target and result.fixed
    after = {e.id: e.text for e in db.entries()}
    assert {k for k in after if after[k] != before[k]} == {plum.id}  # that entry and only that one
    last = db.history(plum.id)[-1]
    assert last.provenance.run_id == first.tree.run_id and last.provenance.node_id == plum_node
    assert last.provenance.feedback == target and last.author == "overseer:oracle"
    # the second run is the same tree up to the lookup, which now reads the corrected entry
    node = second.tree.nodes[plum_node]
    assert node.question == first.tree.nodes[plum_node].question
    assert "a plum weighs 60 grams" in node.steps[0].result


def test_a_lie_deep_in_the_tree_is_blamed_there_and_nowhere_else():
    task = get("length")
    question = task.instance(0, 30).question
    truth = task.solve(question)
    honest = ida.run(question, task.policy)
    liar_node = honest.nodes[17]
    policy = lying_at(task.policy, liar_node.question.text(), lambda a: str(int(a) + 2))
    tree = ida.run(question, policy)
    assert tree.answer == str(int(truth) + 2)

    for overseer in (RuleOverseer(task.rules), OracleOverseer(task.solve, task.rules)):
        report = backward(tree, truth, overseer)
        assert report.blamed == [17], overseer.name
        (correction,) = report.corrections
        assert correction.node == 17 and correction.action == f"reply {int(truth) - 17}"
        assert not report.conflicts and not report.edits
    # the rule overseer walks the path root..#17 and stops: the subtree below is never visited
    assert [v.node for v in backward(tree, truth, RuleOverseer(task.rules)).visits] == list(range(18))


def test_rules_blame_a_wrong_single_digit_product():
    task = get("multiply")
    policy = lying_at(task.policy, "What is 50 * 5019?", lambda a: "250000")
    tree = ida.run("What is 351 * 5019?", policy)
    assert tree.answer != "1761669"
    report = backward(tree, "1761669", RuleOverseer(task.rules))
    product = next(n.id for n in tree.nodes if n.question.text() == "What is 50 * 5019?")
    assert report.blamed == [product]
    assert report.corrections[0].action == "reply 250950"


def test_shared_node_with_two_different_targets_is_a_conflict():
    @ida.scripted
    def h(ws):
        q = ws.question_text
        if q == "root":
            a = yield "ask left"
            b = yield "ask right"
            return f"{a} {b}"
        if q in ("left", "right"):
            return (yield "ask shared")
        return "0"

    tree = ida.run("root", h)
    shared = next(n for n in tree.nodes if n.question.text() == "shared")
    assert len(shared.parents) == 2  # memoized: one node, two parents

    @rule(r"root")
    def root_rule(ctx, target):
        left, right = (c for _, c in ctx.asks)
        a, b = target.split()
        return Blame(targets={left.id: a, right.id: b})

    @rule(r"left|right")
    def pass_down(ctx, target):
        return local_step(ctx, target, ctx.asks[0][1].answer_text, {ctx.asks[0][1].id: target})

    report = backward(tree, "1 2", RuleOverseer([root_rule, pass_down]))
    (conflict,) = report.conflicts
    assert conflict.node == shared.id
    parents = {tree.nodes[p].question.text(): t for p, t in conflict.targets}
    assert parents == {"left": "1", "right": "2"}
    assert shared.id not in [v.node for v in report.visits]  # never silently resolved


def test_a_shared_node_is_visited_once_after_all_its_parents():
    @ida.scripted
    def h(ws):
        q = ws.question_text
        if q == "top":
            yield "ask mid"
            yield "ask leaf"
            return "wrong"
        if q == "mid":
            return (yield "ask leaf")
        return "x"

    tree = ida.run("top", h)
    order = []

    class Recorder:
        name = "recorder"

        def blame(self, node, target, tree):
            order.append(node.question.text())
            return Blame(targets={c: "y" for c in node.children})

    report = backward(tree, "right", Recorder())
    assert order == ["top", "mid", "leaf"]
    assert len(report.visits) == 3


def test_apply_writes_corrections_as_a_transcript(tmp_path):
    task = get("length")
    question = task.instance(3, 8).question
    honest = ida.run(question, task.policy)
    policy = lying_at(task.policy, honest.nodes[4].question.text(), lambda a: "99")
    tree = ida.run(question, policy)
    report = backward(tree, task.solve(question), RuleOverseer(task.rules))
    applied = apply(report, None, tmp_path)
    header, records = read_transcript(applied.corrections)
    assert header.corrects == tree.run_id
    (rec,) = records
    step = rec.steps[0]
    assert step.corrects.node == 4 and step.corrects.run_id == tree.run_id
    assert step.workspace == tree.nodes[4].workspace_at(step.corrects.step)
    assert step.action == f"reply {task.solve(tree.nodes[4].question.text())}"


def test_human_overseer_takes_blame_as_commands():
    task = get("weights")
    tree = ida.run("What is the total weight of [kiwi] in grams?", task.policy)  # no database: lookup misses
    child = tree.root_node.children[0]
    answers = iter([f"target {child}", f"target {child} 75", "", "bogus", "add kiwi: a kiwi weighs 75 grams", "done"])
    shown = []
    report = backward(tree, "75", HumanOverseer(ask=lambda _: next(answers), show=shown.append))
    assert [v.node for v in report.visits] == [0, child]
    assert report.visits[0].blame.targets == {child: "75"}
    assert [(e.op, e.key, e.text) for e in report.edits] == [("add", "kiwi", "a kiwi weighs 75 grams")]
    assert any("not understood" in s for s in shown)


def test_fix_stops_when_nothing_left_to_edit():
    task = get("length")
    question = task.instance(1, 6).question
    policy = lying_at(task.policy, ida.run(question, task.policy).nodes[2].question.text(), lambda a: "7")
    result = fix(question, task.solve(question), policy, RuleOverseer(task.rules), corrections_dir=None)
    assert len(result.steps) == 1 and not result.fixed  # a lying policy is not fixed by the database
    assert result.steps[0].report.corrections  # but its correction is recorded for training

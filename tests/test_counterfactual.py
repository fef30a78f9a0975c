"""Guess and check: where the linear pass cannot tell which input erred, candidates are tried
by forward runs within a budget, and the report counts the runs."""

import ida
from ida.actions import as_action
from ida.experience import ExperienceDB
from ida.overseer import Counterfactual, Edit, Forced, OracleOverseer, RuleOverseer, backward, fix
from ida.overseer.counterfactual import trial
from ida.overseer.saved import load_report, save_report
from ida.tasks import add_facts, get

PERMUTATION = get("permutation")


class lying_at:
    """H, except that the node asked `question` replies `lie`."""

    name = "liar"

    def __init__(self, policy, question: str, lie: str) -> None:
        self.policy, self.question, self.lie = policy, question, lie

    def act(self, ws):
        action = as_action(self.policy.act(ws))
        if action.kind == "reply" and ws.question_text == self.question:
            return f"reply {self.lie}"
        return action


def first_half_lie():
    """σ^8(x): a lie at σ^1 deep in the first half, which the rule leaves alone."""
    question = PERMUTATION.instance(1, 8).question
    honest = ida.run(question, PERMUTATION.policy)
    liar = honest.nodes[3]
    assert liar.question.text().startswith("what is p^1(") and PERMUTATION.difficulty(question) == 8
    lie = str((int(liar.answer_text) + 1) % 8)
    policy = lying_at(PERMUTATION.policy, liar.question.text(), lie)
    return question, PERMUTATION.solve(question), liar.question.text(), liar.answer_text, policy


def test_a_wrong_first_half_the_rules_cannot_place_is_placed_by_guess_and_check():
    question, truth, liar_q, honest_answer, policy = first_half_lie()
    tree = ida.run(question, policy)
    assert tree.answer != truth

    linear = backward(tree, truth, RuleOverseer(PERMUTATION.rules))
    assert not linear.corrections and linear.unexplained  # today: the blame goes down the wrong half
    assert linear.forward_runs == 0

    report = backward(tree, truth, Counterfactual(RuleOverseer(PERMUTATION.rules), policy, budget=60))
    (correction,) = report.corrections
    assert tree.nodes[correction.node].question.text() == liar_q
    assert correction.action == f"reply {honest_answer}"
    assert not report.unexplained and 0 < report.forward_runs <= 60 and report.forward_budget == 60
    assert report.overseer_calls > len(report.visits)  # the pass was walked again after a guess
    fixed = ida.run(question, Forced(policy, {liar_q: honest_answer}))
    assert fixed.answer == truth  # the correction, made, gives the right answer


def test_the_budget_bounds_the_guessing_and_the_report_says_it_was_spent():
    question, truth, _, _, policy = first_half_lie()
    tree = ida.run(question, policy)
    report = backward(tree, truth, Counterfactual(RuleOverseer(PERMUTATION.rules), policy, budget=3))
    assert not report.corrections and report.unexplained
    assert report.forward_runs == 3


def test_where_the_linear_pass_places_the_blame_nothing_is_run(tmp_path):
    weights = get("weights")
    db = ExperienceDB(tmp_path / "w.sqlite")
    add_facts(weights, db)
    plum = next(e for e in db.entries() if e.key == "plum")
    db.edit(plum.id, "a plum weighs 90 grams")
    question = "What is the total weight of [pear plum apple] in grams?"
    tree = ida.run(question, weights.policy, db=db)
    overseer = Counterfactual(OracleOverseer(weights.solve, weights.rules), weights.policy, db, budget=50)
    report = backward(tree, "410", overseer)  # the oracle places it: a linear pass
    assert [(e.op, e.entry_id, e.text) for e in report.edits] == [("edit", plum.id, "a plum weighs 60 grams")]
    assert report.forward_runs == 0 and report.overseer == "oracle+guess"


def test_a_trial_change_is_rolled_back_and_a_kept_guess_applies_with_provenance(tmp_path):
    circuit = get("circuit")
    db = ExperienceDB(tmp_path / "c.sqlite")
    add_facts(circuit, db)
    entry = next(e for e in db.entries() if e.key == "g0")
    before = (db.revision, [(e.id, e.text) for e in db.entries()])
    with trial(db, [Edit("edit", entry_id=entry.id, text="g0 = OR(x0, x1)")]):
        assert db.get(entry.id).text == "g0 = OR(x0, x1)"
    assert (db.revision, [(e.id, e.text) for e in db.entries()]) == before

    q = circuit.instance(11).question  # an input the beliefs get wrong
    truth = circuit.truth(q)
    tree = ida.run(q, circuit.policy, db=db)
    assert tree.answer != truth
    overseer = Counterfactual(RuleOverseer(circuit.rules), circuit.policy, db, budget=500)
    report = backward(tree, truth, overseer)
    assert (db.revision, [(e.id, e.text) for e in db.entries()]) == before  # checking changed nothing
    assert len(report.edits) == 1 and 0 < report.forward_runs <= 500
    saved = load_report(save_report(report, tmp_path / "r.report.json"))
    assert (saved.forward_runs, saved.forward_budget, saved.overseer_calls) == (
        report.forward_runs, 500, report.overseer_calls)

    result = fix(q, truth, circuit.policy, overseer, db=db)
    assert result.fixed and ida.run(q, circuit.policy, db=db).answer == truth
    edited = db.history(report.edits[0].entry_id or 0)[-1]
    assert edited.author == "overseer:rules+guess" and edited.provenance.feedback == truth


def test_checks_keep_earlier_observations_right(tmp_path):
    circuit = get("circuit")
    db = ExperienceDB(tmp_path / "c.sqlite")
    add_facts(circuit, db)
    from ida.tasks.circuit import inputs_of, question

    right = [(question(x), circuit.truth(question(x))) for x in inputs_of(5)
             if ida.run(question(x), circuit.policy, db=db).answer == circuit.truth(question(x))]
    q = circuit.instance(11).question
    overseer = Counterfactual(RuleOverseer(circuit.rules), circuit.policy, db, budget=2000, checks=right)
    assert fix(q, circuit.truth(q), circuit.policy, overseer, db=db).fixed
    assert all(ida.run(cq, circuit.policy, db=db).answer == a for cq, a in right)


def test_a_trial_inside_an_open_transaction_is_rolled_back_and_the_outer_one_still_commits(tmp_path):
    path = tmp_path / "x.sqlite"
    db = ExperienceDB(path)
    vase = db.add("vase", "vases are fragile")
    cat = db.add("cat", "cats knock vases over")

    def state(d: ExperienceDB):
        return d.revision, d.entries(), d.events(), d.lookup("stairs"), d.lookup("vases bounce")

    guesses = [Edit("add", key="stairs", text="carry nothing on the stairs"),
               Edit("edit", entry_id=vase.id, text="vases bounce"), Edit("remove", entry_id=cat.id)]
    assert db.revision == 2  # cached from here: the commit below must not leave it stale
    with db.transaction():
        before = state(db)
        with trial(db, guesses):
            assert db.revision == before[0] + 3 and [e.key for e in db.entries()] == ["vase", "stairs"]
            assert db.get(vase.id).text == "vases bounce"
        assert state(db) == before  # entries, history, revision and the search index: all as they were
        lamp = db.add("lamp", "lamps are hot")
    assert lamp.revision == before[0] + 1  # the outer transaction's own change, at the next revision
    assert db.revision == lamp.revision
    db.close()

    with ExperienceDB(path) as again:  # what the file holds, read afresh
        assert [(e.key, e.text) for e in again.entries()] == [
            ("vase", "vases are fragile"), ("cat", "cats knock vases over"), ("lamp", "lamps are hot")]
        assert [(ev.revision, ev.kind) for ev in again.events()] == [(1, "add"), (2, "add"), (3, "add")]
        assert again.history(vase.id) == before[2][:1] and again.lookup("stairs") == []

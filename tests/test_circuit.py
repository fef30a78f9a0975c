"""The black-box circuit: its world, H and rules, recovery by the fix loop, and the real CLI."""

import json
import random

import pytest

import ida
from ida.experience import ExperienceDB
from ida.overseer import Blame, NodeContext
from ida.tasks import add_facts, get
from ida.tasks.circuit import (OPS, Gate, all_gates, distance, evaluate, gate_rule, inputs_of, nearby, question,
                               random_circuit, world)
from ida.tasks.circuit_fix import agreement, recover


def test_every_gate_feeds_the_output_and_the_mistakes_are_one_detail_and_visible():
    for seed in range(5):
        circuit, beliefs = world(seed)
        read = {s for g in circuit.gates for s in (g.a, g.b)}
        assert {f"g{k}" for k in range(19)} <= read and len(circuit.gates) == 20
        for k, g in enumerate(circuit.gates):  # sources only earlier: no loops
            assert all(s.startswith("x") or int(s[1:]) < k for s in (g.a, g.b))
        wrong = [n for n, b in beliefs.items() if not circuit.gates[int(n[1:])].same(b)]
        assert len(wrong) == 3
        assert all(distance(beliefs[n], circuit.gates[int(n[1:])]) == 1 for n in wrong)  # type: ignore[arg-type]
        for n in wrong:  # each mistake alone shows at the output
            alone = {**dict(zip([f"g{k}" for k in range(20)], circuit.gates)), n: beliefs[n]}
            assert any(evaluate(alone, x, circuit.output) != circuit.value(x) for x in inputs_of(5))
    assert random_circuit(random.Random(1), 20, 5) == random_circuit(random.Random(1), 20, 5)


def test_h_computes_what_the_beliefs_say_looking_up_each_gate(tmp_path):
    task = get("circuit")
    circuit, beliefs = world(0)
    db = ExperienceDB(tmp_path / "c.sqlite")
    add_facts(task, db)
    wrong = 0
    for x in inputs_of(5):
        tree = ida.run(question(x), task.policy, db=db)
        assert tree.answer == str(evaluate(beliefs, x, circuit.output))
        lookups = [s.lookup.query for n in tree.nodes for s in n.steps if s.lookup]
        assert sorted(set(lookups) - {"output"}, key=lambda g: int(g[1:])) == sorted(
            {n.question.text().split()[2] for n in tree.nodes[1:]}, key=lambda g: int(g[1:]))
        wrong += tree.answer != task.truth(question(x))
    assert wrong == 32 - agreement(db, circuit) > 0
    with pytest.raises(Exception, match="only its output"):
        task.truth("what is g3 on x=01011?")


def _gate_node(tmp_path, definition: str, a: str, b: str):
    """A gate node reading g1 and g2 whose answers are a and b, as H would have run it."""
    db = ExperienceDB(tmp_path / "one.sqlite")
    for text in (definition, "g1 = AND(x0, x0)", "g2 = AND(x1, x1)"):
        db.add(text.split()[0], text)
    x = a + b + "000"  # g1 reads x0, g2 reads x1: their values are the first two bits
    tree = ida.run(f"what is g5 on x={x}?", get("circuit").policy, db=db)
    return NodeContext(tree.root_node, tree), tree


def test_the_gate_rule_pushes_down_where_the_function_settles_it_and_lists_guesses(tmp_path):
    ctx, tree = _gate_node(tmp_path, "g5 = AND(g1, g2)", "1", "0")
    assert ctx.answer == "0"
    b: Blame = gate_rule(ctx, "1")
    g2 = next(c.id for c in ctx.children() if "g2" in c.question.text())
    assert b.targets == {g2: "1"}  # AND should give 1: the input that is 0 must be 1; x inputs are given
    texts = [c.edits[0].text for c in b.candidates]
    assert "g5 = OR(g1, g2)" in texts and "g5 = NOR(g1, g2)" not in texts  # NOR(1, 0) = 0: cannot give 1
    assert all(distance(Gate("AND", "g1", "g2"), Gate(*_parse(t))) == 1 for t in texts)

    ctx, _ = _gate_node(tmp_path / "2", "g5 = AND(g1, g2)", "1", "1")
    b = gate_rule(ctx, "0")
    assert set(b.targets.values()) == {"0"} and len(b.targets) == 2  # either input alone could be wrong
    assert "each of these alone" in b.note


def _parse(text: str) -> tuple[str, str, str]:
    op, rest = text.split(" = ")[1].split("(")
    a, b = rest.rstrip(")").split(", ")
    return op, a, b


def test_a_missing_definition_is_guessed_from_every_definition_there_is(tmp_path):
    db = ExperienceDB(tmp_path / "m.sqlite")
    tree = ida.run("what is g2 on x=10110?", get("circuit").policy, db=db)
    assert tree.answer.startswith("failed: no definition of g2")
    b = gate_rule(NodeContext(tree.root_node, tree), "1")
    assert b.note.startswith("no definition of g2")
    assert {e.op for c in b.candidates for e in c.edits} == {"add"}
    bit = {f"x{i}": int(c) for i, c in enumerate("10110")}
    # every definition, less those that read two inputs whose values it can see give 0
    expected = [g for g in all_gates(2, 5) if not (g.a in bit and g.b in bit and OPS[g.op](bit[g.a], bit[g.b]) != 1)]
    assert [c.edits[0].text for c in b.candidates] == [f"g2 = {g.op}({g.a}, {g.b})" for g in expected]
    assert len(expected) < len(all_gates(2, 5))


@pytest.mark.parametrize("seed", [4, 9])  # seed 4 needs an early guess taken back
def test_the_fix_loop_fed_observations_one_by_one_recovers_the_circuit(tmp_path, seed):
    r = recover(tmp_path / "c.sqlite", seed=seed)
    circuit, _ = world(seed)
    assert r.agreed_at_start < 32 and r.recovered and r.fixed >= 1 and r.unfixed == 0
    assert r.observations_to_agree is not None and r.observations_to_agree <= r.observations
    assert r.forward_runs > r.observations and r.guess_runs > 0 and r.overseer_calls > 0
    with ExperienceDB(tmp_path / "c.sqlite") as db:  # checked again through H itself, on every input
        task = get("circuit")
        assert all(ida.run(question(x), task.policy, db=db).answer == str(circuit.value(x)) for x in inputs_of(5))
        guesses = [e for e in db.entries() if e.author == "overseer:rules+guess"]
        assert len(guesses) >= 1


def test_nearby_definitions_are_one_detail_away_nearest_first():
    gate = Gate("AND", "g3", "x2")
    near = nearby(7, 5, gate)
    assert all(distance(g, gate) == 1 for g in near) and gate not in near
    assert len(near) == 4 + 2 * (5 + 7 - 2)  # another type, or one input read from another of the 12 sources
    farther = [distance(g, gate) for g in nearby(7, 5, gate, most=2)]
    assert farther == sorted(farther) and set(farther) == {1, 2}


def test_run_and_fix_circuit_through_the_cli(cli, tmp_path):
    r = cli("run", "circuit", "--seed", "11", "--db", "c.sqlite", "--add-facts", "--depth", "1")
    assert r.returncode == 0, r.stderr
    assert "wrong" in r.stdout and "nodes: 19" in r.stdout

    linear = cli("fix", "circuit", "--seed", "11", "--db", "c.sqlite", "--overseer", "rules", "--out", "lin")
    assert linear.returncode == 1 and "not fixed after 1 round(s), 0 database edit(s)" in linear.stdout

    r = cli("fix", "circuit", "--seed", "11", "--db", "c.sqlite", "--overseer", "rules", "--guess", "500",
            "--out", "fix")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fixed after 2 round(s), 1 database edit(s)" in r.stdout and "forward run(s) checking guesses" in r.stdout
    assert "guess and check:" in r.stdout and "guessed; checked: the root comes out" in r.stdout
    (report,) = [json.loads(p.read_text()) for p in (tmp_path / "fix").glob("*.report.json")]
    assert 0 < report["forward_runs"] <= 500 and report["forward_budget"] == 500
    assert report["overseer"] == "rules+guess" and report["applied"]["entries"][0]["author"] == "overseer:rules+guess"

    r = cli("run", "circuit", "--seed", "11", "--db", "c.sqlite")
    assert "correct" in r.stdout and "wrong" not in r.stdout


def test_guess_and_check_over_blame_trees_recovers_as_the_rules_do(tmp_path):
    """The overseer as a tree: the circuit's blame scripts, alternatives included, answer each
    blame question, and the fix loop takes the same path as over the rules."""
    from ida.overseer.policy_overseer import PolicyOverseer
    from ida.overseer.scripts import for_task

    scripted = recover(tmp_path / "s.sqlite", seed=9, inner=lambda task, db: PolicyOverseer(for_task("circuit")))
    rules = recover(tmp_path / "r.sqlite", seed=9)
    assert scripted.recovered and rules.recovered and scripted.guess_runs > 0
    same = ("observations", "observations_to_agree", "fixed", "unfixed", "forward_runs", "guess_runs",
            "overseer_calls", "edits", "identified")
    assert {k: getattr(scripted, k) for k in same} == {k: getattr(rules, k) for k in same}


def test_fix_circuit_with_blame_trees_through_the_cli(cli, tmp_path):
    assert cli("run", "circuit", "--seed", "11", "--db", "s.sqlite", "--add-facts").returncode == 0
    r = cli("fix", "circuit", "--seed", "11", "--db", "s.sqlite", "--overseer", "script", "--guess", "500", "--out", "fx")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fixed after 2 round(s), 1 database edit(s)" in r.stdout and "blame trees" in r.stdout
    (report,) = [json.loads(p.read_text()) for p in (tmp_path / "fx").glob("*.report.json")]
    assert report["overseer"] == "policy:blame-script:circuit+guess" and report["blame_trees"] > 0
    assert any((tmp_path / "fx").glob("*.blame/*.jsonl"))  # the blame trees, beside the report


def test_observe_feeds_every_input_and_recovers_the_circuit_through_the_cli(cli, tmp_path):
    r = cli("observe", "circuit", "-n", "32", "--guess", "1000", "--db", "o.sqlite", "--add-facts", "--out", "obs.json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "right now on 32 of 32 question(s)" in r.stdout and "wrong, fixed" in r.stdout
    made = json.loads((tmp_path / "obs.json").read_text())
    assert len({o["question"] for o in made}) == 32 and any(o["guess_runs"] > 0 for o in made)
    circuit, _ = world(0)
    assert all(o["answer"] == str(circuit.value(o["question"].split("=")[1][:-1])) for o in made)  # the box's answers
    # without guessing, the linear pass cannot place the blame: some stay wrong, exit 1
    r = cli("observe", "circuit", "-n", "32", "--db", "lin.sqlite", "--add-facts", "--sweeps", "1")
    assert r.returncode == 1 and "wrong, not fixed" in r.stdout and "right now on 32 of 32" not in r.stdout
    r = cli("observe", "circuit", "--db", "o.sqlite", "--out", "obs.json")
    assert r.returncode == 2 and "never overwritten" in r.stderr and "Traceback" not in r.stderr


def test_backward_guesses_over_blame_trees_with_the_trees_own_task(cli, tmp_path):
    assert cli("run", "circuit", "--seed", "11", "--db", "b.sqlite", "--add-facts", "--out", "t.jsonl").returncode == 0
    r = cli("backward", "t.jsonl", "--target", "1", "--overseer", "script", "--guess", "500", "--db", "b.sqlite")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "guess and check:" in r.stdout and "guessed; checked: the root comes out" in r.stdout

"""H': a distilled decomposer running whole trees, the task's H on primitive questions, scored by difficulty."""

import re

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from typer.testing import CliRunner  # noqa: E402

import ida  # noqa: E402
from ida.distill import DistilledPolicy, policy_pairs, scripted_policy_pairs, split, train  # noqa: E402
from ida.cli import app as ida_app  # noqa: E402
from ida.distill.evaluate import WithPrimitives, evaluate_task  # noqa: E402
from ida.tasks import get as get_task  # noqa: E402
from ida.tasks.permutation import QUESTION  # noqa: E402

N = 10  # evaluation questions


def h_trees(name, seeds, size=None):
    task = get_task(name)
    return task, [ida.run(task.instance(s, size).question, task.policy, task=name) for s in seeds]


# ---- (a) difficulty, primitive and baseline on the tasks' own questions ----------------------------


def test_generated_questions_are_unchanged():
    assert get_task("permutation").instance(0).question == "what is p^6(1) for p = [0->0 1->2 2->1 3->3]?"
    assert get_task("multiply").instance(1).question == "What is 410 * 7014?"


def test_permutation_difficulty_is_the_exponent_and_the_baseline_is_x():
    task, trees = h_trees("permutation", range(20))
    assert task.difficulty_name == "exponent"
    for tree in trees:
        q = tree.root_node.question.text()
        k, x, _ = QUESTION.fullmatch(q).groups()
        assert task.difficulty(q) == int(k) >= 2 and task.baseline(q) == x and not task.primitive(q)
        for n in tree.nodes:  # primitive: exactly the σ^1 nodes, which unlock the facts and reply
            assert task.primitive(n.question.text()) == (task.difficulty(n.question.text()) == 1)


def test_multiply_primitive_is_exactly_what_h_answers_by_hand():
    task, trees = h_trees("multiply", range(10))
    assert task.difficulty_name == "digits" and task.baseline is None
    kinds = set()
    for tree in trees:
        assert task.difficulty(tree.root_node.question.text()) == 3  # default size: 3-digit first factor
        for n in tree.nodes:
            q = n.question.text()
            by_hand = len(n.steps) == 1 and n.steps[0].action.startswith("reply")
            assert task.primitive(q) == by_hand, q
            kinds.add((" + " in q, by_hand))
    assert kinds == {(False, False), (False, True), (True, True)}  # products both ways, sums by hand
    assert task.difficulty("What is 12 + 30 + 4?") == 3 and task.primitive("What is 12 + 30 + 4?")
    assert task.primitive("What is 7000 * 123?") and not task.primitive("What is 7001 * 123?")


@pytest.mark.parametrize("name", ["sorted", "length"])
def test_list_tasks_difficulty_is_the_length_and_nothing_is_primitive(name):
    for size in (1, 3, 6):
        task, trees = h_trees(name, range(5), size)
        assert task.difficulty_name == "items"
        for tree in trees:
            assert task.difficulty(tree.root_node.question.text()) == size
            assert not any(task.primitive(n.question.text()) for n in tree.nodes)
    assert task.difficulty("garbage") == 0


def test_scripted_trees_match_transcripts_read_with_skip(tmp_path):
    task, trees = h_trees("permutation", range(12))
    for i, tree in enumerate(trees):
        tree.save(tmp_path / f"q{i:02}.jsonl")
    pairs = scripted_policy_pairs(task, 12, seed=0)
    assert pairs == policy_pairs(tmp_path, skip=task.primitive)
    assert not any(task.primitive(p.question) for p in pairs)
    every = policy_pairs(tmp_path)  # without skip, the primitive nodes' steps are there too
    assert any(task.primitive(p.question) for p in every) and set(pairs) < set(every)


# ---- (b) a real, briefly trained H' runs whole trees -------------------------------------------


@pytest.fixture(scope="module")
def hprime(tmp_path_factory):
    """H' for permutation: 150 steps on H's trees of 300 questions, primitive nodes left to H."""
    tr, ho = split(scripted_policy_pairs("permutation", 300, seed=0), 0.1, 0)
    out = tmp_path_factory.mktemp("hprime") / "run"
    result = train(tr, ho, out, size="tiny", steps=150, batch_size=32, eval_every=75, progress=False, mode="policy")
    return out, result


@pytest.mark.slow
def test_hprime_runs_whole_trees_with_h_on_primitives(hprime):
    _, result = hprime
    s = evaluate_task(DistilledPolicy(result.best_dir), "permutation", N, seed=1000, budget=200)
    assert isinstance(s.failures, int) and s.failures >= 0
    assert sum(r.questions for r in s.by_difficulty) == N == s.questions
    assert sum(r.right for r in s.by_difficulty) == round(s.accuracy * N)
    assert [r.difficulty for r in s.by_difficulty] == sorted({r.difficulty for r in s.by_difficulty})
    assert s.difficulty_name == "exponent" and s.baseline is not None and all(r.baseline is not None for r in s.by_difficulty)
    assert s.h_calls and s.h_calls > 0 and s.actions_per_question > 1  # H answered σ^1; the model decomposed
    assert s.accuracy > 0  # some root answer is right: a whole tree came out right


def test_with_primitives_sends_primitives_to_h_and_the_rest_to_the_model():
    task = get_task("permutation")

    class Model:  # a stand-in for H' that decomposes σ^2 only
        name = "m"

        def act(self, ws):
            k = QUESTION.fullmatch(ws.question_text).group(1)
            assert k == "2", "σ^1 must go to H"
            return "ask what is p^1(0) for p = $1?" if "answer" not in ws.render() else "reply 7"

    actor = WithPrimitives(Model(), task)
    tree = ida.run("what is p^2(0) for p = [0->1 1->0]?", actor)
    assert tree.answer == "7" and actor.h_calls == 1 and actor.calls == len(tree.root_node.steps) + 2
    assert tree.nodes[1].answer_text == "1"  # H read σ(0) off the facts


# ---- (c) garbage is counted, never raised ------------------------------------------------------


@pytest.mark.slow
def test_truncated_model_output_is_counted_as_failures(hprime):
    _, result = hprime
    pol = DistilledPolicy(result.best_dir, max_new=2)  # never room to finish a command: garbage every time
    s = evaluate_task(pol, "permutation", 3, budget=20)
    assert s.failures >= 3 and s.accuracy == 0.0 and sum(r.questions for r in s.by_difficulty) == 3


class _Nonsense:
    """A model stand-in whose commands parse but make H's script choke."""

    name, failures, calls = "nonsense", 0, 0
    last_failed, last_confidence = False, 0.0

    def __init__(self, mode, action):
        self.mode, self.action = mode, action

    def act(self, ws):
        self.last_confidence = 1.0 if ws.depth > 0 else 0.0  # an answer model sure of every subquestion
        return self.action


def test_h_choking_on_the_models_output_is_a_counted_failure():
    # σ^1(9) of a 4-element permutation: H's lookup in the facts fails (KeyError)
    s = evaluate_task(_Nonsense("policy", "ask what is p^1(9) for p = $1?"), "permutation", 4)
    assert s.failures == s.script_errors == 4 and s.accuracy == 0.0 and s.actions_per_question >= 1
    # length-H decomposes where the answer model defers, then reads int("x") from its confident subanswer
    s = evaluate_task(_Nonsense("answer", "reply x"), "length", 3, threshold=0.5)
    assert s.failures == s.script_errors == 3 and s.accuracy == 0.0 and s.defer_rate is not None


# ---- (d) the CLI -------------------------------------------------------------------------------


@pytest.mark.slow
def test_ida_eval_prints_the_by_difficulty_table(hprime):
    out, _ = hprime
    app = ida_app
    r = CliRunner().invoke(app, ["eval", str(out), "permutation", "--n", "5", "--threads", "1"], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "permutation: 5 questions" in r.output and "calls to H" in r.output
    assert "permutation by exponent" in r.output and "trivial answer" in r.output
    rows = [m for m in re.finditer(r"│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+) \(", r.output)]
    assert rows and sum(int(m.group(2)) for m in rows) == 5
    assert "trivial answer baseline:" in r.output

import sys

import pytest

import ida
from ida.actions import failed
from ida.tasks import get


@ida.scripted
def countdown(ws):
    """`count down from N`: asks for N-1 until 0; a chain as deep as N."""
    n = int(ws.question_text.split()[-1])
    if n == 0:
        return "done"
    return (yield f"ask count down from {n - 1}")


def test_a_chain_deeper_than_the_recursion_limit():
    depth = 10_000
    assert depth > sys.getrecursionlimit()
    tree = ida.run(f"count down from {depth}", countdown, max_depth=depth + 1)
    assert tree.answer == "done" and len(tree) == depth + 1
    assert tree.nodes[-1].depth == depth


def test_depth_limit_gives_failure_answers_not_exceptions():
    tree = ida.run("count down from 50", countdown, max_depth=10)
    assert failed(tree.answer)
    deepest = tree.nodes[-1]
    assert deepest.depth == 10 and "depth limit 10" in deepest.steps[0].result


def test_budget_exhaustion_unwinds_every_open_node():
    tree = ida.run("count down from 50", countdown, budget=20)
    assert tree.answer == "failed: budget exhausted"
    assert sum(len(n.steps) for n in tree.nodes) == 20
    assert all(n.failure == "budget exhausted" for n in tree.nodes)


@ida.scripted
def loopy(ws):
    answer = yield f"ask {ws.question_text}"  # asks its own question again
    return f"got {answer}"


def test_a_question_that_is_its_own_ancestor_is_a_loop():
    tree = ida.run("what is the meaning of this?", loopy)
    assert len(tree) == 1
    assert tree.answer == "got failed: loop: the question is its own ancestor"


@ida.scripted
def fib(ws):
    n = int(ws.question_text.split()[-1])
    if n < 2:
        return str(n)
    a = yield f"ask fib {n - 1}"
    b = yield f"ask fib {n - 2}"
    return str(int(a) + int(b))


def test_memoization_turns_an_exponential_tree_into_a_dag():
    tree = ida.run("fib 25", fib)
    assert tree.answer == "75025"
    assert len(tree) == 26  # one node per distinct question, not ~250,000
    g = tree.to_networkx()
    assert g.number_of_nodes() == 26 and g.in_degree(23) == 2  # fib 23 is asked by fib 25 and fib 24


def test_without_memo_every_path_is_a_node():
    tree = ida.run("fib 10", fib, memo=False)
    assert tree.answer == "55" and len(tree) == 177


def test_malformed_actions_cost_a_step_and_are_shown():
    @ida.scripted
    def clumsy(ws):
        r1 = yield "fly away"
        r2 = yield "unlock $9"
        r3 = yield "ask about [unclosed"
        return f"{r1.startswith('error:')} {r2.startswith('error:')} {r3.startswith('error:')}"

    tree = ida.run("test", clumsy)
    assert tree.answer == "True True True"
    ws = tree.root_node.workspace_at(3)
    assert "error: unknown command 'fly'" in ws and "error: unknown pointer $9" in ws and "never closed" in ws


def test_pointers_are_locked_until_unlocked_and_answers_flow_back():
    t = get("sorted")
    tree = ida.run("is the list [1 [2 [3 []]]] sorted from least to greatest?", t.policy)
    assert tree.answer == "yes"
    root = tree.root_node
    assert root.workspace_at(0) == "question: is the list $1 sorted from least to greatest?"
    assert root.workspace_at(2).splitlines() == [
        "question: is the list $1 sorted from least to greatest?",
        "> unlock $1", "$1: 1 $2", "> unlock $2", "$2: 2 $3",
    ]
    # the child sees its list as $1: equal content renders equally at every level
    child = tree.nodes[root.children[0]]
    assert child.workspace_at(0) == root.workspace_at(0)


def test_multiply_tree_from_the_issue():
    tree = ida.run("What is 351 * 5019?", get("multiply").policy)
    assert tree.answer == "1761669"
    assert [n.question.text() for n in tree.nodes[1:]] == [
        "What is 300 * 5019?", "What is 50 * 5019?", "What is 1 * 5019?", "What is 1505700 + 250950 + 5019?"]


def test_length_task_example():
    tree = ida.run("What is the length of [cons [1] [cons [2] [nil]]]?", get("length").policy)
    assert tree.answer == "2"


@pytest.mark.parametrize("name", ["multiply", "sorted", "length", "permutation"])
def test_scripted_h_matches_ground_truth_on_many_instances(name):
    task = get(name)
    for seed in range(40):
        for size in (1, 2, task.default_size, 8):
            inst = task.instance(seed, size)
            tree = ida.run(inst.question, task.policy, task=name)
            assert tree.answer == inst.answer, (inst.question, tree.answer)


def test_permutation_memo_costs_about_log_k_nodes():
    task = get("permutation")
    q = "what is p^15(1) for p = [0->3 1->0 2->1 3->2 4->5 5->7 6->4 7->6]?"
    tree = ida.run(q, task.policy)
    assert tree.answer == task.solve(q)
    assert len(tree) <= 2 * 4 + 2  # about two distinct questions per halving of k


def test_unknown_task_is_a_user_error():
    with pytest.raises(ida.IdaError, match="unknown task"):
        get("juggling")

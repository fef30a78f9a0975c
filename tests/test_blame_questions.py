"""The blame question and the blame answer's syntax: what a blame node sees, and what it may say."""

import pytest

import ida
from ida.experience import ExperienceDB
from ida.hypertext import parse
from ida.overseer import Blame, Correction, Edit, backward
from ida.overseer.faults import Lying
from ida.overseer.policy_overseer import PolicyOverseer
from ida.overseer.questions import (
    BlameSyntaxError, blame_question, format_blame, is_blame_question, parse_blame, raw_text, reply_arg, resolve,
)
from ida.tasks import add_facts, get


def length_tree(size=3, lie_at=None):
    task = get("length")
    q = task.instance(0, size).question
    policy = task.policy
    if lie_at is not None:
        honest = ida.run(q, policy)
        node = honest.nodes[lie_at]
        policy = Lying(policy, node.question.text(), str(int(node.answer_text) + 2))
    return ida.run(q, policy), task.solve(q)


@ida.scripted(name="reader")
def unlock_all(ws):
    """Unlock every pointer once, then reply what it saw: a reader of the question, as a person would."""
    n = 1
    while n <= len(ws.names):
        yield f"unlock ${n}"
        n += 1
    return "none read everything"


def test_the_question_hides_the_node_behind_pointers_and_the_reader_finds_it_all():
    tree, truth = length_tree(3, lie_at=1)
    root = tree.root_node
    q = blame_question(root, truth, tree)
    assert is_blame_question(q) and not is_blame_question(parse("blame: node x"))
    blame_tree = ida.run(q, unlock_all)
    lines = blame_tree.root_node.lines
    assert lines[0] == "question: blame: node $1 answered $2 should answer $3; saw $4"
    assert "$1: What is the length of $5?" in lines  # the question's list stays behind its own pointer
    assert "$2: 5" in lines and "$3: 3" in lines  # answered 5 (the lie came up), should answer 3
    assert "$4: 0: unlock $5; 1: ask $6 answered $7; 2: reply $2" in lines  # the reply is the answer: one pointer
    child = tree.nodes[root.children[0]]
    assert f"$7: {child.answer_text}" in lines
    assert "$5: cons $8 $9" in lines  # what the node unlocked is the same message as its question's list


def test_a_node_that_gives_its_target_reads_the_same_pointer_twice():
    tree, _ = length_tree(2)
    q = blame_question(tree.root_node, tree.answer, tree)
    assert ida.run(q, unlock_all).root_node.lines[0] == "question: blame: node $1 answered $2 should answer $2; saw $3"


def test_lookups_show_their_entries_with_ids_keys_and_texts(tmp_path):
    task = get("weights")
    with ExperienceDB(tmp_path / "x.sqlite") as db:
        add_facts(task, db)
        tree = ida.run("What is the total weight of [plum] in grams?", task.policy, db=db)
    lookup = tree.nodes[1]
    entry = lookup.steps[0].lookup.found[0]
    text = blame_question(lookup, "61", tree).text()
    assert f"saw [0: lookup [plum] found [e{entry.id} [plum] [a plum weighs 60 grams]]; 1: reply [60]]" in text


@pytest.mark.parametrize("line", [
    "ok", "target 1 4", "target 1 4; target 3 yes", "add vase: vases are fragile; move slowly near them",
    "edit e12 a plum weighs 60 grams; correct 2 reply 9", "rm e4", "none the total cannot say which part",
    "correct 0 unlock $2", "target 2 5; maybe target 0 3; maybe target 0 4",
    "none the definition could be wrong; maybe edit e7 g7 = OR(g3, x2); maybe target 1 0; add g8: g8 = AND(x1, x2)",
])
def test_format_gives_back_the_line_it_parses(line):
    assert format_blame(parse_blame(line)) == line


def test_a_semicolon_in_a_sentence_stays_in_it():
    b = parse_blame("add vase: vases are fragile; move slowly near them; target 2 carefully")
    assert [(e.op, e.key, e.text) for e in b.edits] == [("add", "vase", "vases are fragile; move slowly near them")]
    assert b.targets == {2: "carefully"}


@pytest.mark.parametrize("line, says", [
    ("", "empty blame"), ("blame it on the rain", "unknown clause 'blame'"), ("target one 4", "target <step>"),
    ("edit 12 text", "edit e<id>"), ("ok; target 1 2", "stand alone"), ("none x; rm e1", "stand alone"),
    ("correct 1 dance", "not an action"), ("target 1 2; target 1 3", "two targets"),
    ("correct 1 reply 2; correct 2 reply 3", "one correction"), ("add no colon here", "add <key>: <sentence>"),
    ("ok\ntarget 1 2", "one line"), ("maybe target 1 2", "comes before its alternatives"),
    ("ok; maybe target 1 2", "no alternatives"), ("target 1 2; maybe none x", "an alternative"),
    ("target 1 2; maybe target one 3", "target <step>"),
])
def test_malformed_lines_say_what_is_wrong(line, says):
    with pytest.raises(BlameSyntaxError, match=says.replace("(", r"\(")):
        parse_blame(line)


def test_alternatives_follow_the_blame_likeliest_first():
    b = parse_blame("target 2 5; maybe target 0 3; maybe target 0 4; correct 1 reply 9")
    assert b.targets == {2: "5"} and not b.edits
    assert [(c.targets, c.correction and c.correction.action) for c in b.candidates] == [
        ({0: "3"}, None), ({0: "4"}, "reply 9")]  # a clause after `maybe` belongs to it, up to the next


def test_resolve_names_children_and_checks_every_reference(tmp_path):
    tree, _ = length_tree(3)
    root = tree.root_node
    child = root.children[0]
    assert resolve(parse_blame("target 1 7"), root, tree).targets == {child: "7"}
    assert resolve(parse_blame("none x; maybe target 1 6"), root, tree).candidates[0].targets == {child: "6"}
    for line, says in [("target 0 7", "asked no subquestion"), ("target 9 7", "no step 9"),
                       ("correct 2 " + root.steps[2].action, "already did"), ("edit e3 x", "not an entry"),
                       ("correct 5 reply 1", "no step 5"), ("target 1 7; maybe target 0 6", "asked no subquestion")]:
        with pytest.raises(BlameSyntaxError, match=says):
            resolve(parse_blame(line), root, tree)
    task = get("weights")
    with ExperienceDB(tmp_path / "x.sqlite") as db:
        add_facts(task, db)
        w = ida.run("What is the total weight of [plum] in grams?", task.policy, db=db)
    eid = w.nodes[1].steps[0].lookup.found[0].id
    b = resolve(parse_blame(f"edit e{eid} a plum weighs 61 grams"), w.nodes[1], w)
    assert [(e.op, e.entry_id, e.text) for e in b.edits] == [("edit", eid, "a plum weighs 61 grams")]


def test_a_reply_with_specials_comes_back_as_written():
    for line in ["correct 0 unlock $2", "add k: a [bracket] and a \\ backslash", "target 1 $5"]:
        assert raw_text(parse(reply_arg(line))) == line


def script(line):
    @ida.scripted(name="says")
    def says(ws):
        yield "unlock $4"
        return reply_arg(line)

    return says


def test_malformed_or_failed_blames_are_unexplained_nodes_never_a_crash():
    tree, truth = length_tree(3, lie_at=2)
    for line in ["target 0 7", "blame it on the rain", "failed: gave up"]:
        overseer = PolicyOverseer(script(line))
        report = backward(tree, truth, overseer)
        (visit,) = report.visits
        assert report.unexplained == [visit] and overseer.malformed == 1
        assert "malformed" in visit.blame.note or "failed" in visit.blame.note

    @ida.scripted(name="raises")
    def raises(ws):
        yield "unlock $1"
        raise KeyError("nothing here")

    report = backward(tree, truth, PolicyOverseer(raises))
    assert "KeyError" in report.visits[0].blame.note and len(report.unexplained) == 1


def test_a_well_formed_blame_is_the_nodes_blame_with_its_provenance():
    tree, truth = length_tree(3, lie_at=2)
    overseer = PolicyOverseer(script("target 1 2; add lists: count the cells"))
    report = backward(tree, truth, overseer)
    child = tree.root_node.children[0]
    root_blame = report.visits[0].blame
    assert root_blame.targets == {child: "2"}
    assert root_blame.edits == [Edit("add", key="lists", text="count the cells", reason=root_blame.edits[0].reason,
                                     node=0)]
    assert root_blame.tree.run_id in root_blame.edits[0].reason  # the edit says which blame tree made it
    assert Blame(correction=Correction(2, "reply 3")).blamed

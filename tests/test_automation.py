"""Automation as a versioned store, corrections carried into it, and what a person's screen may show.

The sessions are played by the people of test_session.py (pure functions of what a person
sees), plus a careless one who judges a pair after seeing only its first element.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest

import ida
from ida.hypertext import PointerNames, parse
from ida.overseer import Blame, Correction, apply, backward
from ida.overseer.saved import save_report
from ida.policies.memo import Automation, AutomationError, Origin
from ida.seen import FOREIGN, in_terms_of, seen_from, seen_question
from ida.session import SessionStore, policy_suggester
from ida.tree import Node, Tree

sys.path.insert(0, str(Path(__file__).parent))
from test_session import (  # noqa: E402
    MULTIPLY_Q, SORTED, SORTED_Q, Player, length_person, length_question, play, sorted_person,
    sorted_question,
)

Q = sorted_question([1, 3, 2])  # not sorted: 3 > 2


def careless(p):
    """sorted_person, but a pair is judged `yes` after seeing only its first element."""
    if p.question.startswith("are the first") and len(p.unlocked) == 1 and not p.unlocked[0].endswith(" is empty"):
        return f"reply yes, then {p.unlocked[0].split()[-1]}"
    return sorted_person(p)


def unlock_first(p):
    """The other style: unlock the head and the next cell, compare, then ask about the tail."""
    u = p.unlocked
    if p.subquestions:
        return f"reply {p.subquestions[-1][1]}"
    if not u:
        return "unlock $1"
    if u[-1].endswith(" is empty"):
        return "reply yes"
    if len(u) == 1:
        return f"unlock {u[0].split()[-1]}"
    a, b = int(u[0].split()[1]), int(u[1].split()[1])
    return "reply no" if a > b else f"ask is the list {u[0].split()[-1]}{SORTED}"


class Says:
    """An overseer that says, per node id, what a person at the `blame>` prompt would."""

    name = "test"

    def __init__(self, blames: dict[int, Blame]) -> None:
        self.blames = blames

    def blame(self, node: Node, target: str, tree: Tree) -> Blame:
        return self.blames.get(node.id, Blame(ok=True))


def careless_session(store: SessionStore, tmp_path: Path):
    info = store.create(Q, transcript=tmp_path / "careless.jsonl")
    _, tree = play(store, info, Player(careless))
    assert tree.answer == "yes"  # wrong
    # #0 the list, #1 its first pair (1, 3: right), #2 the tail [3 [2 []]], #3 its pair, judged yes unseen
    assert [n.steps[-1].action for n in tree.nodes[:4]] == ["reply yes", "reply yes, then $2", "reply yes",
                                                            "reply yes, then $2"]
    return info, tree


def correct(tree: Tree, node: int, step: int, action: str) -> Says:
    """Blame the path root -> #2 -> #3 (the pair 3, 2), and correct `node` at `step`."""
    blames = {0: Blame(targets={2: "no"}), 2: Blame(targets={3: "no"}), 3: Blame()}
    blames[node] = Blame(correction=Correction(step, action), targets=blames.get(node, Blame()).targets)
    return Says(blames)


# ---- the store -----------------------------------------------------------------------------


def test_automation_entries_have_authors_provenance_history_and_revert(tmp_path):
    with Automation(tmp_path / "auto.sqlite") as auto:
        ws = "question: are the first two elements of $1 in order?\n> unlock $1\n$1: 3 $2"
        a = auto.put(ws, "reply yes, then $2", Origin(author="person", run="s1", node=3, step=1))
        assert auto.get(ws) == "reply yes, then $2" and auto.put(ws, "reply yes, then $2") == a  # no change, no event
        edited = auto.edit(f"a{a}", "unlock $2", Origin(author="overseer:human", run="s1", node=3, step=1,
                                                       reason="look at the second element"))
        assert edited.action == "unlock $2" and edited.origin.author == "overseer:human"
        with pytest.raises(AutomationError, match=r"unknown pointer \$3 \(this workspace has 2\)"):
            auto.edit(a, "unlock $3")
        with pytest.raises(AutomationError, match="unknown pointer"):
            auto.edit(a, "reply $7")
        with pytest.raises(AutomationError, match="unknown command"):
            auto.edit(a, "frobnicate")
        assert auto.forget(edited.key, origin=Origin(author="person", reason="ask me")) and auto.get(ws) is None
        assert len(auto) == 0 and [e.id for e in auto.records(forgotten=True)] == [a]
        back = auto.revert(a)  # the state before the forget: the overseer's action, with its author
        assert back.live and back.action == "unlock $2" and back.origin.author == "overseer:human"
        first = auto.history(a)[0].revision
        assert auto.revert(a, first).action == "reply yes, then $2"
        assert auto.entry(a).origin.where() == "s1 #3 step 1" and auto.entry(a).origin.author == "person"
        history = auto.history(a)
        assert [e.kind for e in history] == ["add", "edit", "forget", "revert", "revert"]
        assert [e.action for e in history] == ["reply yes, then $2", "unlock $2", None, "unlock $2",
                                               "reply yes, then $2"]
        assert history[2].origin.reason == "ask me" and auto.revision == 5
        assert not auto.revert(a, history[2].revision).live and auto.get(ws) is None  # back to forgotten
        for bad, words in (("a99", "no automation entry a99"), ("x1", "bad automation entry")):
            with pytest.raises(AutomationError, match=words):
                auto.entry(bad)
        with pytest.raises(AutomationError, match="did not exist at revision 0"):
            auto.revert(a, 0)


def test_a_persons_entry_names_the_session_node_and_step(tmp_path):
    with SessionStore(tmp_path / "s.sqlite") as store:
        info, tree = careless_session(store, tmp_path)
        pair = store.automation.find(tree.nodes[3].workspace_at(1))
        assert pair.action == "reply yes, then $2" and pair.origin == Origin(author="person", run=info.id, node=3, step=1)


# ---- corrections reach automation ------------------------------------------------------------


def test_a_correction_is_replayed_and_the_person_is_asked_where_it_leads(tmp_path):
    with SessionStore(tmp_path / "s.sqlite") as store:
        info, tree = careless_session(store, tmp_path)
        report = backward(tree, "no", correct(tree, 3, 1, "unlock $2"))
        applied = apply(report, None, tmp_path / "corrections", automation=store.automation)
        [change] = applied.automation
        assert (change.kind, change.node, change.step, change.action) == ("set", 3, 1, "unlock $2")
        entry = store.automation.entry(change.entry)
        assert entry.origin.author == "overseer:test" and entry.origin.where() == f"{info.id} #3 step 1"
        assert "feedback: no" in entry.origin.reason
        assert [e.kind for e in store.automation.history(entry.id)] == ["add", "edit"]
        saved = json.loads(save_report(report, tmp_path / "r.json", applied).read_text())
        assert saved["applied"]["automation"][0]["action"] == "unlock $2"

        # The same question again: automation replays up to the corrected step, which opens a
        # workspace nobody has seen; the person is asked there and in what it changes above.
        again = store.create(Q, transcript=tmp_path / "again.jsonl")
        player = Player(sorted_person)
        s, tree2 = play(store, again, player)
        assert tree2.answer == "no"
        assert player.typed == ["reply no", "reply no", "reply no"] and s.human.shown == 3
        first_shown = s.output[s.output.index("╭"):]
        assert "$1: 3 $2" in first_shown and "$2: 2 $3" in first_shown.split("╰")[0]


def test_a_reply_from_a_workspace_that_opened_nothing_asks_the_person_again(tmp_path):
    with SessionStore(tmp_path / "s.sqlite") as store:
        info = store.create(Q, transcript=tmp_path / "guess.jsonl")
        _, tree = play(store, info, Player(lines=["reply yes"]))  # answered without looking
        assert store.automation.get(tree.nodes[0].workspace_at(0)) == "reply yes"
        report = backward(tree, "no", Says({0: Blame(correction=Correction(0, "reply no"))}))
        [change] = apply(report, None, automation=store.automation).automation
        assert change.kind == "forget" and "opened nothing" in change.why
        # Not `reply no` for every list: the person is asked again, and looks this time.
        s, tree2 = play(store, store.create(Q), Player(sorted_person))
        assert tree2.answer == "no" and s.human.shown > 1
        assert s.output.index("workspace #0") < s.output.index("workspace #1")


def test_a_correction_that_writes_out_locked_content_asks_the_person_again(tmp_path):
    with SessionStore(tmp_path / "s.sqlite") as store:
        _, tree = careless_session(store, tmp_path)
        # #3 had unlocked $1 (`3 $2`), not $2 (`[2 []]`): the empty list `[]` is inside $2.
        report = backward(tree, "no", correct(tree, 3, 1, "reply yes, then []"))
        [change] = apply(report, None, automation=store.automation).automation
        assert change.kind == "forget" and "keeps locked" in change.why
        assert store.automation.get(tree.nodes[3].workspace_at(1)) is None


def test_a_correction_in_full_text_is_stored_in_the_workspaces_terms(tmp_path):
    with SessionStore(tmp_path / "s.sqlite") as store:
        _, tree = careless_session(store, tmp_path)
        # An overseer may write messages out in full; `[2 []]` is what #3 calls $2.
        report = backward(tree, "no", correct(tree, 3, 1, "ask what is the first element of [2 []]?"))
        [change] = apply(report, None, automation=store.automation).automation
        assert change.kind == "set" and change.action == "ask what is the first element of $2?"


def test_a_context_that_needs_two_actions_in_one_tree_asks_the_person_again(tmp_path):
    with SessionStore(tmp_path / "s.sqlite") as store:
        _, tree = careless_session(store, tmp_path)
        # #0, #2 and #4 read alike after their pair answered `yes, then $2`; #0 and #4 rightly asked on.
        context = tree.nodes[2].workspace_at(1)
        assert context == tree.nodes[0].workspace_at(1) == tree.nodes[4].workspace_at(1)
        report = backward(tree, "no", Says({0: Blame(targets={2: "no"}), 2: Blame(correction=Correction(1, "reply no"))}))
        [change] = apply(report, None, automation=store.automation).automation
        assert change.kind == "forget" and "the same workspace at #0 needs another action" in change.why


def test_an_entry_changed_since_the_run_is_left_alone(tmp_path):
    with SessionStore(tmp_path / "s.sqlite") as store:
        _, tree = careless_session(store, tmp_path)
        entry = store.automation.find(tree.nodes[3].workspace_at(1))
        store.automation.edit(entry.id, "unlock $2", Origin(author="person"))
        report = backward(tree, "no", correct(tree, 3, 1, "reply no"))
        [change] = apply(report, None, automation=store.automation).automation
        assert change.kind == "stale" and change.action == "unlock $2"
        assert store.automation.entry(entry.id).action == "unlock $2"


def test_a_scripts_tree_leaves_automation_alone(tmp_path):
    from ida.tasks import get

    class Wrong:
        name = "wrong"

        def act(self, ws):
            return "reply 35"

    task = get("multiply")
    tree = ida.run("What is 12 * 3?", Wrong())
    report = backward(tree, "36", ida.overseer.OracleOverseer(task.solve, task.rules))
    assert report.corrections
    with Automation(tmp_path / "a.sqlite") as auto:
        assert apply(report, None, automation=auto).automation == [] and auto.revision == 0


# ---- what the screen shows -------------------------------------------------------------------


def test_seen_from_a_workspace():
    q = parse("is the list [1 [3 [2 []]]] sorted?")
    assert seen_question(q.text()) == "is the list $1 sorted?"
    names = PointerNames()
    names.render(q)
    assert seen_from(names, q) == "is the list $1 sorted?" and len(names) == 1
    assert seen_from(PointerNames(), q) == f"is the list {FOREIGN} sorted?"
    assert in_terms_of(names, parse("yes, then [1 [3 [2 []]]]")) == "yes, then $1"
    assert in_terms_of(names, parse("yes, then [3 [2 []]]")) is None  # inside $1, never unlocked
    names.render(names.get(1))  # unlock $1: `1 $2`
    assert in_terms_of(names, parse("yes, then [3 [2 []]]")) == "yes, then $2"
    assert in_terms_of(names, parse("[x [$2]] 5", names)) == "[x [$2]] 5"  # new messages are written out
    deep = "[x" * 5000 + "]" * 5000
    assert in_terms_of(names, parse(deep)) == deep  # no recursion limit
    assert in_terms_of(names, parse(deep + "[]")) is None  # `[]` is the end of $2's list


def test_a_suggestion_holding_locked_content_is_not_shown():
    ws = ida.Workspace(0, parse(Q))

    class Model:
        def __init__(self, text):
            self.text = text

        def act(self, ws):
            return self.text

    assert policy_suggester(Model("reply [3 [2 []]]"))(ws) is None  # the tail of $1, never unlocked
    assert policy_suggester(Model("ask are the first two elements of $1 in order?"))(ws)[0].endswith("$1 in order?")
    assert policy_suggester(Model("reply [1 [3 [2 []]]]"))(ws) is not None  # $1 itself, written out


def test_the_prompt_says_under_which_context_an_answer_is_stored(tmp_path):
    with SessionStore(tmp_path / "s.sqlite") as store:
        s, _ = play(store, store.create(length_question(list("12"))), Player(length_person))
    lines = [line for line in s.output.splitlines() if line.startswith("automation a")]
    assert lines[0] == ("automation a1: replayed wherever a workspace reads exactly like this one "
                        "(1 line(s), nothing unlocked: it serves every question of this shape)")
    assert "with what you unlocked ($1): it repeats only where that reads the same" in lines[1]


def test_locked_pointers_let_one_step_serve_the_recursion(tmp_path):
    """The numbers in `ida ask --help` and the README."""
    counts = {}
    for style, person in (("locked", sorted_person), ("unlock first", unlock_first)):
        with SessionStore(tmp_path / f"{style}.sqlite") as store:
            s, tree = play(store, store.create(SORTED_Q), Player(person))
            assert tree.answer == "yes"
            counts[style] = (s.human.shown, sum(len(n.steps) for n in tree.nodes))
    assert counts == {"locked": (17, 35), "unlock first": (18, 23)}


# ---- the command line ------------------------------------------------------------------------


def test_the_resume_hint_names_the_sessions_file_and_works(cli, tmp_path):
    sessions = tmp_path / "my sessions.sqlite"
    r = cli("ask", "--sessions", str(sessions), MULTIPLY_Q, input="ask What is 300 * 5019?\nexit\n")
    assert r.returncode == 0, r.stderr
    hint = re.search(r"continue with: (ida ask .*)$", r.stdout, re.M).group(1)
    args = shlex.split(hint)[1:]
    assert args[-2:] == ["--sessions", str(sessions)]
    again = cli(*args, input="exit\n")
    assert again.returncode == 0 and "resuming" in again.stdout


def test_a_folder_for_save_is_refused_and_resume_can_save_elsewhere(cli, tmp_path):
    (tmp_path / "folder").mkdir()
    r = cli("ask", "--out", "folder", MULTIPLY_Q)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "is a folder" in r.stderr
    # A path that becomes a folder before the end: the session stays open, and --out on resume saves it.
    typed = "".join(line + "\n" for line in ("ask What is 300 * 5019?", "reply 1505700", "ask What is 50 * 5019?",
                                             "reply 250950", "ask What is 1505700 + 250950 + 5019?", "reply 1761669"))
    r = cli("ask", "--out", "later.jsonl", MULTIPLY_Q, input=typed)
    assert r.returncode == 0, r.stderr
    (tmp_path / "later.jsonl").mkdir()
    r = cli("ask", "--resume", input="reply 1761669\n")
    assert r.returncode == 2 and "--out FILE.jsonl saves it elsewhere" in r.stderr and r.stderr.count("\n") == 1
    r = cli("ask", "--resume", "--out", "saved.jsonl", input="reply 1761669\n")
    assert r.returncode == 0 and "answer: 1761669" in r.stdout and (tmp_path / "saved.jsonl").is_file()


def test_sessions_memo_lists_shows_edits_forgets_and_reverts(cli, tmp_path):
    path = tmp_path / "s.sqlite"
    with SessionStore(path) as store:
        info, tree = careless_session(store, tmp_path)
        entry = store.automation.find(tree.nodes[3].workspace_at(1)).id
        total = len(store.automation)
    listed = cli("sessions", "memo", "list", "--sessions", str(path))
    assert listed.returncode == 0 and f"{total} automation entries" in listed.stdout and f"a{entry}" in listed.stdout
    assert "are the first two elements of $1 in order?" in listed.stdout and "+2 lines" in listed.stdout
    r = cli("sessions", "--sessions", str(path), "memo", "edit", f"a{entry}", "unlock $2", "--reason", "look first")
    assert r.returncode == 0 and f"a{entry}: unlock $2" in r.stdout
    for bad, words in ((("edit", f"a{entry}", "unlock $9"), "unknown pointer $9"),
                       (("show", "a999"), "no automation entry a999"), (("forget", "zz"), "bad automation entry")):
        r = cli("sessions", "memo", *bad, "--sessions", str(path))
        assert r.returncode == 2 and words in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert "forgotten" in cli("sessions", "memo", "forget", f"a{entry}", "--sessions", str(path)).stdout
    assert f"{total - 1} automation entries" in cli("sessions", "memo", "list", "--sessions", str(path)).stdout
    r = cli("sessions", "memo", "revert", f"a{entry}", "--sessions", str(path))
    assert r.returncode == 0 and f"a{entry}: unlock $2 (author person)" in r.stdout
    shown = cli("sessions", "memo", "show", f"a{entry}", "--sessions", str(path)).stdout
    assert "$1: 3 $2" in shown and "look first" in shown and info.id in shown
    assert [k for k in ("add", "edit", "forget", "revert") if k in shown] == ["add", "edit", "forget", "revert"]
    assert cli("sessions", "--sessions", str(path)).stdout.count(info.id) == 1  # the listing is still there

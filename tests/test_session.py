"""Sessions at the library level: automation, replay, undo, resume, suggestions, errors.

The people here are pure functions of what a person sees (the workspace cut into
question, unlocked pointers and subquestions), so the same people play the terminal
sessions in test_session_terminal.py by reading the screen.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from rich.console import Console

import ida
from ida.experience import ExperienceDB
from ida.policies.human import Leave, check_action
from ida.render import WorkspaceParts, workspace_parts
from ida.policies.memo import Automation, MemoPolicy
from ida.session import AUTO, MODEL, PERSON, Session, SessionError, SessionStore, policy_suggester
from ida.tasks.length import cons_list
from ida.tasks.sorted_list import build_list
from ida.transcript import read_transcript

# ---- the people: what they type, given what they see --------------------------------

PRODUCT = re.compile(r"What is (\d+) \* (\d+)\?")
SUM = re.compile(r"What is (\d+(?: \+ \d+)+)\?")


def multiply_person(p: WorkspaceParts) -> str:
    """Patchwork's session: one product per place value of ten or more, then one sum (1 * b is b)."""
    if m := SUM.fullmatch(p.question):
        return f"reply {sum(int(t) for t in m.group(1).split(' + '))}"
    m = PRODUCT.fullmatch(p.question)
    assert m, p.question
    a, b = int(m.group(1)), int(m.group(2))
    digits = str(a)
    parts = [int(d) * 10 ** (len(digits) - i - 1) for i, d in enumerate(digits) if d != "0"]
    if len(parts) == 1:
        return f"reply {a * b}"  # one digit, then a shift: done by hand
    big = [x for x in parts if x >= 10]
    asked = p.subquestions
    if len(asked) < len(big):
        return f"ask What is {big[len(asked)]} * {b}?"
    if len(asked) == len(big):
        terms = [answer for _, answer in asked] + [str(x * b) for x in parts if x < 10]
        return f"ask What is {' + '.join(terms)}?"
    return f"reply {asked[-1][1]}"


def length_person(p: WorkspaceParts) -> str:
    """Affable's session: look at the cell; nil is 0; else ask the tail's length, then add one."""
    if p.subquestions:
        return f"reply {int(p.subquestions[-1][1]) + 1}"
    if not p.unlocked:
        return "unlock $1"
    if p.unlocked[-1] == "$1: nil":
        return "reply 0"
    m = re.fullmatch(r"\$1: cons \$2 (\$\d+)", p.unlocked[-1])
    assert m, p.unlocked
    return f"ask What is the length of {m.group(1)}?"


SORTED = " sorted from least to greatest?"
PAIR = "are the first two elements of $1 in order?"


def sorted_person(p: WorkspaceParts) -> str:
    """Patchwork's sorted list, split so that the recursion never sees an element:

    `is the list $1 sorted...?` asks whether the first two elements are in order (which
    answers `yes, then $2` with the rest of the list behind a pointer), then asks about the
    rest and passes its answer on. Only the pair question looks at numbers.
    """
    if p.question.startswith("is the list"):
        subs = p.subquestions
        if not subs:
            return f"ask {PAIR}"
        first = subs[0][1]
        if len(subs) == 1:
            if first == "no":
                return "reply no"
            if first == "fewer than two":
                return "reply yes"
            m = re.fullmatch(r"yes, then (\$\d+)", first or "")
            assert m, first
            return f"ask is the list {m.group(1)}{SORTED}"
        return f"reply {subs[1][1]}"
    u = p.unlocked
    if not u:
        return "unlock $1"
    if u[-1].endswith(" is empty"):
        return "reply fewer than two"
    if len(u) == 1:
        return f"unlock {u[0].split()[-1]}"
    a, b = int(u[0].split()[1]), int(u[1].split()[1])
    return f"reply yes, then {u[0].split()[-1]}" if a <= b else "reply no"


def length_question(items: list[str]) -> str:
    return f"What is the length of [{cons_list(items).text()}]?"


def sorted_question(items: list[int]) -> str:
    return f"is the list [{build_list([str(i) for i in items]).text()}]{SORTED}"


MULTIPLY_Q = "What is 351 * 5019?"
SORTED_Q = "is the list [1 [2 [3 [4 [5 [6 []]]]]]] sorted from least to greatest?"


# ---- running sessions without a terminal ----------------------------------------------


class Player:
    """Plays a person in a library-level session: `lines` first (meta commands, mistakes), then `person`."""

    def __init__(self, person=None, lines=(), stop_after: int | None = None) -> None:
        self.person, self.lines, self.stop_after = person, list(lines), stop_after
        self.session: Session | None = None
        self.typed: list[str] = []

    def __call__(self, prompt: str, default: str | None) -> str:
        assert prompt == "ida> "
        if self.stop_after is not None and len(self.typed) >= self.stop_after:
            raise EOFError
        if self.lines:
            line = self.lines.pop(0)
            if line is None:  # accept the suggestion
                line = ""
        else:
            line = self.person(workspace_parts(self.session.human.current))
        self.typed.append(line)
        return line


def play(store: SessionStore, info, player: Player, **kw):
    out = io.StringIO()
    s = Session(info, store, console=Console(file=out, width=200, highlight=False), read=player, **kw)
    player.session = s
    tree = s.run()
    s.output = out.getvalue()
    return s, tree


@pytest.fixture
def store(tmp_path):
    with SessionStore(tmp_path / "sessions.sqlite") as st:
        yield st


def new(store, question, tmp_path, **kw):
    return store.create(question, transcript=tmp_path / "t" / f"{len(store.sessions())}.jsonl", **kw)


def step_count(tree) -> int:
    return sum(len(n.steps) for n in tree.nodes)


def records(path):
    return [r.model_dump() for r in read_transcript(path)[1]]


# ---- the three sessions ----------------------------------------------------------------


def test_patchwork_multiplication(store, tmp_path):
    info = new(store, MULTIPLY_Q, tmp_path)
    s, tree = play(store, info, Player(multiply_person))
    assert tree.answer == "1761669"
    assert [n.question.text() for n in tree.nodes] == [
        MULTIPLY_Q, "What is 300 * 5019?", "What is 50 * 5019?", "What is 1505700 + 250950 + 5019?"]
    assert s.human.shown == 7 == step_count(tree)
    done = store.get(info.id)
    assert done.done and done.answer == "1761669" and (done.person, done.auto) == (7, 0)
    assert records(done.transcript)[0]["answer"] == "1761669"
    assert read_transcript(done.transcript)[0].meta["session"] == info.id


def test_affable_length_recursive_step_typed_once(store, tmp_path):
    info = new(store, length_question(["1", "2", "3", "4", "5"]), tmp_path)
    player = Player(length_person)
    s, tree = play(store, info, player)
    assert tree.answer == "5" and len(tree) == 6
    asks = [st.action for n in tree.nodes for st in n.steps if st.action.startswith("ask")]
    assert asks == ["ask What is the length of $3?"] * 5
    # The person: the recursive step once, the base case once, and one successor per number.
    assert player.typed == ["unlock $1", "ask What is the length of $3?", "reply 0",
                            "reply 1", "reply 2", "reply 3", "reply 4", "reply 5"]
    assert s.human.shown == 8 and step_count(tree) == 17 and store.get(info.id).auto == 9

    # A later session on another five-element list: every context is known, nobody is asked.
    other = new(store, length_question(["7", "3", "9", "0", "2"]), tmp_path)
    s2, tree2 = play(store, other, Player(lambda p: pytest.fail("automation should answer")))
    assert tree2.answer == "5" and s2.human.shown == 0 and store.get(other.id).auto == 17


def test_sorted_list_automation_removes_repeated_contexts(store, tmp_path):
    info = new(store, SORTED_Q, tmp_path)
    player = Player(sorted_person)
    s, tree = play(store, info, player)
    assert tree.answer == "yes"
    contexts = [n.workspace_at(i) for n in tree.nodes for i in range(len(n.steps))]
    assert s.human.shown == len(set(contexts)) == 17  # each context shown once ...
    assert len(contexts) == 35  # ... of 35: automation took the 18 repeats
    # The recursion step is typed once and runs five times; only the pair questions see numbers.
    recursion = [st.action for n in tree.nodes for st in n.steps if st.action.startswith("ask is the list")]
    assert len(recursion) == 5 and player.typed.count(f"ask is the list $2{SORTED}") == 1
    assert sum(t.startswith("reply yes, then") for t in player.typed) == 5

    # Later suffixes run by themselves: a list with one more element at the front asks only about 0 and 1.
    longer = new(store, sorted_question([0, 1, 2, 3, 4, 5, 6]), tmp_path)
    s2, tree2 = play(store, longer, Player(sorted_person))
    assert tree2.answer == "yes" and s2.human.shown == 2 and step_count(tree2) == 41


def test_unsorted_list(store, tmp_path):
    s, tree = play(store, new(store, sorted_question([1, 3, 2, 4]), tmp_path), Player(sorted_person))
    assert tree.answer == "no"


# ---- automation as a library policy ----------------------------------------------------


class Pure:
    """A policy that is a function of the workspace (as a person is assumed to be)."""

    name = "pure"

    def __init__(self, person) -> None:
        self.person, self.calls = person, 0

    def act(self, ws):
        self.calls += 1
        return self.person(workspace_parts(ws))


def test_memo_policy_persists_across_runs(tmp_path):
    q = length_question(list("12345"))
    inner = Pure(length_person)
    memo = MemoPolicy(inner, tmp_path / "auto.sqlite")
    first = ida.run(q, memo)
    assert first.answer == "5" and inner.calls == 8 and memo.hits == 9 and len(memo.automation) == 8
    memo.automation.close()

    class Nobody:
        name = "nobody"

        def act(self, ws):
            raise AssertionError("automation should answer")

    again = MemoPolicy(Nobody(), Automation(tmp_path / "auto.sqlite"))
    second = ida.run(length_question(list("98765")), again)
    assert second.answer == "5" and again.hits == 17
    ws, action = again.automation.entries()[0]
    assert ws.startswith("question: What is the length of $1?") and action == "unlock $1"


# ---- resume, undo, replay ----------------------------------------------------------------


def test_leave_and_resume_gives_the_same_tree(tmp_path):
    # An uninterrupted session, in its own sessions file (its automation must not help the other).
    with SessionStore(tmp_path / "a.sqlite") as a:
        info = a.create(SORTED_Q, transcript=tmp_path / "a.jsonl")
        _, tree_a = play(a, info, Player(sorted_person))
    # The same session, left three times (end of input) and resumed each time.
    with SessionStore(tmp_path / "b.sqlite") as b:
        info = b.create(SORTED_Q, transcript=tmp_path / "b.jsonl")
        for stop in (3, 4, 5):
            s, tree = play(b, b.get(info.id), Player(sorted_person, stop_after=stop))
            assert tree is None and s.left and not s.interrupted
        stored = b.actions(info.id)
        assert sum(r.source == PERSON for r in stored) == 12
        s, tree_b = play(b, b.get(info.id), Player(sorted_person))
        assert s.replayed == len(stored) and s.human.shown == 17 - 12
    assert tree_b.answer == tree_a.answer == "yes"
    assert records(tmp_path / "a.jsonl") == records(tmp_path / "b.jsonl")


def test_undo_takes_back_the_last_action_and_its_automation(store, tmp_path):
    info = new(store, MULTIPLY_Q, tmp_path)
    lines = ["ask What is 300 * 5019?", "reply 1505701", "undo", "undo", "undo", "ask What is 300 * 5019?",
             "reply 1505700"]
    s, tree = play(store, info, Player(multiply_person, lines=lines))
    assert tree.answer == "1761669"
    assert "undone: reply 1505701" in s.output and "undone: ask What is 300 * 5019?" in s.output
    assert "nothing to undo" in s.output
    assert [w for w, a in store.automation.entries() if a == "reply 1505701"] == []
    assert tree.nodes[1].answer_text == "1505700" and len(tree) == 4


def test_tree_command_shows_the_open_stack(store, tmp_path):
    info = new(store, length_question(list("123")), tmp_path)
    lines = ["unlock $1", "ask What is the length of $3?", "tree"]
    s, tree = play(store, info, Player(length_person, lines=lines))
    assert tree.answer == "3"
    shown = s.output[s.output.index("#0 What is the length of […]?"):]
    assert "◀ you are here" in shown and "open" in shown
    first_tree = shown[: shown.index("╭")]
    # Written as workspace #3 (the empty list) sees it: its own list as $1, the others' as […].
    assert "#0 What is the length of […]?" in first_tree and "#3 What is the length of $1?" in first_tree
    assert "cons" not in first_tree


def test_replay_that_diverges_sets_the_rest_aside(store, tmp_path):
    db_path = tmp_path / "exp.sqlite"
    with ExperienceDB(db_path) as db:
        info = new(store, "What should I know about vases?", tmp_path, db_path=db_path)
        s, tree = play(store, info, Player(lines=["lookup vase", "scratch noted"], stop_after=2), db=db)
        assert tree is None and len(store.actions(info.id)) == 2
        db.add("vase", "vases are fragile")  # the lookup now shows something else
        s, tree = play(store, store.get(info.id), Player(lines=["reply careful"]), db=db)
    assert "differs from the one recorded" in s.output
    assert tree.answer == "careful"
    assert [r.action for r in store.actions(info.id)] == ["lookup vase", "reply careful"]
    assert "[e1] vase: vases are fragile" in tree.nodes[0].lines


# ---- the prompt ----------------------------------------------------------------------


def test_malformed_commands_cost_nothing(store, tmp_path):
    info = new(store, MULTIPLY_Q, tmp_path, budget=50)
    lines = ["bogus", "unlock $1", "ask What is [300 * 5019?", "reply", "", "help", "raw"]
    s, tree = play(store, info, Player(multiply_person, lines=lines))
    assert tree.answer == "1761669" and step_count(tree) == 7 and s.human.shown == 7
    errors = [line for line in s.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 5
    assert "unknown command 'bogus'" in errors[0] and "unknown pointer $1" in errors[1]
    assert "never closed" in errors[2] and "reply needs a message" in errors[3] and "empty command" in errors[4]
    assert "unlock $n" in s.output and "undo" in s.output  # help
    assert "question: What is 351 * 5019?" in s.output  # raw


def test_check_action_knows_the_workspace():
    ws = ida.Workspace(0, ida.parse("is [a] before [b]?"))
    ws.names.render(ws.question)
    assert check_action("unlock $2", ws).pointer == 2
    with pytest.raises(ida.ActionError, match=r"unknown pointer \$3 \(this workspace has: \$1, \$2\)"):
        check_action("unlock $3", ws)
    with pytest.raises(ida.ActionError, match="unknown pointer"):
        check_action("reply $4", ws)


def test_budget_runs_out_into_a_failure_answer(store, tmp_path):
    info = new(store, MULTIPLY_Q, tmp_path, budget=3)
    s, tree = play(store, info, Player(multiply_person))
    assert ida.failed(tree.answer) and "budget exhausted" in tree.answer
    assert store.get(info.id).done


def test_end_of_input_and_leave_keep_the_session(store, tmp_path):
    info = new(store, MULTIPLY_Q, tmp_path)
    s, tree = play(store, info, Player(lines=["ask What is 300 * 5019?", "exit"]))
    assert tree is None and s.left
    assert [r.action for r in store.actions(info.id)] == ["ask What is 300 * 5019?"]
    assert store.latest_open().id == info.id
    s, tree = play(store, store.get(info.id), Player(multiply_person))
    assert tree.answer == "1761669" and s.human.shown == 6 and store.latest_open() is None


# ---- suggestions ------------------------------------------------------------------------


class FakeModel:
    """Stands in for ida.distill.DistilledPolicy: `.act(ws) -> str`, `.last_confidence`."""

    def __init__(self, person, wrong=()) -> None:
        self.person, self.wrong, self.last_confidence, self.calls = person, set(wrong), 0.0, 0

    def act(self, ws):
        self.calls += 1
        self.last_confidence = 0.5 if self.calls in self.wrong else 0.97
        return "frobnicate $9" if self.calls in self.wrong else self.person(workspace_parts(ws))


def test_suggestions_are_the_default_and_enter_accepts(store, tmp_path):
    info = new(store, MULTIPLY_Q, tmp_path)
    model = FakeModel(multiply_person, wrong={2})
    # Enter everywhere; at the second prompt the model has nothing usable, so the person types.
    lines = [None, "reply 1505700", None, None, None, None, None]
    s, tree = play(store, info, Player(lines=lines), suggest=policy_suggester(model))
    assert tree.answer == "1761669"
    sources = [r.source for r in store.actions(info.id)]
    assert sources == [MODEL, PERSON, MODEL, MODEL, MODEL, MODEL, MODEL]
    assert "model suggests (confidence 0.97): ask What is 300 * 5019?" in s.output


def test_no_suggestion_and_empty_line_is_an_error(store, tmp_path):
    info = new(store, MULTIPLY_Q, tmp_path)
    s, tree = play(store, info, Player(multiply_person, lines=[None]))
    assert tree.answer == "1761669" and "error: empty command" in s.output


# ---- mistakes are one line ----------------------------------------------------------------


def test_session_errors(store, tmp_path):
    with pytest.raises(SessionError, match="no session 'nope'"):
        store.get("nope")
    a = new(store, MULTIPLY_Q, tmp_path)
    assert store.get(a.id[:4]).id == a.id
    with pytest.raises(SessionError, match="the question is empty"):
        store.create("  ")
    with pytest.raises(SessionError, match="not valid hypertext"):
        store.create("is [1 sorted?")
    play(store, a, Player(multiply_person))
    with pytest.raises(SessionError, match="is finished"):
        Session(store.get(a.id), store)
    (tmp_path / "junk.sqlite").write_text("this is not a database" * 100)
    with pytest.raises(SessionError, match="not a usable sessions file"):
        SessionStore(tmp_path / "junk.sqlite")


def test_leave_exception_is_exported():
    assert issubclass(Leave, Exception) and AUTO == "auto"


def test_the_library_saves_no_transcript_unless_told(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with SessionStore(tmp_path / "sessions.sqlite") as store:
        info = store.create(MULTIPLY_Q)
        assert info.transcript is None
        s, tree = play(store, info, Player(multiply_person))
        assert tree.answer is not None and s.info.done and s.info.transcript is None
        told = store.create(MULTIPLY_Q, transcript_dir=tmp_path / "saved")
        assert told.transcript == str((tmp_path / "saved" / f"{told.id}.jsonl").resolve())
    assert list(work.iterdir()) == []  # nothing written where nobody asked


def test_session_policy_is_a_memo_policy(store, tmp_path):
    from ida.session.run import _SessionPolicy

    assert issubclass(_SessionPolicy, MemoPolicy)
    info = new(store, SORTED_Q, tmp_path)
    s, tree = play(store, info, Player(sorted_person))
    assert s.counts[AUTO] > 0 and len(store.automation) == s.counts[PERSON] + s.counts[MODEL]



def test_the_panel_is_drawn_from_entries_not_reparsed_text():
    """An unknown command after a subquestion is its own error; the subquestion keeps its answer."""
    import ida

    seen = {}

    class Person:
        name = "person"

        def act(self, ws):
            if ws.node_id == 1:
                return "reply 6"
            if not ws.entries:
                return "ask What is 3 * 2?"
            if len(ws.entries) == 1:
                return "frobnicate $1"
            seen["parts"] = workspace_parts(ws)
            return "reply 6"

    assert ida.run("What is 2 * 3?", Person()).answer == "6"
    p = seen["parts"]
    assert p.subquestions == [("What is 3 * 2?", "6")]
    assert len(p.errors) == 1 and p.errors[0].startswith("frobnicate $1: ")


AWKWARD = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=AWKWARD, note=AWKWARD, answer=AWKWARD)
def test_any_text_round_trips_through_a_session(tmp_path, question, note, answer):
    """Question, scratch note and answer of any unicode (U+2028 included) survive leaving, resuming and saving."""
    from ida.hypertext import msg, parse
    from ida.transcript import load_transcript

    q_text, note_text, a_text = (msg(t).text() for t in (question, note, answer))  # escaped hypertext
    if not q_text.strip() or not note_text.strip() or not a_text.strip():
        return
    if any(c in t for t in (note_text, a_text) for c in "\r\n"):
        return  # a line typed at a prompt cannot hold a line break (U+2028 and U+0085 it can)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    with SessionStore(folder / "s.sqlite") as st_:
        info = st_.create(q_text, transcript=folder / "t.jsonl")
        s, tree = play(st_, info, Player(lines=[f"scratch {note_text}"], stop_after=1))
        assert tree is None  # left after the note: resumed below from the stored action
    with SessionStore(folder / "s.sqlite") as st_:
        s, tree = play(st_, st_.get(info.id), Player(lines=[f"reply {a_text}"]))
    saved = load_transcript(folder / "t.jsonl")
    # the question is kept exactly; a line typed at the prompt loses its surrounding whitespace
    assert saved.nodes[0].question == parse(q_text) and saved.answer == parse(a_text.strip()).text()
    assert saved.nodes[0].steps[0].action.removeprefix("scratch ") == note_text.strip()

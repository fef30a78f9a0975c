"""Guess and check: where the linear pass cannot tell which input erred, try each candidate
change the overseer listed (`Blame.candidates`: a different subanswer, an entry added,
edited or removed) and keep one that makes the target come out, checked by forward runs.

The linear pass runs first, every node once; it costs no forward run, and where it places
the blame (an edit, a correction, nothing unexplained) that is the report. Otherwise the
candidates are tried, each checked as its kind is:

* a different subanswer: the node's question is run again with those children answered as
  guessed (`Forced`); kept if the node then gives its target. The pass is walked again with
  that guess in place, so the blame follows the guessed input down.
* an entry changed: the root question is run again with the change made inside a savepoint
  that is rolled back (an open transaction around it keeps its own changes); kept if the root
  gives the feedback and every check `(question, answer)` still holds (earlier observations:
  what was right stays right).
* a corrected reply: checked like an entry change, with the node's question answered so.

They are taken breadth first: each open node's likeliest (deepest node first), then each
one's second, and so on, so that one node's long list does not starve the others. When
nothing single holds, each earlier guess of this overseer in the database is taken back
together with each candidate change (a guess made on thin evidence can be wrong). Every run
counts against `budget`; the report says how many were spent (`Report.forward_runs`), so
the cost of brute force stands next to the linear pass's none.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ida.actions import Action, ActionError, parse_action
from ida.engine import run
from ida.errors import IdaError
from ida.overseer.backward import Overseer, Report, walk
from ida.overseer.blame import Blame, Edit
from ida.policy import Policy, policy_name
from ida.tree import Node, Tree
from ida.workspace import Workspace

if TYPE_CHECKING:
    from ida.experience import ExperienceDB


class Forced:
    """Acts as `policy` does, except that the questions in `answers` are answered outright."""

    def __init__(self, policy: Policy, answers: dict[str, str]) -> None:
        self.policy, self.answers = policy, answers
        self.name = policy_name(policy)

    def act(self, ws: Workspace) -> Action | str:
        forced = self.answers.get(ws.question_text)
        return Action("reply", forced) if forced is not None else self.policy.act(ws)


class _RolledBack(Exception):
    """Raised to end a trial's savepoint: the database is left exactly as it was."""


@contextmanager
def trial(db: ExperienceDB | None, edits: Sequence[Edit]) -> Iterator[None]:
    """The database as if `edits` were made, for the block only: a savepoint, so inside an open
    transaction too the edits are taken back and the transaction's own changes kept."""
    if not edits:
        yield
        return
    if db is None:
        raise ValueError("a guess that changes the database needs a database")
    try:
        with db.savepoint():
            for e in edits:
                make_edit(db, e, author="guess")
            yield
            raise _RolledBack
    except _RolledBack:
        pass


def make_edit(db: ExperienceDB, e: Edit, author: str) -> None:
    if e.op == "add":
        db.add(e.key or "", e.text or "", author=author)
    elif e.op == "edit":
        db.edit(e.entry_id, e.text, key=e.key, author=author)  # type: ignore[arg-type]
    else:
        db.remove(e.entry_id, author=author)  # type: ignore[arg-type]


class _Spent(Exception):
    """The budget of forward runs is used up."""


class _Pinned:
    """The inner overseer, except at the nodes where a guess was kept."""

    def __init__(self, inner: Overseer, pins: dict[int, Blame]) -> None:
        self.inner, self.pins, self.name = inner, pins, inner.name

    def blame(self, node: Node, target: str, tree: Tree) -> Blame:
        return self.pins.get(node.id) or self.inner.blame(node, target, tree)


@dataclass
class _Guess:
    node: int
    blame: Blame
    settles: bool  # the root comes out with it: no more guessing


@dataclass
class _Search:
    tree: Tree
    feedback: str
    runs: int = 0
    tried: set[tuple[Any, ...]] = field(default_factory=set)


class Counterfactual:
    """An overseer that guesses and checks where `inner`'s linear pass leaves blame open.

    `policy` and `db` are what the tree was run with (the re-runs use them); `checks` are
    (question, answer) pairs every change must leave right; `run_kwargs` go to `ida.run`.
    """

    def __init__(self, inner: Overseer, policy: Policy, db: ExperienceDB | None = None, budget: int = 200,
                 checks: Sequence[tuple[str, str]] = (), **run_kwargs: Any) -> None:
        self.inner, self.policy, self.db, self.budget = inner, policy, db, budget
        self.checks = list(checks)
        self.run_kwargs = run_kwargs
        self.name = f"{inner.name}+guess"

    def blame(self, node: Node, target: str, tree: Tree) -> Blame:
        return self.inner.blame(node, target, tree)

    def backward_pass(self, tree: Tree, feedback: str) -> Report:
        """The linear pass, then guesses until one settles the blame or the budget is spent.
        Unsettled, the report is the linear pass's (with the runs it cost to find nothing)."""
        pins: dict[int, Blame] = {}
        search = _Search(tree, feedback)
        linear = report = walk(tree, feedback, self.inner)
        calls, settled = report.overseer_calls, False
        while not settled:
            try:
                settled = self._settled(report, pins, search)
                guess = None if settled else self._guess(report, search)
            except _Spent:
                break
            if guess is None:
                break
            pins[guess.node] = guess.blame
            report = walk(tree, feedback, _Pinned(self.inner, pins))
            calls += report.overseer_calls
            settled = guess.settles
        report = report if settled else linear
        report.overseer, report.overseer_calls, report.forward_runs = self.name, calls, search.runs
        report.forward_budget = self.budget
        return report

    # ---- deciding -----------------------------------------------------------------------

    def _settled(self, report: Report, pins: dict[int, Blame], search: _Search) -> bool:
        """The pass placed the blame: a change, and nothing left unexplained. After a guessed
        subanswer the corrections it led to are checked too: the root must come out."""
        if not (report.blamed and not report.unexplained and not report.conflicts):
            return False
        if not pins:
            return True
        forced = _forced_replies(report)
        key = ("settle", tuple(sorted(pins)), tuple(sorted(forced.items())))
        if key in search.tried:
            return False
        search.tried.add(key)
        return self._holds(search, report.edits, forced)

    def _guess(self, report: Report, search: _Search) -> _Guess | None:
        """The first untried candidate that checks: every open node's likeliest first, deepest
        node first, then every node's second, and so on; then the same with one earlier guess
        of ours taken back."""
        open_visits = [v for v in reversed(report.visits) if v.blame.candidates and not v.blame.ok]
        longest = max((len(v.blame.candidates) for v in open_visits), default=0)
        order = [(v, i) for i in range(longest) for v in open_visits if i < len(v.blame.candidates)]
        for v, i in order:
            key: tuple[Any, ...] = ("one", v.node, v.target, i)  # a node's candidates depend on its target
            if key not in search.tried:
                search.tried.add(key)
                if (g := self._check(search, v.node, v.target, v.blame.candidates[i])) is not None:
                    if not g.settles:  # the node's other candidates stay open, should this guess lead nowhere
                        g.blame.candidates = v.blame.candidates
                    return g
        for undo in self._own_guesses():
            for v, i in order:
                cand, key = v.blame.candidates[i], ("undo", undo.entry_id, v.node, v.target, i)
                if cand.edits and key not in search.tried:
                    search.tried.add(key)
                    if (g := self._check(search, v.node, v.target, replace(cand, edits=[undo, *cand.edits]))):
                        return g
        return None

    def _check(self, search: _Search, nid: int, target: str, cand: Blame) -> _Guess | None:
        node = search.tree.nodes[nid]
        if cand.edits or cand.correction:
            forced = {}
            if cand.correction:
                reply = _reply_of(cand.correction.action)
                if reply is None:
                    return None
                forced[node.question.text()] = reply
            if self._holds(search, cand.edits, forced):
                return _Guess(nid, _noted(cand, f"guessed; checked: the root comes out (forward run {search.runs})"),
                              settles=True)
            return None
        if cand.targets:
            answers = {search.tree.nodes[c].question.text(): t for c, t in cand.targets.items()}
            if self._answer(search, node.question.text(), answers) == target:
                return _Guess(nid, _noted(cand, f"guessed; checked: with these subanswers the node gives {target}"),
                              settles=False)
        return None

    # ---- running ------------------------------------------------------------------------

    def _holds(self, search: _Search, edits: Sequence[Edit], forced: dict[str, str]) -> bool:
        """Whether the root gives the feedback, and every check holds, with `edits` and `forced`."""
        try:
            with trial(self.db, edits):
                if self._answer(search, search.tree.root_node.question.text(), forced) != search.feedback:
                    return False
                return all(self._answer(search, q, forced) == a for q, a in self.checks)
        except _Spent:
            raise
        except IdaError:  # a candidate naming an entry that is gone, say: it does not hold
            return False

    def _answer(self, search: _Search, question: str, forced: dict[str, str]) -> str | None:
        if search.runs >= self.budget:
            raise _Spent
        search.runs += 1
        policy = Forced(self.policy, forced) if forced else self.policy
        return run(question, policy, db=self.db, **self.run_kwargs).answer

    def _own_guesses(self) -> list[Edit]:
        """For each entry whose latest change is a guess of ours that was kept, the edit that takes it back."""
        if self.db is None:
            return []
        author, undos = f"overseer:{self.name}", []
        for e in self.db.entries():
            history = self.db.history(e.id)
            if history[-1].author == author:
                before = history[-2] if len(history) > 1 else None
                undos.append(Edit("remove", entry_id=e.id, reason="a guess taken back") if before is None or
                             before.text is None else
                             Edit("edit", entry_id=e.id, key=before.key, text=before.text, reason="a guess taken back"))
        return undos


def _noted(b: Blame, note: str) -> Blame:
    return replace(b, note=f"{b.note}; {note}" if b.note else note, candidates=[])


def _reply_of(action: str) -> str | None:
    try:
        a = parse_action(action)
    except ActionError:
        return None
    return a.arg if a.kind == "reply" else None


def _forced_replies(report: Report) -> dict[str, str]:
    """The corrected replies of a report, as answers to force by question."""
    out = {}
    for c in report.corrections:
        if (reply := _reply_of(c.action)) is not None:
            out[report.tree.nodes[c.node].question.text()] = reply
    return out

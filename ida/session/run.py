"""Running a decomposition session at the terminal: resumable, undoable, automated where contexts repeat.

The engine is deterministic given the sequence of actions, so a session is stored as its
question, its settings and the list of actions in order (`ida.session.store`, one
transaction per action the person types). Resume and `undo` replay the stored actions
through `ida.run` and then go on prompting; nothing else needs saving, and Ctrl-C or a
killed process loses nothing the person typed.

Actions are tried in this order: replay of the stored ones, automation (`MemoPolicy`: an
identical context seen before, in this session or a later one, is answered without
asking), the person (with a model's suggestion as the editable default, when there is one).

    store = SessionStore(".ida/sessions.sqlite")
    info = store.create("What is 351 * 5019?")
    tree = Session(info, store).run()      # None when the person left before the end
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.text import Text

from ida import terminal
from ida.actions import Action, ActionError
from ida.engine import run
from ida.errors import IdaError
from ida.files import WriteError
from ida.hypertext import HypertextError, parse
from ida.policies.human import HumanPolicy, Leave, Reader, Suggestion, check_action
from ida.policies.memo import MemoPolicy, Origin, workspace_key
from ida.seen import in_terms_of, seen_from
from ida.session.store import AUTO, MODEL, PERSON, Recorded, SessionError, SessionInfo, SessionStore
from ida.tree import Tree
from ida.workspace import Workspace

POLICY_NAME = "human"
OPEN_MARK = "…"  # the answer `tree` gives a question still open


# ---- running a session ------------------------------------------------------------------


class _Restart(Exception):
    """Raised from inside the engine (undo): replay the stored actions from the start."""


class _Feed:
    """Feeds a list of actions, then answers every open question with `OPEN_MARK` (for `tree`)."""

    name = POLICY_NAME

    def __init__(self, actions: Sequence[str]) -> None:
        self.actions = deque(actions)
        self.open: set[int] = set()

    def act(self, ws: Workspace) -> str:
        if self.actions:
            return self.actions.popleft()
        self.open.add(ws.node_id)
        return f"reply {OPEN_MARK}"


def model_suggester(model_dir: str | Path) -> Callable[[Workspace], Suggestion | None]:
    """Suggestions from a distilled model (`ida.distill.DistilledPolicy`); imports torch only now."""
    try:
        from ida.distill import DistilledPolicy
    except ImportError as e:
        raise IdaError(f"{model_dir}: a distilled model needs the distillation extras (torch): {e}") from None
    model = DistilledPolicy(model_dir)
    if model.mode != "policy":  # it would read the question with every pointer expanded
        raise IdaError(f"{model_dir}: an {model.mode} model reads what the workspace keeps locked; "
                       "--suggest takes a policy model (ida distill --mode policy)")
    return policy_suggester(model)


def policy_suggester(model: object) -> Callable[[Workspace], Suggestion | None]:
    """Wrap any policy with `.act(ws)` (and optionally `.last_confidence`, `.last_failed`) as a suggester.

    A suggestion that writes out content the workspace keeps locked is dropped: the screen
    shows nothing the node has not unlocked."""

    def suggest(ws: Workspace) -> Suggestion | None:
        text = str(model.act(ws)).strip()  # type: ignore[attr-defined]
        if getattr(model, "last_failed", False):
            return None
        try:
            action = check_action(text, ws)
            if action.kind in ("ask", "reply") and in_terms_of(ws.names, parse(action.arg, ws.names)) is None:
                return None
        except (ActionError, HypertextError):
            return None  # a suggestion that would not run is no help
        confidence = float(getattr(model, "last_confidence", 0.0) or 0.0)
        note = getattr(model, "confidence_note", None)  # a distilled model's held-out calibration
        return Suggestion(action.render(), confidence, note(confidence) if callable(note) else "")

    return suggest


class Session:
    """Runs one stored session to its end, or until the person leaves.

    `read(prompt, default)` reads the person's line (the terminal by default); `suggest`
    proposes actions (see `model_suggester`).
    """

    def __init__(
        self,
        info: SessionInfo,
        store: SessionStore,
        db: object | None = None,
        console: Console | None = None,
        read: Reader | None = None,
        suggest: Callable[[Workspace], Suggestion | None] | None = None,
    ) -> None:
        if info.done:
            saved = f"; transcript: {info.transcript}" if info.transcript else ""
            raise SessionError(f"session {info.id} is finished (answer: {info.answer}){saved}")
        self.info = info
        self.store = store
        self.db = db
        self.console = console or terminal.Console(highlight=False)  # data shown, never obeyed
        self.human = HumanPolicy(self.console, read=read, suggest=suggest, footer=self._footer, above=self._above,
                                 commands={"undo": self._undo, "tree": self._tree})
        self.pending: list[tuple[int, str, str, str]] = []  # automated actions not yet written
        self.counts = {PERSON: 0, MODEL: 0, AUTO: 0}  # actions chosen in this process, replays excluded
        self.replayed = 0
        self.tree: Tree | None = None
        self.left = False  # the person left before the end (exit, end of input, Ctrl-C)
        self.interrupted = False  # ... by Ctrl-C
        # A shadow of the engine's stack of open nodes, for the line above each workspace.
        self._stack: list[int] = []
        self._questions: dict[int, Workspace] = {}
        self._just_automated = 0  # automated actions since the last prompt, for the line above it

    # -- the driver --

    def run(self) -> Tree | None:
        """Replay what is stored, then prompt; returns the finished tree, or None if the person left."""
        while True:
            self._stack.clear()
            self._questions.clear()
            feed = _SessionPolicy(self, self.store.actions(self.info.id))
            try:
                tree = run(self.info.question, feed, db=self.db, budget=self.info.budget,  # type: ignore[arg-type]
                           max_depth=self.info.max_depth, memo=True, run_id=self.info.id)
            except _Restart:
                continue
            except (Leave, KeyboardInterrupt, EOFError) as e:
                self.left = True
                self.interrupted = isinstance(e, KeyboardInterrupt)
                return None
            finally:
                self.flush()
                self.replayed = feed.replayed
            break
        self.info = self.store.get(self.info.id)
        tree.meta = {"session": self.info.id, "person_actions": self.info.person, "automated": self.info.auto}
        if self.info.transcript is not None:
            try:
                tree.save(self.info.transcript)
            except (OSError, WriteError) as e:  # the session stays open: resuming replays it and saves again
                reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
                raise SessionError(f"cannot save the transcript: {reason}; the session stays open: "
                                   f"ida ask --resume {self.info.id} --out FILE.jsonl saves it elsewhere") from None
        self.store.finish(self.info.id, tree.answer)
        self.info = self.store.get(self.info.id)
        self.tree = tree
        return tree

    def flush(self) -> None:
        """Write the automated actions taken since the last prompt."""
        if self.pending:
            rows, self.pending = self.pending, []
            self.store.append(self.info.id, rows)

    # -- what the policy does at each step --

    def track(self, ws: Workspace) -> None:
        if ws.node_id not in self._questions:
            self._questions[ws.node_id] = ws  # its question is expanded only when shown: it may be long
            self._stack.append(ws.node_id)
        else:
            while self._stack and self._stack[-1] != ws.node_id:
                self._stack.pop()

    def ask_person(self, ws: Workspace) -> Action:
        self._just_automated = len(self.pending)
        self.flush()
        return self.human.act(ws)

    def record_person(self, ws: Workspace, rendered: str, action: str) -> None:
        """Store the person's action and, when automating, its automation entry: one transaction."""
        source = MODEL if self.human.last_suggested == action else PERSON
        origin = Origin(author=source, run=self.info.id, node=ws.node_id, step=len(ws.entries))
        remember = (rendered, action, origin) if self.info.automate else None
        entry = self.store.append(self.info.id, [(ws.node_id, action, source, workspace_key(rendered))],
                                  remember=remember)
        self.counts[source] += 1
        if entry is not None:
            self.console.print(Text(stored_line(ws, entry), style="dim"), soft_wrap=True)

    def record_automated(self, ws: Workspace, rendered: str, action: str) -> None:
        """Automation answered: written with the next prompt (`flush`), not one transaction per action."""
        self.pending.append((ws.node_id, action, AUTO, workspace_key(rendered)))
        self.counts[AUTO] += 1

    # -- screen --

    def _footer(self, ws: Workspace) -> str:
        stored = self.store.get(self.info.id)
        auto = stored.auto + len(self.pending)
        return f"yours: {stored.person} · automated: {auto}"

    def _above(self, ws: Workspace) -> Text | None:
        lines = []
        if self._just_automated:
            lines.append(f"automation took {self._just_automated} action(s) in contexts seen before")
            self._just_automated = 0
        if len(self._stack) >= 2:
            parent = self._stack[-2]
            question = seen_from(ws.names, self._questions[parent].question)  # its pointers, not ours: `[…]`
            if len(question) > 160:
                question = question[:157] + "..."
            lines.append(f"↳ subquestion of #{parent}: {question}")
        return Text("\n".join(lines), style="dim") if lines else None

    # -- meta commands --

    def _undo(self, ws: Workspace) -> None:
        self.flush()
        rec = self.store.undo(self.info.id)
        if rec is None:
            self.console.print("nothing to undo")
            return
        self.console.print(Text.assemble(("undone: ", "bold"), rec.action, f" (in workspace #{rec.node})"))
        raise _Restart

    def _tree(self, ws: Workspace) -> None:
        from ida.render import tree_view

        self.flush()
        tree, open_nodes = self.partial_tree()
        marks = {n: "open" for n in open_nodes}
        marks[ws.node_id] = "◀ you are here"
        self.console.print(tree_view(tree, depth=10_000, width=10_000, marks=marks,
                                     show=lambda m: seen_from(ws.names, m)))  # only what this workspace sees
        self.human.show(ws)

    def partial_tree(self) -> tuple[Tree, set[int]]:
        """The tree so far: the stored actions replayed, every open question answered `…`."""
        feed = _Feed([r.action for r in self.store.actions(self.info.id)])
        tree = run(self.info.question, feed, db=self.db, budget=self.info.budget,  # type: ignore[arg-type]
                   max_depth=self.info.max_depth, memo=True, run_id=self.info.id)
        return tree, feed.open


def stored_line(ws: Workspace, entry: int) -> str:
    """What automation now knows, and under which context: the person learns what repeats."""
    unlocked = [e.arg for e in ws.entries if e.kind == "unlock" and e.error is None]
    under = (f"with what you unlocked ({', '.join(unlocked)}): it repeats only where that reads the same; "
             "a step taken before unlocking serves more questions") if unlocked else \
        "nothing unlocked: it serves every question of this shape"
    return (f"automation a{entry}: replayed wherever a workspace reads exactly like this one "
            f"({len(ws.lines)} line(s), {under})")


class _Person:
    """The person at the prompt, as the policy that `MemoPolicy` asks when automation has nothing."""

    name = PERSON

    def __init__(self, session: Session) -> None:
        self.session = session

    def act(self, ws: Workspace) -> Action:
        return self.session.ask_person(ws)


class _SessionPolicy(MemoPolicy):
    """Replay of the stored actions, then automation and the person (`MemoPolicy`). One per (re)start of the engine."""

    def __init__(self, session: Session, replay: Sequence[Recorded]) -> None:
        super().__init__(_Person(session), session.store.automation, name=POLICY_NAME)
        self.s = session
        self.replay = deque(replay)
        self.replayed = 0

    def act(self, ws: Workspace) -> Action | str:
        s = self.s
        s.track(ws)
        if self.replay:
            rec = self.replay.popleft()
            if rec.ws_hash == workspace_key(ws.render()):
                self.replayed += 1
                return rec.action
            dropped = s.store.set_aside(s.info.id, rec.row)
            self.replay.clear()
            s.console.print(Text(
                f"warning: workspace #{ws.node_id} differs from the one recorded (the experience database or "
                f"ida changed since); {dropped} recorded action(s) from here on are set aside", style="yellow"))
        if not s.info.automate:
            action = s.ask_person(ws)
            self.remember(ws, ws.render(), action.render())
            return action
        return super().act(ws)

    def on_hit(self, ws: Workspace, rendered: str, action: str) -> None:
        self.s.record_automated(ws, rendered, action)

    def remember(self, ws: Workspace, rendered: str, action: str) -> None:
        self.s.record_person(ws, rendered, action)

"""Decomposition sessions at the terminal: resumable, undoable, and automated where contexts repeat.

The engine is deterministic given the sequence of actions, so a session is stored as its
question, its settings and the list of actions in order (SQLite, one transaction per
action the person types). Resume and `undo` replay the stored actions through `ida.run`
and then go on prompting; nothing else needs saving, and Ctrl-C or a killed process loses
nothing the person typed.

Each action the person types is also remembered under its rendered workspace
(`ida.policies.memo.Automation`, in the same file and the same transaction); when an
identical context arises again, in this session or a later one, it is answered without
asking. Actions are tried in this order: replay of the stored ones, automation, the
person (with a model's suggestion as the editable default, when there is a model).

    store = SessionStore(".ida/sessions.sqlite")
    info = store.create("What is 351 * 5019?")
    tree = Session(info, store).run()      # None when the person left before the end
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from rich.console import Console
from rich.text import Text

from ida.actions import Action, ActionError
from ida.engine import run
from ida.errors import IdaError
from ida.experience import ExperienceDB, resolve_path
from ida.hypertext import HypertextError, parse
from ida.policies.human import HumanPolicy, Leave, Reader, Suggestion, check_action
from ida.policies.memo import Automation, connect, transaction, workspace_key
from ida.tree import Tree
from ida.workspace import Workspace

SESSIONS_ENV = "IDA_SESSIONS"
TRANSCRIPT_DIR = Path("transcripts/sessions")
DEFAULT_BUDGET = 100_000
DEFAULT_MAX_DEPTH = 1_000
POLICY_NAME = "human"
OPEN_MARK = "…"  # the answer `tree` gives a question still open

# Who chose an action: the person, the person accepting a model's suggestion, or automation.
PERSON, MODEL, AUTO = "person", "model", "auto"

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        question TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open',      -- open | done
        budget INTEGER NOT NULL,
        max_depth INTEGER NOT NULL,
        automate INTEGER NOT NULL DEFAULT 1,
        db_path TEXT,
        transcript TEXT NOT NULL,
        answer TEXT,
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session TEXT NOT NULL REFERENCES sessions(id),
        node INTEGER NOT NULL,
        action TEXT NOT NULL,
        source TEXT NOT NULL,                     -- person | model | auto
        ws_hash TEXT NOT NULL,                    -- the workspace it answered: replay checks it
        live INTEGER NOT NULL DEFAULT 1,          -- 0: undone, or set aside when a replay diverged
        at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS actions_by_session ON actions (session, live, id)",
]


class SessionError(IdaError):
    """An unknown or finished session, or a sessions file that cannot be used."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sessions_path(path: str | Path | None = None) -> Path:
    """The sessions file: `path`, else $IDA_SESSIONS, else .ida/sessions.sqlite here."""
    env = os.environ.get(SESSIONS_ENV)
    return Path(path) if path else Path(env) if env else Path.cwd() / ".ida" / "sessions.sqlite"


@dataclass(frozen=True)
class SessionInfo:
    id: str
    question: str
    status: str
    budget: int
    max_depth: int
    automate: bool
    db_path: str | None
    transcript: str
    answer: str | None
    created: str
    updated: str
    person: int = 0  # live actions the person chose (typed or accepted from the model)
    auto: int = 0  # live actions automation chose

    @property
    def done(self) -> bool:
        return self.status == "done"


@dataclass(frozen=True)
class Recorded:
    row: int
    node: int
    action: str
    source: str
    ws_hash: str


class SessionStore:
    """Sessions, their actions and the automation table, in one SQLite file."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = sessions_path(path)
        try:
            self.conn = connect(self.path)
            with self.transaction():
                for statement in _SCHEMA:
                    self.conn.execute(statement)
            self.automation = Automation(self.conn)
        except (sqlite3.DatabaseError, IdaError) as e:
            raise SessionError(f"{self.path}: not a usable sessions file: {e}") from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self):
        return transaction(self.conn, str(self.path))

    # -- sessions --

    def create(self, question: str, budget: int = DEFAULT_BUDGET, max_depth: int = DEFAULT_MAX_DEPTH,
               db_path: str | Path | None = None, transcript: str | Path | None = None,
               automate: bool = True) -> SessionInfo:
        if not question.strip():
            raise SessionError("the question is empty")
        try:
            parse(question)
        except HypertextError as e:
            raise SessionError(f"the question is not valid hypertext: {e}") from None
        if budget < 1 or max_depth < 0:
            raise SessionError("the budget must be at least 1 and the depth limit at least 0")
        sid = uuid.uuid4().hex[:8]
        path = Path(transcript) if transcript else TRANSCRIPT_DIR / f"{sid}.jsonl"
        now = _now()
        with self.transaction():
            self.conn.execute(
                "INSERT INTO sessions (id, question, budget, max_depth, automate, db_path, transcript, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sid, question, budget, max_depth, int(automate),
                 None if db_path is None else str(Path(db_path).resolve()), str(path.resolve()), now, now),
            )
        return self.get(sid)

    _SELECT = """SELECT s.id, s.question, s.status, s.budget, s.max_depth, s.automate, s.db_path, s.transcript,
                        s.answer, s.created, s.updated,
                        coalesce(sum(a.live = 1 AND a.source != 'auto'), 0), coalesce(sum(a.live = 1 AND a.source = 'auto'), 0)
                 FROM sessions s LEFT JOIN actions a ON a.session = s.id"""

    def _info(self, row: tuple) -> SessionInfo:
        return SessionInfo(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7], row[8], row[9],
                           row[10], int(row[11]), int(row[12]))

    def get(self, sid: str) -> SessionInfo:
        """A session by id or by a unique prefix of its id."""
        rows = self.conn.execute(self._SELECT + " WHERE s.id LIKE ? || '%' GROUP BY s.id",
                                 (sid.replace("%", "").replace("_", ""),)).fetchall() if sid else []
        exact = [r for r in rows if r[0] == sid]
        if exact:
            return self._info(exact[0])
        if not rows:
            raise SessionError(f"no session {sid!r} in {self.path} (`ida sessions` lists them)")
        if len(rows) > 1:
            raise SessionError(f"{sid!r} is the start of {len(rows)} session ids; give more of it")
        return self._info(rows[0])

    def list(self) -> list[SessionInfo]:
        rows = self.conn.execute(self._SELECT + " GROUP BY s.id ORDER BY s.updated DESC, s.rowid DESC").fetchall()
        return [self._info(r) for r in rows]

    def latest_open(self) -> SessionInfo | None:
        return next((s for s in self.list() if not s.done), None)

    def finish(self, sid: str, answer: str | None) -> None:
        with self.transaction():
            self.conn.execute("UPDATE sessions SET status = 'done', answer = ?, updated = ? WHERE id = ?",
                              (answer, _now(), sid))

    # -- actions --

    def actions(self, sid: str) -> list[Recorded]:
        rows = self.conn.execute("SELECT id, node, action, source, ws_hash FROM actions "
                                 "WHERE session = ? AND live = 1 ORDER BY id", (sid,))
        return [Recorded(*r) for r in rows]

    def append(self, sid: str, rows: Sequence[tuple[int, str, str, str]],
               remember: tuple[str, str] | None = None) -> None:
        """Store (node, action, source, ws_hash) rows and, when given, an automation entry: one transaction."""
        if not rows and remember is None:
            return
        now = _now()
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO actions (session, node, action, source, ws_hash, at) VALUES (?, ?, ?, ?, ?, ?)",
                [(sid, node, action, source, h, now) for node, action, source, h in rows],
            )
            if remember is not None:
                self.automation.put(remember[0], remember[1], source=rows[-1][2] if rows else PERSON, session=sid)
            self.conn.execute("UPDATE sessions SET updated = ? WHERE id = ?", (now, sid))

    def undo(self, sid: str) -> Recorded | None:
        """Take back the last action the person chose, what followed it, and its automation entry."""
        with self.transaction():
            row = self.conn.execute(
                "SELECT id, node, action, source, ws_hash FROM actions WHERE session = ? AND live = 1 "
                "AND source != 'auto' ORDER BY id DESC LIMIT 1", (sid,)).fetchone()
            if row is None:
                return None
            rec = Recorded(*row)
            self.conn.execute("UPDATE actions SET live = 0 WHERE session = ? AND id >= ?", (sid, rec.row))
            self.conn.execute("DELETE FROM automation WHERE key = ? AND action = ?", (rec.ws_hash, rec.action))
            self.conn.execute("UPDATE sessions SET updated = ? WHERE id = ?", (_now(), sid))
        return rec

    def set_aside(self, sid: str, from_row: int) -> int:
        """Mark the actions from `from_row` on as not live (a replay diverged there); returns how many."""
        with self.transaction():
            return self.conn.execute("UPDATE actions SET live = 0 WHERE session = ? AND id >= ? AND live = 1",
                                     (sid, from_row)).rowcount


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
        raise IdaError(f"--suggest needs the distillation extras (torch): {e}") from None
    return policy_suggester(DistilledPolicy(model_dir))


def policy_suggester(model: object) -> Callable[[Workspace], Suggestion | None]:
    """Wrap any policy with `.act(ws)` (and optionally `.last_confidence`, `.last_failed`) as a suggester."""

    def suggest(ws: Workspace) -> Suggestion | None:
        text = str(model.act(ws)).strip()  # type: ignore[attr-defined]
        if getattr(model, "last_failed", False):
            return None
        try:
            action = check_action(text, ws)
        except (ActionError, HypertextError):
            return None  # a suggestion that would not run is no help
        return action.render(), float(getattr(model, "last_confidence", 0.0) or 0.0)

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
            raise SessionError(f"session {info.id} is finished (answer: {info.answer}); transcript: {info.transcript}")
        self.info = info
        self.store = store
        self.db = db
        self.console = console or Console(highlight=False)
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
        try:
            tree.save(self.info.transcript)
        except OSError as e:  # the session stays open: resuming replays it and saves again
            raise SessionError(f"{self.info.transcript}: cannot save the transcript: {e.strerror or e}") from None
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

    def ask_person(self, ws: Workspace, rendered: str, key: str) -> Action:
        self._just_automated = len(self.pending)
        self.flush()
        action = self.human.act(ws)
        text = action.render()
        source = MODEL if self.human.last_suggested == text else PERSON
        remember = (rendered, text) if self.info.automate else None
        self.store.append(self.info.id, [(ws.node_id, text, source, key)], remember=remember)
        self.counts[source] += 1
        return action

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
            question = self._questions[parent].question_text
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
        self.console.print(tree_view(tree, depth=10_000, width=10_000, marks=marks))
        self.human.show(ws)

    def partial_tree(self) -> tuple[Tree, set[int]]:
        """The tree so far: the stored actions replayed, every open question answered `…`."""
        feed = _Feed([r.action for r in self.store.actions(self.info.id)])
        tree = run(self.info.question, feed, db=self.db, budget=self.info.budget,  # type: ignore[arg-type]
                   max_depth=self.info.max_depth, memo=True, run_id=self.info.id)
        return tree, feed.open


class _SessionPolicy:
    """Replay, then automation, then the person. One per (re)start of the engine."""

    name = POLICY_NAME

    def __init__(self, session: Session, replay: Sequence[Recorded]) -> None:
        self.s = session
        self.replay = deque(replay)
        self.replayed = 0

    def act(self, ws: Workspace) -> Action | str:
        s = self.s
        s.track(ws)
        rendered = ws.render()
        key = workspace_key(rendered)
        if self.replay:
            rec = self.replay.popleft()
            if rec.ws_hash == key:
                self.replayed += 1
                return rec.action
            dropped = s.store.set_aside(s.info.id, rec.row)
            self.replay.clear()
            s.console.print(Text(
                f"warning: workspace #{ws.node_id} differs from the one recorded (the experience database or "
                f"ida changed since); {dropped} recorded action(s) from here on are set aside", style="yellow"))
        if s.info.automate:
            hit = s.store.automation.get(rendered)
            if hit is not None:
                s.pending.append((ws.node_id, hit, AUTO, key))
                s.counts[AUTO] += 1
                return hit
        return s.ask_person(ws, rendered, key)


# ---- convenience for the command line ------------------------------------------------


def open_experience(path: str | Path | None) -> ExperienceDB:
    """The experience database for lookups."""
    return ExperienceDB(resolve_path(path))

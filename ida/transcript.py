"""Transcripts: a tree as JSON Lines, written and read back in one pass, line by line.

Version 2 (written):

    {"kind":"header","schema_version":2,"run_id":"…","task":"sorted","root":0,…}
    {"kind":"message","id":"<address>","text":"is the list $1 sorted?","refs":["<address>"]}
    {"kind":"node","id":0,"question":"<address>","answer":"<address>","lines":[…],"steps":[…]}

Each message is written once, by its content address, before the first line that uses it;
its text is its top level, children named `$1`, `$2`, … in the order of `refs`. A node keeps
its workspace lines once and each step the number of lines it saw (`ws`), as in memory. So
the file grows with the tree, not with its depth times its size.

Version 1 (still read): a header, then one line per node whose question and answer are full
text and whose every step repeats its whole workspace. `read_transcript` gives any version in
that full-text shape.

Every reader goes through one validation (`_Checker`); a problem is one `TranscriptError`
naming the file, line and reason. Reading iterates the file, never splitting its text at once:
`str.splitlines()` would also split inside texts at U+2028, U+0085 and their kin. A loaded
tree keeps only where each node and message lies, with the file open while the tree lives,
and reads a node (rebuilding its messages and checking their addresses) when asked for.
"""

from __future__ import annotations

import os
import stat
from array import array
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, overload

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ida.actions import ActionError, Kind, parse_action
from ida.errors import IdaError
from ida.files import atomic_open
from ida.gcpause import gc_paused
from ida.hypertext import HypertextError, Message, PointerNames, new_parts_first, parse
from ida.tree import Found, LookupRecord, Node, Step, StepCorrects, Tree

SCHEMA_VERSION = 2
READS = (1, 2)

Count = Annotated[int, Field(ge=0, lt=2**63)]  # ids, depths, line counts: no 5,000-digit integers
Address = Annotated[str, Field(pattern=r"^[0-9a-f]{24}$")]


class TranscriptError(IdaError):
    """A transcript file that cannot be read: names the file, line and reason."""


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TranscriptHeader(_Line):
    kind: Literal["header"] = "header"
    schema_version: int = SCHEMA_VERSION
    run_id: str
    task: str | None = None
    root: Count = 0
    db_revision: int | None = None
    created: str = ""
    corrects: str | None = None  # run id, for a transcript of corrected steps
    meta: dict[str, Any] = {}


# ---- version 2 ---------------------------------------------------------------------------


class MessageLine(_Line):
    kind: Literal["message"]
    id: Address
    text: str  # the top level; children as $1, $2, … in the order of refs
    refs: list[Address] = Field(default_factory=list)  # a factory: a [] default is deep-copied per line


class StepLine(_Line):
    kind: Kind | None = None
    action: str
    result: str = ""
    ws: Count = 0  # the workspace the policy saw: the node's first `ws` lines
    child: Count | None = None
    error: str | None = None
    lookup: LookupRecord | None = None
    corrects: StepCorrects | None = None


class NodeLine(_Line):
    kind: Literal["node"]
    id: Count
    question: Address
    answer: Address | None = None
    failure: str | None = None
    policy: str = ""
    parents: list[Count] = Field(default_factory=list)
    depth: Count = 0
    lines: list[str] = Field(default_factory=list)
    steps: list[StepLine] = Field(default_factory=list)


_V2 = TypeAdapter(Annotated[MessageLine | NodeLine, Field(discriminator="kind")])


# ---- version 1, and the full-text view of any version ------------------------------------


class StepRecord(_Line):
    workspace: str
    action: str
    result: str = ""
    child: Count | None = None
    lookup: LookupRecord | None = None
    corrects: StepCorrects | None = None
    kind: Kind | None = None  # absent from version-1 files: derived when they are read
    error: str | None = None


class NodeRecord(_Line):
    kind: Literal["node"] = "node"
    id: Count
    question: str
    answer: str | None = None
    failure: str | None = None
    policy: str = ""
    parents: list[Count] = []
    depth: Count = 0
    steps: list[StepRecord] = []


# ---- writing -----------------------------------------------------------------------------


def header(tree: Tree) -> TranscriptHeader:
    return TranscriptHeader(run_id=tree.run_id, task=tree.task, root=tree.root, db_revision=tree.db_revision,
                            created=tree.created, corrects=tree.corrects, meta=tree.meta)


def transcript_lines(tree: Tree) -> Iterator[str]:
    """The version-2 lines of `tree`, one at a time (no newline)."""
    yield header(tree).model_dump_json()
    written: set[str] = set()
    for node in tree.nodes:
        yield from _message_lines(node.question, written)
        if node.answer is not None:
            yield from _message_lines(node.answer, written)
        yield _node_line(node).model_dump_json(exclude_defaults=True)


def save_transcript(tree: Tree, path: str | Path) -> Path:
    """Write `tree` as a version-2 transcript, atomically (a crash never leaves half a file)."""
    with atomic_open(path) as f:
        for line in transcript_lines(tree):
            f.write(line)
            f.write("\n")
    return Path(path)


def _message_lines(m: Message, written: set[str]) -> Iterator[str]:
    """`m` and the messages inside it not written yet, children first."""
    for x in new_parts_first(m, written):
        written.add(x.address)
        names = PointerNames()
        text = names.render(x)
        line = MessageLine.model_construct(kind="message", id=x.address, text=text,
                                           refs=[c.address for c in names.messages])
        yield line.model_dump_json(exclude_defaults=True)


def _node_line(n: Node) -> NodeLine:
    steps = [StepLine.model_construct(kind=s.kind, action=s.action, result=s.result, ws=s.ws_lines, child=s.child,
                                      error=s.error, lookup=s.lookup, corrects=s.corrects) for s in n.steps]
    return NodeLine.model_construct(kind="node", id=n.id, question=n.question.address,
                                    answer=None if n.answer is None else n.answer.address, failure=n.failure,
                                    policy=n.policy, parents=n.parents, depth=n.depth, lines=n.lines, steps=steps)


# ---- reading -----------------------------------------------------------------------------


def load_transcript(path: str | Path) -> Tree:
    """Read a transcript (any version this ida reads) as a `Tree` whose nodes stay on disk.

    The whole file is validated in one streamed pass that keeps only where each node and
    message lies in it (a few machine words each); a node is read, and its messages rebuilt
    and their addresses checked, when it is asked for. So opening and showing a tree of a
    million nodes holds a few hundred bytes a node, not the tree."""
    return _index(Path(path))[1]


def _index(path: Path) -> tuple[_Checker, Tree]:
    with gc_paused():
        check = _Checker(path)
        for _ in _lines(path, check):
            pass
        check.finish()
    h = check.header
    nodes = _FileNodes(path, check)
    nodes[h.root]  # read now, so a bad root says so at once; other nodes say so when read
    return check, Tree(nodes=nodes, run_id=h.run_id, task=h.task, db_revision=h.db_revision, created=h.created,
                       corrects=h.corrects, meta=h.meta, root=h.root)


class _FileNodes(Sequence[Node]):
    """The nodes of a validated transcript, read from the file when asked for. Recently read
    nodes and messages are kept, within bounds, so walking a tree re-reads little."""

    KEEP_NODES = 1 << 14
    KEEP_MESSAGES = 1 << 16

    def __init__(self, path: Path, check: _Checker) -> None:
        self._path, self._version = path, check.version
        self._node_at, self._message_at = check.node_at, check.message_at
        self._stamp = check.stamp
        self._file = open(path, "rb")  # noqa: SIM115 (closed by the finalizer: the tree owns it)
        weakref.finalize(self, self._file.close)
        self._nodes: dict[int, Node] = {}
        self._messages: dict[str, Message] = {}

    def __len__(self) -> int:
        return len(self._node_at)

    def __repr__(self) -> str:
        return f"<{len(self)} nodes of {self._path}>"

    @overload
    def __getitem__(self, i: int) -> Node: ...
    @overload
    def __getitem__(self, i: slice) -> list[Node]: ...

    def __getitem__(self, i: int | slice) -> Node | list[Node]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"node {i} is not in {self._path}")
        if (node := self._nodes.get(i)) is None:
            if len(self._nodes) >= self.KEEP_NODES:
                self._nodes.clear()
            node = self._nodes[i] = self._read_node(i)
        return node

    def __iter__(self) -> Iterator[Node]:  # not kept: iterating a big tree stays lean
        for i in range(len(self)):
            yield self._nodes.get(i) or self._read_node(i)

    def _read(self, offset: int, model: Any) -> Any:
        st = os.fstat(self._file.fileno())
        if (st.st_size, st.st_mtime_ns) != self._stamp:  # edited in place: the offsets no longer hold
            raise self._changed()
        self._file.seek(offset)
        raw = self._file.readline()
        try:
            return _parse(self._path, 0, raw, model)
        except TranscriptError:
            raise self._changed() from None

    def _changed(self) -> TranscriptError:
        return TranscriptError(f"{self._path}: changed since it was read; load it again")

    def _fail(self, offset: int) -> Callable[[str], TranscriptError]:
        return lambda reason: TranscriptError(f"{self._path}:{_lineno(self._path, offset)}: {reason}")

    def _read_node(self, i: int) -> Node:
        offset = self._node_at[i]
        if self._version == 1:
            rec = self._read(offset, NodeRecord)
            if rec.id != i:
                raise self._changed()
            return _node_v1(rec, self._fail(offset))
        rec = self._read(offset, _V2)
        if not isinstance(rec, NodeLine) or rec.id != i:
            raise self._changed()
        question = self.message(rec.question)
        answer = None if rec.answer is None else self.message(rec.answer)
        steps = [Step(action=s.action, result=s.result, ws_lines=s.ws, child=s.child,
                      lookup=_with_found(s.lookup, s.result), corrects=s.corrects, kind=s.kind, error=s.error)
                 for s in rec.steps]
        return Node(id=rec.id, question=question, depth=rec.depth, policy=rec.policy, parents=rec.parents,
                    steps=steps, lines=rec.lines, answer=answer, failure=rec.failure)

    def message(self, address: str) -> Message:
        """The message at `address`, rebuilt from its line and its children's (no recursion:
        lists nest deep), its address checked against its content."""
        if len(self._messages) >= self.KEEP_MESSAGES:
            self._messages.clear()
        built = self._messages
        stack = [address]
        while stack:
            a = stack[-1]
            if a in built:
                stack.pop()
                continue
            offset = self._message_at[int(a, 16)]
            rec = self._read(offset, _V2)
            if not isinstance(rec, MessageLine) or rec.id != a:
                raise self._changed()
            missing = [r for r in rec.refs if r not in built]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            built[a] = _message(rec, built, self._fail(offset))
        return built[address]


def read_transcript(path: str | Path) -> tuple[TranscriptHeader, list[NodeRecord]]:
    """A transcript of any version as its header and full-text records (each step with its workspace)."""
    tree = load_transcript(path)
    return header(tree), [full_record(n) for n in tree.nodes]


def full_record(n: Node) -> NodeRecord:
    steps = [StepRecord(workspace=n.workspace_at(i), action=s.action, result=s.result, child=s.child,
                        lookup=s.lookup, corrects=s.corrects, kind=s.kind, error=s.error)
             for i, s in enumerate(n.steps)]
    return NodeRecord(id=n.id, question=n.question.text(), answer=n.answer_text, failure=n.failure,
                      policy=n.policy, parents=n.parents, depth=n.depth, steps=steps)


@dataclass
class Summary:
    """What `ida show` prints above a tree, read without building it."""

    header: TranscriptHeader
    nodes: int = 0
    steps: int = 0
    failures: int = 0
    max_depth: int = 0
    question: str | None = None
    answer: str | None = None


def summarize(path: str | Path) -> Summary:
    """What `ida show` prints above a tree, from the one validating pass and the root's node."""
    check, tree = _index(Path(path))
    root = tree.root_node
    return Summary(check.header, nodes=len(tree), steps=check.steps, failures=check.failures,
                   max_depth=check.max_depth, question=root.question.text(), answer=root.answer_text)


def _lines(path: Path, check: _Checker) -> Iterator[tuple[int, MessageLine | NodeLine | NodeRecord]]:
    """Validated records after the header, with their line numbers; the header goes to `check`,
    and each record with where it lies in the file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise TranscriptError(f"{path}: no such file") from None
    except OSError as e:
        raise TranscriptError(f"{path}: cannot read: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):  # a FIFO or a device would block or never end
        raise TranscriptError(f"{path}: not a regular file")
    check.stamp = (st.st_size, st.st_mtime_ns)
    try:
        with open(path, "rb") as f:
            lineno = offset = 0
            for raw in f:  # split at b"\n" only: texts keep U+2028, U+0085, \r (JSON escapes \n)
                lineno += 1
                at, offset = offset, offset + len(raw)
                if not raw.strip():
                    continue
                if check.version is None:
                    check.start(_parse(path, lineno, raw, TranscriptHeader))
                    continue
                rec = _parse(path, lineno, raw, _V2 if check.version == 2 else NodeRecord)
                check.record(lineno, at, rec)
                yield lineno, rec
    except OSError as e:
        raise TranscriptError(f"{path}: cannot read: {e.strerror or e}") from None
    if check.version is None:
        raise TranscriptError(f"{path}:1: empty file, expected a transcript header")


def _parse(path: Path, lineno: int, raw: bytes, model: Any) -> Any:
    try:
        return model.validate_json(raw) if isinstance(model, TypeAdapter) else model.model_validate_json(raw)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        if err["type"] == "json_invalid":
            raise TranscriptError(f"{path}:{lineno}: not JSON: {err['msg'].removeprefix('Invalid JSON: ')}") from None
        loc = [str(p) for p in err["loc"]]
        if loc and loc[0] in ("message", "node") and model is _V2:
            loc = loc[1:]  # the union's tag, not a field
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            raise TranscriptError(f"{path}:{lineno}: kind: expected 'message' or 'node'") from None
        raise TranscriptError(f"{path}:{lineno}: {'.'.join(loc) or 'line'}: {err['msg']}") from None


class _Checker:
    """The one validation every reader shares: version, order of ids, references to messages and
    nodes that exist, workspace counts within the lines, and no node its own descendant.

    It keeps a few machine words a node (arrays, not objects), so streaming stays lean."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.version: int | None = None
        self.header: TranscriptHeader
        self.message_at: dict[int, int] = {}  # address as an integer (40 bytes, not 73) -> offset
        self.node_at = array("q")  # node id -> its offset in the file
        self.steps = self.failures = self.max_depth = 0
        self.stamp = (0, 0)  # size and mtime when the pass began: a later change is noticed
        self.first_edge = array("q", [0])  # node id -> where its children start in `edges`
        self.edges = array("q")  # children, node by node
        self.max_parent = -1

    def fail(self, lineno: int, reason: str) -> TranscriptError:
        return TranscriptError(f"{self.path}:{lineno}: {reason}")

    def start(self, h: TranscriptHeader) -> None:
        if h.schema_version > SCHEMA_VERSION:
            raise self.fail(1, f"schema version {h.schema_version} is newer than this ida reads "
                               f"({SCHEMA_VERSION}); upgrade ida")
        if h.schema_version not in READS:
            raise self.fail(1, f"unknown schema version {h.schema_version} (this ida reads {READS[0]}-{READS[-1]})")
        self.header, self.version = h, h.schema_version

    def record(self, lineno: int, offset: int, rec: MessageLine | NodeLine | NodeRecord) -> None:
        if isinstance(rec, MessageLine):
            for ref in rec.refs:
                self.known(lineno, ref)
            self.message_at[int(rec.id, 16)] = offset
            return
        n = len(self.node_at)
        if rec.id != n:
            raise self.fail(lineno, f"node id {rec.id} out of order, expected {n}")
        if isinstance(rec, NodeLine):
            self.known(lineno, rec.question)
            if rec.answer is not None:
                self.known(lineno, rec.answer)
            for i, s in enumerate(rec.steps):
                if s.ws > len(rec.lines):
                    raise self.fail(lineno, f"steps.{i}.ws: {s.ws} lines seen, the node has {len(rec.lines)}")
        self.node_at.append(offset)
        self.steps += len(rec.steps)
        self.failures += rec.failure is not None
        self.max_depth = max(self.max_depth, rec.depth)
        self.edges.extend(s.child for s in rec.steps if s.child is not None)
        self.first_edge.append(len(self.edges))
        if rec.parents:
            self.max_parent = max(self.max_parent, max(rec.parents))

    def known(self, lineno: int, address: str) -> None:
        if int(address, 16) not in self.message_at:
            raise self.fail(lineno, f"message {address} is used before it is defined")

    def finish(self) -> None:
        """Checks that need every node: the root, children and parents exist, no cycle."""
        n = len(self.node_at)
        if n == 0:
            raise self.fail(1, "a header and no nodes")
        if not self.header.root < n:
            raise self.fail(1, f"root {self.header.root} is not a node of this transcript")
        if self.max_parent >= n:
            raise self.fail(1, f"parent {self.max_parent} is not a node of this transcript")
        indegree = array("q", bytes(8 * n))
        for node in range(n):
            for j in range(self.first_edge[node], self.first_edge[node + 1]):
                child = self.edges[j]
                if child >= n:
                    raise self.fail(_lineno(self.path, self.node_at[node]), f"a step points to missing node {child}")
                indegree[child] += 1
        ready = [i for i in range(n) if indegree[i] == 0]  # Kahn: a DAG empties, a cycle is left over
        done = 0
        while ready:
            node = ready.pop()
            done += 1
            for j in range(self.first_edge[node], self.first_edge[node + 1]):
                child = self.edges[j]
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        if done < n:
            node = next(i for i in range(n) if indegree[i])
            raise self.fail(_lineno(self.path, self.node_at[node]), f"node {node} is its own descendant (a cycle)")


def _lineno(path: Path, offset: int) -> int:
    """The line at byte `offset`, counted only for an error: no line number is kept per node."""
    with open(path, "rb") as f:
        return f.read(offset).count(b"\n") + 1


def _message(rec: MessageLine, messages: dict[str, Message], fail: Callable[[str], TranscriptError]) -> Message:
    try:
        m = parse(rec.text, [messages[a] for a in rec.refs])
    except HypertextError as e:
        raise fail(f"text: {e}") from None
    if m.address != rec.id:
        raise fail(f"id {rec.id} is not the address of this message ({m.address})")
    return m


def _node_v1(rec: NodeRecord, fail: Callable[[str], TranscriptError]) -> Node:
    try:
        question = parse(rec.question)
        answer = None if rec.answer is None else parse(rec.answer)
    except HypertextError as e:
        raise fail(str(e)) from None
    node = Node(id=rec.id, question=question, depth=rec.depth, policy=rec.policy, parents=rec.parents,
                answer=answer, failure=rec.failure)
    for s in rec.steps:
        # Workspaces grow by appending lines, so each step's workspace is a prefix of the last.
        ws = s.workspace.split("\n") if s.workspace else []
        if len(ws) > len(node.lines):
            node.lines = ws
        kind, error = _v1_kind(s)
        node.steps.append(Step(action=s.action, result=s.result, ws_lines=len(ws), child=s.child,
                               lookup=_with_found(s.lookup, s.result), corrects=s.corrects, kind=kind, error=error))
    return node


def _with_found(lookup: LookupRecord | None, result: str) -> LookupRecord | None:
    """Files written before lookups kept their entries as data have only the rendered result,
    one `[e<id>] key: text` line per entry (entries are one line): read the entries back from
    it, here only. A result in any other shape leaves them unknown."""
    if lookup is None or lookup.found or not lookup.entry_ids:
        return lookup
    lines = result.split("\n")
    if len(lines) != len(lookup.entry_ids):
        return lookup
    found = []
    for i, line in zip(lookup.entry_ids, lines):
        key, sep, text = line.removeprefix(f"[e{i}] ").partition(": ")
        if not line.startswith(f"[e{i}] ") or not sep:
            return lookup
        found.append(Found(id=i, key=key, text=text))
    return lookup.model_copy(update={"found": found})


def _v1_kind(s: StepRecord) -> tuple[Kind | None, str | None]:
    """Version 1 did not record a step's kind or error: derive them, here and nowhere else.
    The engine showed a refused command as `error: <reason>`, with no child and no lookup."""
    if s.kind is not None or s.error is not None:
        return s.kind, s.error
    try:
        kind: Kind | None = parse_action(s.action).kind
    except ActionError as e:
        return None, str(e)
    refused = s.result.startswith("error: ") and s.child is None and s.lookup is None
    return kind, s.result[len("error: "):] if refused else None

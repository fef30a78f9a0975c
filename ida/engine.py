"""Run a question to a `Tree`: one policy call per action, one explicit stack of open nodes.

The loop is iterative so a tree 10,000 deep never touches Python's recursion limit.
`ask` suspends the asking node and opens a child; the child's reply resumes the parent.
With memoization an identical question reuses the node already answered, so the tree is a
DAG and costs one node per distinct question. An answer whose subtree looked nothing up holds
at any database revision; one that did is reused only while the database stands at the
revision its lookups read, so a write by another process is seen and nothing stale is reused. A question that is its own ancestor is a loop; an exhausted budget or depth
limit gives failure answers, never an exception.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ida.actions import FAILED, Action, ActionError, as_action
from ida.gcpause import gc_paused
from ida.hypertext import HypertextError, Message, parse
from ida.policy import Policy, policy_name
from ida.tree import Found, LookupRecord, Node, Step, Tree
from ida.workspace import Workspace

if TYPE_CHECKING:
    from ida.experience import ExperienceDB

LOOKUP_K = 5


# One loop with its four small closures, kept whole on purpose so it reads top to bottom:
# ruff counts the closures' branches into run's, hence the noqa.
def run(  # noqa: C901
    question: str | Message,
    policy: Policy,
    db: ExperienceDB | None = None,
    budget: int = 100_000,
    max_depth: int = 1_000,
    memo: bool = True,
    task: str | None = None,
    run_id: str | None = None,
) -> Tree:
    """Answer `question` with `policy`; `budget` bounds the total number of actions."""
    root_q = parse(question) if isinstance(question, str) else question
    name = policy_name(policy)
    nodes: list[Node] = []
    stack: list[tuple[Node, Workspace]] = []
    open_questions: set[str] = set()  # addresses on the stack: the loop guard
    answered: dict[str, int] = {}  # memo, answers that looked nothing up: address -> node id
    answered_at: dict[str, tuple[int, int]] = {}  # answers that did: address -> (revision read, node id)
    read_at: dict[int, int] = {}  # node id -> the lowest revision its subtree's lookups read
    left = budget

    def open_node(q: Message, depth: int, parent: int | None) -> Node:
        node = Node(id=len(nodes), question=q, depth=depth, policy=name,
                    parents=[] if parent is None else [parent])
        ws = Workspace(node.id, q, depth)
        node.lines = ws.lines  # the node's record shares the workspace's lines: nothing copied
        nodes.append(node)
        stack.append((node, ws))
        open_questions.add(q.address)
        return node

    def close_node(node: Node, answer: Message, failure: str | None = None) -> None:
        node.answer, node.failure = answer, failure
        stack.pop()
        open_questions.discard(node.question.address)
        if failure is None and memo:
            address = node.question.address
            if (rev := read_at.get(node.id)) is None:
                answered[address] = node.id
            elif rev >= answered_at.get(address, (rev, 0))[0]:  # revisions only grow: keep the latest
                answered_at[address] = (rev, node.id)
        if stack:
            parent, pws = stack[-1]
            rests_on(parent.id, read_at.get(node.id))
            deliver(parent, pws, parent.steps[-1], answer)

    def rests_on(node_id: int, rev: int | None) -> None:
        """The node's answer rests on the database at `rev` (a lookup of its own or below it)."""
        if rev is not None:
            read_at[node_id] = min(rev, read_at.get(node_id, rev))

    def memo_hit(address: str) -> int | None:
        """The node that answered `address`, if its answer holds now. The database is read only
        for an answer that looked something up, and it holds only at the lowest revision its
        lookups read: a higher one means the database changed under them."""
        if (hit := answered.get(address)) is not None:
            return hit
        if db is not None and (at := answered_at.get(address)) is not None and at[0] == db.revision:
            return at[1]
        return None

    def deliver(node: Node, ws: Workspace, step: Step, answer: Message) -> None:
        step.result = ws.show(answer)
        ws.record(step.action, f"answer: {step.result}", step.result, "ask")

    open_node(root_q, 0, None)
    with gc_paused():
        while stack:
            node, ws = stack[-1]
            if left <= 0:
                close_node(node, _failure("budget exhausted"), "budget exhausted")
                continue
            ws.budget_left = left
            raw = policy.act(ws)
            left -= 1
            step = Step(action=str(raw).strip(), ws_lines=len(ws.lines))
            node.steps.append(step)
            try:
                action = as_action(raw)
                step.kind = action.kind
                if action.kind == "reply":
                    close_node(node, parse(action.arg, ws.names))
                elif action.kind == "ask":
                    q = parse(action.arg, ws.names)
                    step.action = f"ask {ws.show(q)}"
                    reason = None
                    if q.address in open_questions:
                        reason = "loop: the question is its own ancestor"
                    elif node.depth + 1 > max_depth:
                        reason = f"depth limit {max_depth} reached"
                    if reason is not None:
                        deliver(node, ws, step, _failure(reason))
                    elif memo and (hit := memo_hit(q.address)) is not None:
                        step.child = hit
                        nodes[hit].parents.append(node.id)
                        rests_on(node.id, read_at.get(hit))
                        deliver(node, ws, step, nodes[hit].answer)  # type: ignore[arg-type]
                    else:
                        step.child = len(nodes)
                        open_node(q, node.depth + 1, node.id)
                else:
                    step.action = action.render()
                    _local(action, ws, step, db)
                    if step.lookup is not None and db is not None:
                        rests_on(node.id, step.lookup.revision)
            except (ActionError, HypertextError) as e:
                # A malformed action costs a step and is shown to the policy, which may try again.
                step.error = str(e)
                step.result = f"error: {e}"
                ws.record(step.action, step.result, step.result, step.kind, step.error)

    return Tree(nodes=nodes, run_id=run_id or uuid.uuid4().hex[:12], task=task,
                db_revision=db.revision if db is not None else None, created=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _local(action: Action, ws: Workspace, step: Step, db: ExperienceDB | None) -> None:
    """The actions a node carries out itself: unlock, lookup, scratch."""
    if action.kind == "unlock":
        m = ws.names.get(action.pointer)
        if m is None:
            raise ActionError(f"unknown pointer {action.arg}")
        step.result = ws.show(m)
        ws.record(step.action, f"{action.arg}: {step.result}" if step.result else f"{action.arg} is empty", step.result,
                  "unlock")
    elif action.kind == "lookup":
        entries, revision = db.lookup_with_revision(action.arg, k=LOOKUP_K) if db is not None else ([], 0)
        found = [Found(id=e.id, key=e.key, text=e.text) for e in entries]
        step.lookup = LookupRecord(query=action.arg, entry_ids=[e.id for e in found], revision=revision, found=found)
        step.result = "\n".join(e.render() for e in found) or "nothing found"
        ws.found = found
        ws.record(step.action, step.result, step.result, "lookup")
    else:  # scratch: a note to self, shown in the workspace
        ws.record(step.action, "", "", "scratch")


def _failure(reason: str) -> Message:
    return Message((FAILED + reason,))

"""Three overseers: local rules, a ground-truth oracle, and a person at the terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ida.actions import ActionError, parse_action
from ida.errors import IdaError
from ida.overseer.backward import Visit
from ida.overseer.blame import Blame, Correction, Edit, NodeContext, Rule
from ida.tree import Node, Tree


def _first_rule(rules: Iterable[Rule], question: str) -> Rule | None:
    return next((fn for fn in rules if fn.pattern.fullmatch(question)), None)


def _blame_by(fn: Rule, ctx: NodeContext, target: str) -> Blame:
    """A rule's blame; a rule that raises is a note on its node (counted unexplained), not the end of the pass."""
    try:
        return fn(ctx, target)
    except Exception as e:  # a task's rules are the user's code
        return Blame(note=f"rule {getattr(fn, '__name__', 'rule')} raised {type(e).__name__}: {e}")


class NoRule(IdaError):
    """A strict RuleOverseer met a question that no rule covers."""


class RuleOverseer:
    """Local rules registered per kind of question, like each operator's backward in autograd."""

    name = "rules"

    def __init__(self, rules: Iterable[Rule], strict: bool = False) -> None:
        """`strict`: a question no rule covers raises `NoRule`, so rule coverage can be tested."""
        self.rules, self.strict = list(rules), strict

    def blame(self, node: Node, target: str, tree: Tree) -> Blame:
        if node.answer_text == target:
            return Blame(ok=True)
        ctx = NodeContext(node, tree)
        fn = _first_rule(self.rules, ctx.question)
        if fn is None and self.strict:
            raise NoRule(f"no rule for node #{node.id}'s question: {ctx.question}")
        return _blame_by(fn, ctx, target) if fn else Blame(note="no rule for this kind of question")


class OracleOverseer:
    """Ground truth for every subquestion the task can solve; local rules for the rest.

    Subanswers that disagree with the truth get the truth as their target. A node whose
    subanswers are all right is itself at fault: its task rule says how (a lookup that
    misled, say), or else its reply is corrected to the target.
    """

    name = "oracle"

    def __init__(self, solve: Callable[[str], str], rules: Iterable[Rule] = ()) -> None:
        self.solve, self.rules = solve, list(rules)
        self.unjudged: dict[str, str] = {}  # question -> what the ground truth raised on it

    def truth(self, question: str) -> str | None:
        """The ground truth, or None for a question the oracle cannot judge (its solve raised)."""
        try:
            return str(self.solve(question))
        except Exception as e:  # anything: a task's solve is the user's code
            self.unjudged[question] = f"{type(e).__name__}: {e}"
            return None

    def blame(self, node: Node, target: str, tree: Tree) -> Blame:
        if node.answer_text == target:
            return Blame(ok=True)
        ctx = NodeContext(node, tree)
        wrong = {}
        for child in ctx.children():
            truth = self.truth(child.question.text())
            if truth is not None and child.answer_text != truth:
                wrong[child.id] = truth
        unjudged = [f"the ground truth raised on {q!r}: {self.unjudged[q]}" for q in
                    dict.fromkeys(c.question.text() for c in ctx.children()) if q in self.unjudged]
        if wrong:
            return Blame(targets=wrong, note="; ".join(["subanswers disagree with the ground truth", *unjudged]))
        fn = _first_rule(self.rules, ctx.question)
        if fn is not None:
            local = _blame_by(fn, ctx, target)
            if local.blamed:
                return local
        if ctx.reply_step is None:
            return Blame(note="; ".join([f"no reply to correct ({node.failure or 'unanswered'})", *unjudged]))
        judged = "inputs right, reply wrong" if not unjudged else "the inputs it could judge right, reply wrong"
        return Blame(correction=Correction(ctx.reply_step, f"reply {target}"), note="; ".join([judged, *unjudged]))


HUMAN_HELP = """commands (one per line; an empty line or `done` when finished with this node):
  ok                         the node already gives its target
  target <child#> <answer>   what subquestion #child should have answered
  add <key>: <sentence>      add an entry to the experience database
  edit <entry#> <sentence>   reword an entry       rm <entry#>   remove an entry
  correct <step#> <action>   the action this node should have taken at that step (steps are numbered [n] above)
  note <text>                a remark kept in the report
  help                       this list"""


class HumanOverseer:
    """A person assigns the blame at the terminal, node by node.

    A node that already gives its target is passed (ok) without asking: its subtree is right."""

    name = "human"

    def __init__(self, ask: Callable[[str], str] = input, show: Callable[[str], None] = print) -> None:
        self.ask, self.show = ask, show
        self.unfinished: Visit | None = None  # the node being blamed when the person left, as typed so far

    def blame(self, node: Node, target: str, tree: Tree) -> Blame:
        ctx = NodeContext(node, tree)
        if node.answer_text == target:
            self.show(f"\nnode #{node.id} already answers {target}: ok")
            return Blame(ok=True)
        self.show(f"\nnode #{node.id}: {ctx.question}\n  answered: {ctx.answer}\n  should be: {target}")
        self.show(steps_view(node))
        self.show("children: " + (", ".join(f"#{c.id} {c.question.text()} -> {c.answer_text}" for c in ctx.children()) or "none"))
        blame = Blame()
        while True:
            try:
                line = self.ask("blame> ").strip()
            except (KeyboardInterrupt, EOFError):  # Ctrl-C and Ctrl-D alike: keep what was typed here
                for e in blame.edits:
                    e.node = node.id
                if blame.correction:
                    blame.correction.node = node.id
                self.unfinished = Visit(node.id, target, blame) if blame.blamed or blame.targets or blame.note else None
                raise
            if line in ("", "done"):
                return blame
            if line in ("help", "?"):
                self.show(HUMAN_HELP)
                continue
            try:
                if self._command(line, blame, ctx):
                    return blame
            except (ValueError, IndexError, ActionError) as e:
                self.show(f"not understood: {line!r} ({e}); `help` lists the commands")

    @staticmethod
    def _command(line: str, blame: Blame, ctx: NodeContext) -> bool:
        """Apply one command to `blame`; True when the node is settled."""
        verb, _, rest = line.partition(" ")
        if verb == "ok":
            blame.ok = True
            return True
        if verb == "target":
            cid, answer = rest.split(" ", 1)
            cid_n = int(cid.lstrip("#"))
            if cid_n not in {c.id for c in ctx.children()}:
                raise ValueError(f"#{cid_n} is not a child")
            blame.targets[cid_n] = answer.strip()
        elif verb == "add":
            key, text = (s.strip() for s in rest.split(":", 1))
            blame.edits.append(Edit("add", key=key, text=text, reason="overseer at the terminal"))
        elif verb == "edit":
            eid, text = rest.split(" ", 1)
            blame.edits.append(Edit("edit", entry_id=int(eid.lstrip("e#")), text=text.strip(), reason="overseer at the terminal"))
        elif verb == "rm":
            blame.edits.append(Edit("remove", entry_id=int(rest.strip().lstrip("e#")), reason="overseer at the terminal"))
        elif verb == "correct":
            step, action = rest.split(" ", 1)
            i = int(step.strip("[]#"))
            if not 0 <= i < len(ctx.node.steps):
                raise ValueError(f"no step {i}; this node has steps 0 to {len(ctx.node.steps) - 1}")
            rendered = parse_action(action).render()
            if rendered == ctx.node.steps[i].action:
                raise ValueError(f"step {i} already did `{rendered}`: a correction must change it")
            blame.correction = Correction(i, rendered)
        elif verb == "note":
            blame.note = rest
        else:
            raise ValueError(f"unknown command {verb!r}")
        return False


def steps_view(node: Node) -> str:
    """A node's steps numbered as `correct <step#>` takes them, each with what it showed."""
    lines = [f"  question: {node.lines[0][len('question: '):]}" if node.lines else ""]
    for i, s in enumerate(node.steps):
        lines.append(f"  [{i}] {s.action}")
        lines += [f"        {r}" for r in (s.result.split("\n") if s.result else [])]
    return "\n".join(lines)

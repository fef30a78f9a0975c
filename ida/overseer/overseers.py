"""Three overseers: local rules, a ground-truth oracle, and a person at the terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ida.actions import ActionError, parse_action
from ida.overseer.blame import Blame, Correction, Edit, NodeContext, Rule
from ida.tree import Node, Tree


def _first_rule(rules: Iterable[Rule], question: str):
    return next((fn for pattern, fn in rules if pattern.fullmatch(question)), None)


class RuleOverseer:
    """Local rules registered per kind of question, like each operator's backward in autograd."""

    name = "rules"

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = list(rules)

    def blame(self, node: Node, target: str, tree: Tree) -> Blame:
        if node.answer_text == target:
            return Blame(ok=True)
        ctx = NodeContext(node, tree)
        fn = _first_rule(self.rules, ctx.question)
        return fn(ctx, target) if fn else Blame(note="no rule for this kind of question")


class OracleOverseer:
    """Ground truth for every subquestion the task can solve; local rules for the rest.

    Subanswers that disagree with the truth get the truth as their target. A node whose
    subanswers are all right is itself at fault: its task rule says how (a lookup that
    misled, say), or else its reply is corrected to the target.
    """

    name = "oracle"

    def __init__(self, solve: Callable[[str], str], rules: Iterable[Rule] = ()) -> None:
        self.solve, self.rules = solve, list(rules)

    def truth(self, question: str) -> str | None:
        try:
            return self.solve(question)
        except (ValueError, KeyError, IndexError):
            return None  # a question the oracle cannot judge

    def blame(self, node: Node, target: str, tree: Tree) -> Blame:
        if node.answer_text == target:
            return Blame(ok=True)
        ctx = NodeContext(node, tree)
        wrong = {}
        for child in ctx.children():
            truth = self.truth(child.question.text())
            if truth is not None and child.answer_text != truth:
                wrong[child.id] = truth
        if wrong:
            return Blame(targets=wrong, note="subanswers disagree with the ground truth")
        fn = _first_rule(self.rules, ctx.question)
        if fn is not None:
            local = fn(ctx, target)
            if local.blamed:
                return local
        if ctx.reply_step is None:
            return Blame(note=f"no reply to correct ({node.failure or 'unanswered'})")
        return Blame(correction=Correction(ctx.reply_step, f"reply {target}"), note="inputs right, reply wrong")


HUMAN_HELP = """commands (one per line, empty line or `done` when finished with this node):
  ok                         the node already gives its target
  target <child#> <answer>   what subquestion #child should have answered
  add <key>: <sentence>      add an entry to the experience database
  edit <entry#> <sentence>   reword an entry       rm <entry#>   remove an entry
  correct <step#> <action>   the action this node should have taken at that step
  note <text>                a remark kept in the report"""


class HumanOverseer:
    """A person assigns the blame at the terminal, node by node."""

    name = "human"

    def __init__(self, ask: Callable[[str], str] = input, show: Callable[[str], None] = print) -> None:
        self.ask, self.show = ask, show

    def blame(self, node: Node, target: str, tree: Tree) -> Blame:
        ctx = NodeContext(node, tree)
        last = len(node.steps) - 1
        self.show(f"\nnode #{node.id}: {ctx.question}\n  answered: {ctx.answer}\n  should be: {target}")
        if last >= 0:
            self.show(node.workspace_at(last) + f"\n> {node.steps[last].action}")
        self.show("children: " + (", ".join(f"#{c.id} {c.question.text()} -> {c.answer_text}" for c in ctx.children()) or "none"))
        blame = Blame()
        while True:
            line = self.ask("blame> ").strip()
            if line in ("", "done"):
                return blame
            try:
                if self._command(line, blame, ctx):
                    return blame
            except (ValueError, IndexError, ActionError) as e:
                self.show(f"not understood: {line!r} ({e})\n{HUMAN_HELP}")

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
            if not 0 <= int(step) < len(ctx.node.steps):
                raise ValueError("no such step")
            blame.correction = Correction(int(step), parse_action(action).render())
        elif verb == "note":
            blame.note = rest
        else:
            raise ValueError(verb)
        return False

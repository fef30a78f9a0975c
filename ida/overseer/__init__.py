"""The overseer backward pass: `backward`, the overseers, `apply`, and the `fix` loop."""

from ida.overseer.apply import Applied, FixResult, FixStep, apply, corrections_tree, fix
from ida.overseer.backward import Conflict, Overseer, Report, Visit, backward
from ida.overseer.blame import Blame, Correction, Edit, NodeContext, Rule, local_step, rule
from ida.overseer.counterfactual import Counterfactual, Forced
from ida.overseer.overseers import HumanOverseer, OracleOverseer, RuleOverseer

__all__ = [
    "Applied", "Blame", "Conflict", "Correction", "Counterfactual", "Edit", "FixResult", "FixStep", "Forced",
    "HumanOverseer", "NodeContext",
    "OracleOverseer", "Overseer", "Report", "Rule", "RuleOverseer", "Visit", "apply", "backward",
    "corrections_tree", "fix", "local_step", "rule",
]

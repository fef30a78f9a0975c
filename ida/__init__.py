"""ida: iterated amplification and distillation.

    tree = ida.run("What is 351 * 5019?", ida.tasks.get("multiply").policy)

`import ida` stays light (no torch); `ida.distill` brings the models.
"""

from ida.actions import Action, ActionError, failed, parse_action
from ida.engine import run
from ida.errors import IdaError
from ida.hypertext import HypertextError, Message, parse
from ida.policies.scripted import scripted
from ida.policy import Policy
from ida.transcript import load_transcript
from ida.tree import Node, Step, Tree
from ida.workspace import Workspace

__all__ = [
    "Action", "ActionError", "HypertextError", "IdaError", "Message", "Node", "Policy", "Step", "Tree",
    "Workspace", "failed", "load_transcript", "parse", "parse_action", "run", "scripted",
]

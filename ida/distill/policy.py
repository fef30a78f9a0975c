"""Distilled models as policies, and deferring to a fallback where the model is unsure.

`DistilledPolicy` writes the next command greedily; text that is not a command counts as
a failure and becomes a safe failure reply, never an exception inside the engine.
`Deferring` acts only when the model is confident and otherwise asks the fallback (the
amplified tree, a script, a person), counting how often: the rate should fall as the
model learns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from ida.actions import Action, ActionError, parse_action
from ida.distill.checkpoint import Calibration, load_checkpoint
from ida.distill.data import UNPARSEABLE, Mode
from ida.distill.model import Transformer, Generation
from ida.hypertext import HypertextError, parse

CACHE_MAX = 100_000


class _Workspace(Protocol):
    def render(self) -> str: ...

    @property
    def question_text(self) -> str: ...


def command(g: Generation, workspace: Any, mode: Mode = "policy") -> str | None:
    """The command a generation stands for, or None where it is not one the engine would take."""
    text = g.text.strip() if mode == "policy" else f"reply {g.text.strip()}"
    if not g.finished:
        return None  # ran out of room before the end of the command
    try:
        action = parse_action(text)
        if action.kind in ("ask", "reply"):  # the engine would reject a malformed message: fail here, counted
            parse(action.arg, getattr(workspace, "names", ()))
    except (ActionError, HypertextError):
        return None
    return text


class DistilledPolicy:
    def __init__(
        self,
        source: str | Path | Transformer,
        mode: Mode | None = None,
        device: str = "cpu",
        name: str | None = None,
        max_new: int | None = None,
    ) -> None:
        self.calibration: Calibration | None = None  # how often each confidence was right on held-out pairs
        if isinstance(source, Transformer):
            self.model, self.mode = source, mode or "policy"
            label = "model"
        else:
            self.model, meta = load_checkpoint(source, device)
            self.mode, self.calibration = mode or meta.mode, meta.calibration
            label = Path(source).name
        self.model.eval()
        self.max_new = max_new  # tokens to write at most; None: the model's max_completion
        self.name = name or f"distilled:{label}"
        self.last_confidence = 0.0
        self.last_failed = False
        self.calls = 0
        self.failures = 0
        self.unseen_tokens = 0  # prompt tokens the training text never used (an unseen character's bytes)
        # Greedy output is a function of the prompt: an answer model is asked the same question
        # at every step of a node a fallback decomposes, and iterate prefills it in batches.
        self._cache: dict[str, Generation] = {}

    def confidence_note(self, confidence: float) -> str:
        """How often the held-out outputs of about this confidence were right ("" where not measured)."""
        return "" if self.calibration is None else self.calibration.describe(confidence)

    def prompt(self, workspace: _Workspace) -> str:
        return workspace.render() if self.mode == "policy" else workspace.question_text

    def prefill(self, prompts: list[str], batch_size: int = 64) -> None:
        """Generate for many prompts at once (batched), so later `act` calls are lookups."""
        todo = list(dict.fromkeys(p for p in prompts if p not in self._cache))
        for i in range(0, len(todo), batch_size):
            chunk = todo[i : i + batch_size]
            self._remember(zip(chunk, self.model.generate_batch(chunk, self.max_new)))

    def _remember(self, items: Any) -> None:
        if len(self._cache) > CACHE_MAX:
            self._cache.clear()
        for prompt, g in items:  # counted once per distinct prompt, when it is first generated for
            self.unseen_tokens += self.model.codec.unseen(self.model.codec.encode(prompt))
            self._cache[prompt] = g

    def act(self, workspace: _Workspace) -> str:
        self.calls += 1
        prompt = self.prompt(workspace)
        g = self._cache.get(prompt)
        if g is None:
            g = self.model.generate_batch([prompt], self.max_new)[0]
            self._remember([(prompt, g)])
        text = command(g, workspace, self.mode)
        if text is None:
            self.failures += 1
            self.last_failed, self.last_confidence = True, 0.0
            return UNPARSEABLE
        self.last_failed, self.last_confidence = False, g.confidence
        return text


class Deferring:
    """Act with the model when its confidence is at least `threshold`, else ask `fallback`."""

    def __init__(self, model: DistilledPolicy, fallback: Any, threshold: float = 0.9, name: str | None = None) -> None:
        self.model, self.fallback, self.threshold = model, fallback, threshold
        self.name = name or f"deferring({model.name}, {getattr(fallback, 'name', type(fallback).__name__)})"
        self.acted = 0
        self.deferred = 0

    def act(self, workspace: _Workspace) -> str | Action:
        action = self.model.act(workspace)
        if not self.model.last_failed and self.model.last_confidence >= self.threshold:
            self.acted += 1
            return action
        self.deferred += 1
        return self.fallback.act(workspace)

    @property
    def rate(self) -> float:
        """Fraction of calls handed to the fallback."""
        total = self.acted + self.deferred
        return self.deferred / total if total else 0.0

"""H', the learned decomposer inside Amplify(H', M): it takes a node when sure, H takes it otherwise.

A node is H's or the model's from its first step to its reply: a scripted H keeps a node's
script in the node's workspace and cannot take over halfway. So the model must be sure of
every step: where it is unsure halfway, the question goes to H, who does the whole node over
in the next wave (`handed_back`). The model's actions come from batched generation: during a
wave of `amplified_answers`, a workspace it has not seen yet is noted in `missing` and the node
waits (answers as a failure for that wave); the wave after, its action is there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Sequence

import torch

from ida.distill.checkpoint import CheckpointMeta, save_checkpoint
from ida.distill.data import UNPARSEABLE, Pair, data_hash
from ida.distill.model import Generation, Transformer, model_config
from ida.distill.policy import command
from ida.distill.train import Learner, codec_for
from ida.actions import FAILED
from ida.tasks import Task
from ida.workspace import Workspace

PENDING = FAILED + "waiting for the model"  # an answer not there yet: the next wave will have it
WAITING = f"reply {PENDING}"
MODEL_NODE = "learned decomposer"  # the mark a node taken by the model carries in its workspace


class LearnedDecomposer:
    def __init__(self, model: Transformer, task: Task, min_confidence: float) -> None:
        self.model, self.task, self.min_confidence = model, task, min_confidence
        self.actions: dict[str, Generation] = {}
        self.missing: set[str] = set()
        self.handed_back: set[str] = set()  # questions it was unsure of halfway: H does them over
        self.redo = False  # a question was handed back in this wave: another wave is needed
        self.name = f"deferring(H', {task.policy.name})"

    def generate_missing(self, batch_size: int = 64) -> None:
        todo = sorted(self.missing)
        for i in range(0, len(todo), batch_size):
            chunk = todo[i : i + batch_size]
            self.actions.update(zip(chunk, self.model.generate_batch(chunk)))
        self.missing.clear()

    def act(self, ws: Workspace) -> Any:
        """The model's action on a node it holds, H's on a node H holds."""
        if ws.policy_state is not None and ws.policy_state != MODEL_NODE:
            return self.task.policy.act(ws)  # H's node: its script goes on
        if ws.policy_state is None and ws.question_text in self.handed_back:
            return self.task.policy.act(ws)
        if ws.last_result == PENDING:
            return WAITING  # a subanswer is still to come: act on the workspace that has it, next wave
        prompt = ws.render()
        g = self.actions.get(prompt)
        if g is None:
            self.missing.add(prompt)
            return WAITING
        if not (g.finished and g.confidence >= self.min_confidence):
            if ws.policy_state is None:
                return self.task.policy.act(ws)  # unsure of the first step: H takes the node
            self.handed_back.add(ws.question_text)  # unsure halfway: H does the node over, next wave
            self.redo = True
            return WAITING
        ws.policy_state = MODEL_NODE
        if (ws.last_result or "").startswith("error: "):
            return UNPARSEABLE  # the engine refused its last command: end the node rather than let it retry
        text = command(g, ws)
        return UNPARSEABLE if text is None else text  # a failure answer: no target is built on it


class DecomposerTrainer:
    """H' and its schooling: each round it trains on every decomposition H has made so far."""

    def __init__(self, task: Task, size: str, total_steps: int, lr: float, seed: int, min_confidence: float,
                 device: torch.device) -> None:
        self.task, self.size, self.total, self.lr, self.seed = task, size, total_steps, lr, seed
        self.min_confidence, self.device = min_confidence, device
        self.pairs: dict[Pair, None] = {}  # H's decompositions so far, in order, once each
        self.decomposer: LearnedDecomposer | None = None  # made from H's first decompositions
        self.learner: Learner | None = None

    def learn(self, h_pairs: Sequence[Pair], steps: int, batch_size: int) -> LearnedDecomposer:
        self.pairs.update(dict.fromkeys(h_pairs))
        if self.decomposer is None or self.learner is None:
            torch.manual_seed(self.seed)
            model = Transformer(model_config(self.size), codec_for(list(self.pairs))).to(self.device)
            self.decomposer = LearnedDecomposer(model, self.task, self.min_confidence)
            self.learner = Learner(model, self.total, self.lr, self.seed)
        self.learner.fit(self.learner.encode(list(self.pairs)), steps, batch_size)
        self.decomposer.actions.clear()  # its weights moved: the cached actions are stale,
        self.decomposer.handed_back.clear()  # and so is what it was unsure of
        return self.decomposer

    def save(self, where: Path, step: int) -> None:
        """H' as a policy checkpoint, loadable by `ida eval` and `DistilledPolicy`."""
        assert self.decomposer is not None
        meta = CheckpointMeta(size=self.size, model=self.decomposer.model.cfg, data_hash=data_hash(self.pairs),
                              mode="policy", step=step)
        save_checkpoint(where, self.decomposer.model, None, meta)

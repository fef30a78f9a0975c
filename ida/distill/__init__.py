"""Distillation: transcripts to training pairs, a tokenizer, a transformer, one training loop, policies.

This is the one package that needs torch, and it loads it only when a name that needs it
is first used: `ida.cli.distill` registers commands without slowing down every `ida` call.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "checkpoint": ["CheckpointError", "CheckpointMeta", "load_checkpoint", "read_meta", "save_checkpoint"],
    "data": ["UNPARSEABLE", "DatasetError", "Mode", "Pair", "answer_pairs", "blame_pairs", "data_hash", "load_pairs", "policy_pairs",
             "scripted_answer_pairs", "scripted_policy_pairs", "split", "transcript_files"],
    "model": ["SIZES", "Transformer", "DistillError", "Generation", "ModelConfig", "model_config"],
    "tokenizer": ["Codec", "TokenizerError", "load_codec", "train_codec"],
    "policy": ["Deferring", "DistilledPolicy"],
    "train": ["Learner", "TrainResult", "exact_match", "train"],
    "iterate": ["Amplify", "IterateResult", "IterateRow", "amplified_answers", "iterate"],
    "evaluate": ["DifficultyRow", "TaskScore", "WithPrimitives", "evaluate_task"],
}
_WHERE = {name: mod for mod, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'ida.distill' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ida.distill.{_WHERE[name]}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


class _Package(types.ModuleType):
    # Importing the submodule `ida.distill.train` would bind the package attribute `train` to
    # that module, hiding the function `train`; the function keeps the name.
    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in _WHERE:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:
    from ida.distill.checkpoint import CheckpointError, CheckpointMeta, load_checkpoint, read_meta, save_checkpoint
    from ida.distill.data import (
        UNPARSEABLE, DatasetError, Mode, Pair, answer_pairs, blame_pairs, data_hash, load_pairs, policy_pairs, scripted_answer_pairs,
        scripted_policy_pairs, split,
        transcript_files,
    )
    from ida.distill.model import SIZES, DistillError, Generation, ModelConfig, Transformer, model_config
    from ida.distill.tokenizer import Codec, TokenizerError, load_codec, train_codec
    from ida.distill.policy import Deferring, DistilledPolicy
    from ida.distill.train import Learner, TrainResult, exact_match, train
    from ida.distill.iterate import Amplify, IterateResult, IterateRow, amplified_answers, iterate
    from ida.distill.evaluate import DifficultyRow, TaskScore, WithPrimitives, evaluate_task

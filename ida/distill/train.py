"""The one training loop, for `ida distill` and `ida iterate` alike: AdamW, warmup and cosine
decay, clipping, a loss on the completion plus a weighted loss on the prompt.

`Learner` owns a model, its optimizer and the schedule; `train` wraps it with evaluation,
checkpoints and early stopping. A run folder holds `last/` (weights, optimizer, loop state:
what `resume` continues from) and `best/` (the best held-out exact match: what a policy
should load). A batch is a pure function of (seed, step), so a resumed run takes the same
steps an unbroken one would.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Literal
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ida.distill.checkpoint import (
    CheckpointError, CheckpointMeta, load_checkpoint, load_optimizer_state, read_meta, save_checkpoint,
)
from ida.distill.data import DatasetError, Mode, Pair, data_hash
from ida.distill.model import DistillError, ModelConfig, Transformer, encode_pair, model_config, resolve_device
from ida.distill.tokenizer import CUT, Codec, Kind, train_codec

# Peak learning rates that train each size quickly and stably on small tasks; bigger models want less.
LR = {"tiny": 3e-3, "small": 1.5e-3, "base": 1e-3}
# The prompt's share of the loss. Trained on the completion alone, the model memorizes its training
# questions; predicting the prompt too is what made it read the facts of unseen ones (benchmarks/distill.py).
PROMPT_WEIGHT = 1.0

Encoded = tuple[list[int], int]  # token ids of a whole pair, and where its completion starts


class TrainResult(BaseModel):
    steps: int  # the step reached, counting steps done before a resume
    best_step: int
    best_exact_match: float
    final_loss: float  # the mean loss of the last stretch between evaluations
    stopped: Literal["steps", "perfect", "patience"]
    seconds: float
    steps_per_second: float  # training steps only, evaluation excluded
    resumed_from: int | None = None
    eval_on: Literal["heldout", "train"] = "heldout"
    best_dir: Path
    last_dir: Path
    history: list[dict[str, float]] = []


def exact_match(model: Transformer, pairs: Sequence[Pair], batch_size: int = 64) -> float:
    """Fraction of pairs whose greedy completion equals the target exactly."""
    if not pairs:
        return 0.0
    hits = 0
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        gens = model.generate_batch([p.prompt for p in chunk])
        hits += sum(g.finished and g.text == p.completion for g, p in zip(gens, chunk))
    return hits / len(pairs)


def lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))  # cosine down to a tenth


def batch_at(n: int, batch_size: int, seed: int, step: int) -> list[int]:
    """The indices of step `step`'s batch: drawn with replacement, a function of (seed, step) only."""
    rng = random.Random(seed * 1_000_003 + step)
    return [rng.randrange(n) for _ in range(batch_size)]


def collate(encoded: Sequence[Encoded], idx: list[int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs, next-token targets (-1 past the end) and a mask of the targets that are the completion's."""
    width = max(len(encoded[i][0]) for i in idx) - 1
    inp = torch.zeros(len(idx), width, dtype=torch.long)
    tgt = torch.full((len(idx), width), -1, dtype=torch.long)
    completion = torch.zeros(len(idx), width, dtype=torch.bool)
    for row, i in enumerate(idx):
        ids, start = encoded[i]
        t = torch.tensor(ids)
        inp[row, : len(ids) - 1] = t[:-1]
        tgt[row, : len(ids) - 1] = t[1:]
        completion[row, start - 1 : len(ids) - 1] = True
    return inp.to(device), tgt.to(device), completion.to(device)


def pair_loss(model: Transformer, encoded: Sequence[Encoded], idx: list[int], prompt_weight: float) -> torch.Tensor:
    """Mean loss on the completions' tokens, plus `prompt_weight` times the mean on the prompts' tokens."""
    inp, tgt, completion = collate(encoded, idx, model.device)
    logits = model(inp)
    per_token = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.clamp(min=0).reshape(-1), reduction="none")
    per_token = per_token.view_as(tgt)
    real = tgt >= 0
    loss = per_token[completion].mean()
    prompt = real & ~completion
    if prompt_weight and bool(prompt.any()):
        loss = loss + prompt_weight * per_token[prompt].mean()
    return loss


def make_optimizer(model: Transformer, lr: float, weight_decay: float = 0.01) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases and norms)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95)
    )


class Learner:
    """A model, its optimizer and one warmup-cosine schedule over `total_steps`: the training loop."""

    def __init__(self, model: Transformer, total_steps: int, lr: float, seed: int = 0, prompt_weight: float = PROMPT_WEIGHT,
                 weight_decay: float = 0.01, clip: float = 1.0, warmup: int | None = None) -> None:
        self.model, self.total, self.lr, self.seed = model, total_steps, lr, seed
        self.prompt_weight, self.clip = prompt_weight, clip
        self.warmup = max(1, total_steps // 20) if warmup is None else max(1, warmup)
        self.opt = make_optimizer(model, lr, weight_decay)
        self.step = 0

    def encode(self, pairs: Sequence[Pair]) -> list[Encoded]:
        codec, cfg = self.model.codec, self.model.cfg
        return [encode_pair(codec, p.prompt, p.completion, cfg) for p in pairs]

    def fit(self, encoded: Sequence[Encoded], steps: int, batch_size: int,
            on_step: Callable[[float], None] | None = None) -> float:
        """Train `steps` steps on the encoded pairs; returns the mean loss."""
        self.model.train()
        total = 0.0
        for _ in range(steps):
            for g in self.opt.param_groups:
                g["lr"] = lr_at(self.step, self.total, self.warmup, self.lr)
            loss = pair_loss(self.model, encoded, batch_at(len(encoded), batch_size, self.seed, self.step), self.prompt_weight)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
            self.opt.step()
            self.step += 1
            value = loss.item()
            total += value
            if on_step is not None:
                on_step(value)
        return total / max(1, steps)


def codec_for(pairs: Sequence[Pair], kind: Kind = "bpe") -> Codec:
    """A tokenizer trained on the text of the pairs (prompts and completions)."""
    return train_codec([t for p in pairs for t in (p.prompt, p.completion)], kind)


def _at_most(pairs: list[Pair], n: int, seed: int) -> list[Pair]:
    return random.Random(seed).sample(pairs, n) if len(pairs) > n else pairs


def _resumable(last_dir: Path, dhash: str, cfg: ModelConfig, size: str,
               dev: torch.device) -> tuple[Transformer, CheckpointMeta]:
    """The last checkpoint of a run on the same data and config, to resume."""
    meta = read_meta(last_dir)
    if meta.data_hash != dhash:
        raise CheckpointError(
            f"{last_dir}: trained on other data (hash {meta.data_hash}, now {dhash}); train without resume or into a new folder"
        )
    if meta.model.model_copy(update={"vocab": 0}) != cfg:
        raise CheckpointError(f"{last_dir}: a {meta.size} model with another config; cannot resume it as {size}")
    return load_checkpoint(last_dir, dev)


def _fresh(cfg: ModelConfig, size: str, init: str | Path | Transformer | None, seed: int, dev: torch.device,
           pairs_train: Sequence[Pair], tokenizer: Kind) -> Transformer:
    """A new model: random weights and a tokenizer trained on the pairs, or `init`'s weights and tokenizer."""
    source = None if init is None else init if isinstance(init, Transformer) else load_checkpoint(init, dev)[0]
    torch.manual_seed(seed)
    model = Transformer(cfg, source.codec if source is not None else codec_for(pairs_train, tokenizer)).to(dev)
    if source is not None:
        if source.cfg != model.cfg:
            raise DistillError(f"cannot start a {size} model from a model of another config ({source.cfg})")
        model.load_state_dict(source.state_dict())
    return model


def train(
    pairs_train: Sequence[Pair],
    pairs_heldout: Sequence[Pair],
    out_dir: str | Path,
    size: str = "tiny",
    steps: int = 2000,
    batch_size: int = 32,
    lr: float | None = None,
    eval_every: int = 200,
    patience: int = 5,
    seed: int = 0,
    device: str = "cpu",
    resume: bool = False,
    progress: bool = True,
    mode: Mode = "policy",
    warmup: int | None = None,
    weight_decay: float = 0.01,
    clip: float = 1.0,
    max_eval: int = 256,
    model_overrides: dict[str, int] | None = None,
    init: str | Path | Transformer | None = None,
    early_stop: bool = True,
    prompt_weight: float = PROMPT_WEIGHT,
    tokenizer: Kind = "bpe",
) -> TrainResult:
    """Train a transformer on the pairs; checkpoints at every evaluation, early stop on exact match.

    The tokenizer is trained on the training pairs (`tokenizer="bytes"`: one token per byte).
    `init` starts from another model's weights and tokenizer (a checkpoint folder or a model of
    the same config), as each round of `iterate` does; the optimizer and schedule start fresh.
    """
    if not pairs_train:
        raise DatasetError("no training pairs")
    out = Path(out_dir)
    last_dir, best_dir = out / "last", out / "best"
    dev = resolve_device(device)
    cfg = model_config(size, **(model_overrides or {}))
    lr = LR.get(size, 1e-3) if lr is None else lr
    dhash = data_hash([*pairs_train, *pairs_heldout])
    eval_on: Literal["heldout", "train"] = "heldout" if pairs_heldout else "train"
    eval_pairs = _at_most(list(pairs_heldout or pairs_train), max_eval, seed)

    resuming = resume and (last_dir / "config.json").exists()
    if resuming:
        model, meta = _resumable(last_dir, dhash, cfg, size, dev)
    else:
        model = _fresh(cfg, size, init, seed, dev, pairs_train, tokenizer)
    learner = Learner(model, steps, lr, seed, prompt_weight, weight_decay, clip, warmup)
    best_em, best_step, bad_evals, history = -1.0, 0, 0, []
    resumed_from: int | None = None
    stopped: Literal["steps", "perfect", "patience"] = "steps"
    if resuming:
        state = load_optimizer_state(last_dir, meta, dev)
        if state is None:
            raise CheckpointError(f"{last_dir}: has no optimizer state to resume from")
        learner.opt.load_state_dict(state)
        t = meta.train
        learner.step, best_em, best_step, bad_evals = meta.step, t["best_em"], t["best_step"], t["bad_evals"]
        history, stopped, resumed_from = list(t.get("history", [])), t.get("stopped", "steps"), meta.step
        if stopped != "steps":
            steps = learner.step  # that run stopped early (perfect or out of patience): nothing left to do

    encoded = learner.encode(pairs_train)
    cut = sum(CUT in ids for ids, _ in encoded)  # prompts that lost their middle to fit the window
    settings = dict(size=size, steps=steps, batch_size=batch_size, lr=lr, seed=seed, mode=mode, eval_on=eval_on,
                    prompt_weight=prompt_weight, tokenizer=model.codec.kind, prompts_cut=cut)

    def meta_now(metrics: dict[str, float], loop: dict | None = None) -> CheckpointMeta:
        return CheckpointMeta(size=size, model=model.cfg, data_hash=dhash, mode=mode, step=learner.step, metrics=metrics,
                              train={**settings, **(loop or {})})

    console = Console(stderr=True)
    bar = Progress(
        TextColumn(f"[bold]distill {size}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"), TextColumn("EM {task.fields[em]}"),
        TextColumn("{task.fields[sps]} steps/s"), TimeRemainingColumn(),
        console=console, disable=not progress,
    )
    t_start, train_time = time.perf_counter(), 0.0
    steps_timed, final_loss = 0, float("nan")
    with bar:
        task = bar.add_task("train", total=steps, completed=learner.step, loss="-",
                            em="-" if best_em < 0 else f"{best_em:.3f}", sps="-")
        while learner.step < steps:
            chunk = min(eval_every - learner.step % eval_every, steps - learner.step)  # up to the next evaluation
            t0 = time.perf_counter()
            mean_loss = learner.fit(encoded, chunk, batch_size,
                                    lambda value: bar.update(task, advance=1, loss=f"{value:.3f}"))
            train_time += time.perf_counter() - t0
            steps_timed += chunk
            final_loss = mean_loss
            sps = steps_timed / train_time
            em = exact_match(model, eval_pairs)
            metrics = {"loss": mean_loss, "exact_match": em, "steps_per_second": sps}
            history.append({"step": float(learner.step), **metrics})
            if em > best_em:
                best_em, best_step, bad_evals = em, learner.step, 0
                save_checkpoint(best_dir, model, None, meta_now(metrics))
            else:
                bad_evals += 1
            if early_stop and em >= 1.0:
                stopped = "perfect"
            elif early_stop and bad_evals >= patience:
                stopped = "patience"
            loop = dict(best_em=best_em, best_step=best_step, bad_evals=bad_evals, history=history, stopped=stopped)
            save_checkpoint(last_dir, model, learner.opt.state_dict(), meta_now(metrics, loop))  # last/ after best/
            bar.update(task, em=f"{em:.3f}", sps=f"{sps:.1f}")
            if stopped != "steps":
                break

    return TrainResult(
        steps=learner.step, best_step=best_step, best_exact_match=max(best_em, 0.0), final_loss=final_loss,
        stopped=stopped, seconds=time.perf_counter() - t_start,
        steps_per_second=steps_timed / train_time if train_time else 0.0,
        resumed_from=resumed_from, eval_on=eval_on, best_dir=best_dir, last_dir=last_dir, history=history,
    )

"""The training loop: AdamW, warmup and cosine decay, clipping, evaluation and checkpoints.

A run folder holds `last/` (weights, optimizer, loop state: what `resume` continues from)
and `best/` (the best held-out exact match: what a policy should load). Batches are a pure
function of (seed, step), so a resumed run takes the same steps an unbroken one would.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Iterator, Literal, Sequence

import torch
import torch.nn.functional as F
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ida.distill.checkpoint import (
    CheckpointError, CheckpointMeta, load_checkpoint, load_optimizer_state, read_meta, save_checkpoint,
)
from ida.distill.data import DatasetError, Mode, Pair, data_hash
from ida.distill.model import ByteTransformer, DistillError, encode_pair, model_config, resolve_device

IGNORE = -100
# Peak learning rates that train each size quickly and stably on small tasks; bigger models want less.
LR = {"tiny": 3e-3, "small": 2e-3, "base": 1e-3}


class TrainResult(BaseModel):
    steps: int  # the step reached, counting steps done before a resume
    best_step: int
    best_exact_match: float
    final_loss: float
    stopped: Literal["steps", "perfect", "patience"]
    seconds: float
    steps_per_second: float  # training steps only, evaluation excluded
    resumed_from: int | None = None
    eval_on: Literal["heldout", "train"] = "heldout"
    best_dir: Path
    last_dir: Path
    history: list[dict[str, float]] = []


def exact_match(model: ByteTransformer, pairs: Sequence[Pair], batch_size: int = 64) -> float:
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


def _batches(n: int, batch_size: int, seed: int, start: int) -> Iterator[list[int]]:
    """Index batches for steps start, start+1, ...: epoch-wise shuffles that depend only on (seed, epoch)."""
    perms: dict[int, list[int]] = {}

    def perm(epoch: int) -> list[int]:
        if epoch not in perms:
            perms.clear()
            order = list(range(n))
            random.Random(seed * 1_000_003 + epoch).shuffle(order)
            perms[epoch] = order
        return perms[epoch]

    step = start
    while True:
        pos = range(step * batch_size, (step + 1) * batch_size)
        yield [perm(p // n)[p % n] for p in pos]
        step += 1


def _collate(encoded: Sequence[tuple[list[int], int]], idx: list[int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets, right-padded; targets are IGNORE except on the completion (and its EOS)."""
    width = max(len(encoded[i][0]) for i in idx) - 1
    inp = torch.zeros(len(idx), width, dtype=torch.long)
    tgt = torch.full((len(idx), width), IGNORE, dtype=torch.long)
    for row, i in enumerate(idx):
        ids, start = encoded[i]
        t = torch.tensor(ids)
        inp[row, : len(ids) - 1] = t[:-1]
        tgt[row, start - 1 : len(ids) - 1] = t[start:]
    return inp.to(device), tgt.to(device)


def make_optimizer(model: ByteTransformer, lr: float, weight_decay: float = 0.01) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases and norms)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95)
    )


def train_step(model: ByteTransformer, opt: torch.optim.Optimizer, encoded: Sequence[tuple[list[int], int]],
               idx: list[int], lr: float, clip: float = 1.0) -> float:
    """One optimizer step on the batch `idx` of encoded pairs; returns the loss."""
    for g in opt.param_groups:
        g["lr"] = lr
    inp, tgt = _collate(encoded, idx, model.device)
    logits = model(inp)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=IGNORE)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss.item()


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
    init: str | Path | ByteTransformer | None = None,
    early_stop: bool = True,
) -> TrainResult:
    """Train a byte transformer on the pairs; checkpoints at every evaluation, early stop on exact match.

    `init` starts from another model's weights (a checkpoint folder or a model of the same
    config), as each round of `iterate` does; the optimizer and schedule start fresh.
    """
    if not pairs_train:
        raise DatasetError("no training pairs")
    out = Path(out_dir)
    last_dir, best_dir = out / "last", out / "best"
    dev = resolve_device(device)
    cfg = model_config(size, **(model_overrides or {}))
    lr = LR.get(size, 1e-3) if lr is None else lr
    warmup = max(1, steps // 20) if warmup is None else max(1, warmup)
    dhash = data_hash([*pairs_train, *pairs_heldout])
    eval_on: Literal["heldout", "train"] = "heldout" if pairs_heldout else "train"
    eval_pairs = list(pairs_heldout or pairs_train)
    if len(eval_pairs) > max_eval:
        eval_pairs = random.Random(seed).sample(eval_pairs, max_eval)

    torch.manual_seed(seed)
    model = ByteTransformer(cfg).to(dev)
    if init is not None:
        src = init if isinstance(init, ByteTransformer) else load_checkpoint(init, dev)[0]
        if src.cfg != cfg:
            raise DistillError(f"cannot start a {size} model from a model of another config ({src.cfg})")
        model.load_state_dict(src.state_dict())
    opt = make_optimizer(model, lr, weight_decay)
    step, best_em, best_step, bad_evals, history = 0, -1.0, 0, 0, []
    resumed_from: int | None = None
    stopped: Literal["steps", "perfect", "patience"] = "steps"

    if resume and (last_dir / "config.json").exists():
        meta = read_meta(last_dir)
        if meta.data_hash != dhash:
            raise CheckpointError(
                f"{last_dir}: trained on other data (hash {meta.data_hash}, now {dhash}); train without resume or into a new folder"
            )
        if meta.model != cfg:
            raise CheckpointError(f"{last_dir}: a {meta.size} model with another config; cannot resume it as {size}")
        loaded, meta = load_checkpoint(last_dir, dev)
        model.load_state_dict(loaded.state_dict())
        state = load_optimizer_state(last_dir, meta, dev)
        if state is None:
            raise CheckpointError(f"{last_dir}: has no optimizer state to resume from")
        opt.load_state_dict(state)
        t = meta.train
        step, best_em, best_step, bad_evals = meta.step, t["best_em"], t["best_step"], t["bad_evals"]
        history, stopped, resumed_from = list(t.get("history", [])), t.get("stopped", "steps"), meta.step
        if stopped != "steps":
            steps = step  # that run stopped early (perfect or out of patience): nothing left to do

    encoded = [encode_pair(p.prompt, p.completion, cfg) for p in pairs_train]
    batches = _batches(len(encoded), batch_size, seed, step)
    settings = dict(size=size, steps=steps, batch_size=batch_size, lr=lr, seed=seed, mode=mode, eval_on=eval_on)

    def checkpoint(metrics: dict[str, float]) -> None:
        loop = dict(best_em=best_em, best_step=best_step, bad_evals=bad_evals, history=history, stopped=stopped)
        meta = CheckpointMeta(size=size, model=cfg, data_hash=dhash, mode=mode, step=step, metrics=metrics,
                              train={**settings, **loop})
        save_checkpoint(last_dir, model, opt.state_dict(), meta)

    console = Console(stderr=True)
    bar = Progress(
        TextColumn(f"[bold]distill {size}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"), TextColumn("EM {task.fields[em]}"),
        TextColumn("{task.fields[sps]} steps/s"), TimeRemainingColumn(),
        console=console, disable=not progress,
    )
    t_start, train_time, steps_timed = time.perf_counter(), 0.0, 0
    loss_sum, loss_n, final_loss = 0.0, 0, float("nan")
    with bar:
        task = bar.add_task("train", total=steps, completed=step, loss="-", em="-" if best_em < 0 else f"{best_em:.3f}", sps="-")
        model.train()
        while step < steps:
            t0 = time.perf_counter()
            value = train_step(model, opt, encoded, next(batches), lr_at(step, steps, warmup, lr), clip)
            step += 1
            loss_sum, loss_n, final_loss = loss_sum + value, loss_n + 1, value
            train_time += time.perf_counter() - t0
            steps_timed += 1
            sps = steps_timed / train_time
            bar.update(task, completed=step, loss=f"{value:.3f}", sps=f"{sps:.1f}")

            if step % eval_every == 0 or step == steps:
                em = exact_match(model, eval_pairs)
                model.train()
                metrics = {"loss": loss_sum / loss_n, "exact_match": em, "steps_per_second": sps}
                history.append({"step": float(step), **metrics})
                loss_sum, loss_n = 0.0, 0
                if em > best_em:
                    best_em, best_step, bad_evals = em, step, 0
                    save_checkpoint(best_dir, model, None, CheckpointMeta(
                        size=size, model=cfg, data_hash=dhash, mode=mode, step=step, metrics=metrics, train=settings))
                else:
                    bad_evals += 1
                if early_stop and em >= 1.0:
                    stopped = "perfect"
                elif early_stop and bad_evals >= patience:
                    stopped = "patience"
                checkpoint(metrics)  # last/ after best/: a resume never points past a missing best
                bar.update(task, em=f"{em:.3f}")
                if stopped != "steps":
                    break

    return TrainResult(
        steps=step, best_step=best_step, best_exact_match=max(best_em, 0.0), final_loss=final_loss, stopped=stopped,
        seconds=time.perf_counter() - t_start, steps_per_second=steps_timed / train_time if train_time else 0.0,
        resumed_from=resumed_from, eval_on=eval_on, best_dir=best_dir, last_dir=last_dir, history=history,
    )

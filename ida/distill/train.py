"""The one training loop, for `ida distill` and `ida iterate` alike: AdamW, warmup and cosine
decay, clipping, a loss on the completion plus a weighted loss on the prompt.

`Learner` owns a model, its optimizer and the schedule; `train` wraps it with evaluation,
checkpoints and early stopping. A run folder holds `last/` (weights, optimizer, loop state:
what `resume` continues from) and `best/` (the best held-out exact match: what a policy
should load). A batch is a pure function of (seed, step), so a resumed run takes the same
steps an unbroken one would.

Early stopping waits for a plateau: it stops once held-out exact match has not risen by
`min_delta` in `patience` evaluations, never before `min_steps`; a held-out set too small to
judge (fewer than `MIN_HELDOUT` pairs) turns it off with a warning. Ctrl-C stops between two
steps, saves `last/` there and raises `TrainingInterrupted`, so the run can be resumed.
"""

from __future__ import annotations

import math
import random
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from pydantic import BaseModel
from rich.console import Console
from rich.text import Text
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ida.distill.checkpoint import (
    CONFIG, Calibration, CheckpointError, CheckpointMeta, load_checkpoint, load_optimizer_state, read_meta,
    save_checkpoint,
)
from ida.distill.data import DatasetError, Mode, Pair, data_hash
from ida.distill.model import DistillError, ModelConfig, Transformer, encode_pair, model_config, resolve_device
from ida.distill.tokenizer import CUT, Codec, Kind, train_codec

# Peak learning rates that train each size quickly and stably on small tasks; bigger models want less.
LR = {"tiny": 3e-3, "small": 1.5e-3, "base": 1e-3}
# The prompt's share of the loss. Trained on the completion alone, the model memorizes its training
# questions; predicting the prompt too is what made it read the facts of unseen ones (benchmarks/distill.py).
PROMPT_WEIGHT = 1.0

# A held-out set smaller than this moves in steps too coarse to judge a plateau by (7 pairs: 14
# points a pair, and one lucky pair reads as "perfect"): early stopping is off, with a warning.
MIN_HELDOUT = 20
LOG_SECONDS = 30.0  # output that is not a terminal gets a plain line at least this often

Encoded = tuple[list[int], int]  # token ids of a whole pair, and where its completion starts
Stop = Literal["steps", "perfect", "patience"]


class RunExists(CheckpointError):
    """The run folder holds an earlier run's checkpoints, and neither resume nor overwrite was asked for."""

    def __init__(self, out: Path, step: int | None) -> None:
        at = "" if step is None else f" (step {step})"
        super().__init__(f"{out}: holds the checkpoints of an earlier run{at}; resume it, overwrite it, "
                         "or train into another folder")
        self.out, self.step = out, step


class TrainingInterrupted(Exception):
    """Ctrl-C in `train`: it stopped between two steps, and `last_dir` holds the run as it was then."""

    def __init__(self, step: int, last_dir: Path, best_dir: Path, best_step: int | None, best_exact_match: float | None):
        super().__init__(f"interrupted at step {step}; {last_dir} holds it")
        self.step, self.last_dir, self.best_dir = step, last_dir, best_dir
        self.best_step, self.best_exact_match = best_step, best_exact_match


class TrainResult(BaseModel):
    steps: int  # the step reached, counting steps done before a resume
    best_step: int
    best_exact_match: float
    final_loss: float  # the mean loss of the last stretch between evaluations
    stopped: Stop
    seconds: float
    steps_per_second: float  # training steps only, evaluation excluded
    resumed_from: int | None = None
    eval_on: Literal["heldout", "train"] = "heldout"
    best_dir: Path
    last_dir: Path
    history: list[dict[str, float]] = []
    calibration: Calibration | None = None  # the best checkpoint's, on the held-out pairs
    warnings: list[str] = []  # what the run could not do as asked (early stopping off, say)


def score(model: Transformer, pairs: Sequence[Pair], batch_size: int = 64) -> tuple[float, Calibration]:
    """Exact match (the share of pairs whose greedy completion equals the target) and, from the
    same generations, how often each confidence was right."""
    hits: list[bool] = []
    confidences: list[float] = []
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        for g, p in zip(model.generate_batch([p.prompt for p in chunk]), chunk):
            hits.append(g.finished and g.text == p.completion)
            confidences.append(g.confidence)
    return (sum(hits) / len(pairs) if pairs else 0.0), Calibration.of(confidences, hits)


def exact_match(model: Transformer, pairs: Sequence[Pair], batch_size: int = 64) -> float:
    """Fraction of pairs whose greedy completion equals the target exactly."""
    return score(model, pairs, batch_size)[0]


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
            on_step: Callable[[float], None] | None = None, stop: Callable[[], bool] | None = None) -> float:
        """Train `steps` steps on the encoded pairs (fewer if `stop()` turns true); returns the mean loss."""
        self.model.train()
        total, done = 0.0, 0
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
            total, done = total + value, done + 1
            if on_step is not None:
                on_step(value)
            if stop is not None and stop():
                break
        return total / max(1, done)


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


def earlier_run(out_dir: str | Path) -> int | None:
    """The step of the checkpoints an earlier run left in the run folder (`last/`, else `best/`), or None."""
    for d in (Path(out_dir) / "last", Path(out_dir) / "best"):
        if (d / CONFIG).exists():
            try:
                return read_meta(d).step
            except CheckpointError:
                return None  # damaged, but an earlier run's all the same
    return None


def _has_run(out: Path) -> bool:
    return (out / "last" / CONFIG).exists() or (out / "best" / CONFIG).exists()


@contextmanager
def _ctrl_c() -> Iterator[threading.Event]:
    """While training: the first Ctrl-C sets the event (the loop stops after its step and saves);
    a second one interrupts at once, as usual."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signal handlers can only be set from the main thread
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: object) -> None:
        flag.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


class _Report:
    """Progress on stderr: a live bar on a terminal; anywhere else (a pipe, a log file) a plain line
    at every evaluation and at least every `log_seconds`, so a long run is never silent."""

    def __init__(self, enabled: bool, size: str, total: int, done: int, label: str, log_seconds: float) -> None:
        self.console = Console(stderr=True)
        self.enabled, self.live = enabled, enabled and self.console.is_terminal
        self.total, self.label, self.log_seconds = total, label, log_seconds
        self.t0 = self.last_line = time.perf_counter()
        self.losses: list[float] = []
        self.bar = Progress(
            TextColumn(f"[bold]distill {size}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"), TextColumn(f"{label} {{task.fields[em]}}"),
            TextColumn("{task.fields[sps]} steps/s"), TimeRemainingColumn(),
            console=self.console, disable=not self.live,
        )
        self.task = self.bar.add_task("train", total=total, completed=done, loss="-", em="-", sps="-")
        self.step = done

    def __enter__(self) -> _Report:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)

    def warn(self, *texts: str) -> None:
        for text in texts if self.enabled else ():
            self.console.print(Text.assemble(("warning: ", "yellow"), text), soft_wrap=True)

    def _line(self, text: str) -> None:
        if self.enabled and not self.live:
            loss = f"loss {sum(self.losses) / len(self.losses):.4f}  " if self.losses else ""
            print(f"step {self.step}/{self.total}  {loss}{text}elapsed {_clock(time.perf_counter() - self.t0)}",
                  file=sys.stderr, flush=True)
            self.losses, self.last_line = [], time.perf_counter()

    def stepped(self, loss: float) -> None:
        self.step += 1
        self.losses.append(loss)
        self.bar.update(self.task, advance=1, loss=f"{loss:.3f}")
        if time.perf_counter() - self.last_line >= self.log_seconds:
            self._line("")

    def evaluated(self, em: float, best_em: float, best_step: int, sps: float) -> None:
        self.bar.update(self.task, em=f"{em:.3f}", sps=f"{sps:.1f}")
        self._line(f"{self.label} {100 * em:.1f}% (best {100 * best_em:.1f}% at step {best_step})  {sps:.1f} steps/s  ")


@dataclass(frozen=True)
class Plateau:
    """When to stop early: a perfect score; or `patience` evaluations in a row without a rise of
    `min_delta`, once past `min_steps`. `judge` False (early stopping off, or too few held out): never."""

    patience: int
    min_delta: float
    min_steps: int
    judge: bool


@dataclass
class _Loop:
    """The loop's state, saved in last/ so that a resumed run stops where an unbroken one would."""

    best_em: float = -1.0
    best_step: int = 0
    bad_evals: int = 0
    ref_em: float = -1.0  # the score at the last rise of at least min_delta: patience counts from there
    history: list[dict[str, float]] = field(default_factory=list)
    stopped: Stop = "steps"

    @classmethod
    def saved(cls, t: dict) -> _Loop:
        return cls(t["best_em"], t["best_step"], t["bad_evals"], t.get("ref_em", t["best_em"]),
                   list(t.get("history", [])), t.get("stopped", "steps"))

    def interrupted(self, step: int, out: Path) -> TrainingInterrupted:
        best = self.best_em >= 0
        return TrainingInterrupted(step, out / "last", out / "best", self.best_step if best else None,
                                   self.best_em if best else None)

    def evaluated(self, em: float, step: int, rule: Plateau) -> bool:
        """Take in an evaluation; True when it is the best yet."""
        best = em > self.best_em
        if best:
            self.best_em, self.best_step = em, step
        if em >= self.ref_em + rule.min_delta:
            self.ref_em, self.bad_evals = em, 0
        else:
            self.bad_evals += 1
        if rule.judge and em >= 1.0:
            self.stopped = "perfect"
        elif rule.judge and self.bad_evals >= rule.patience and step >= rule.min_steps:
            self.stopped = "patience"
        return best


def _resume(learner: Learner, last_dir: Path, meta: CheckpointMeta, dev: torch.device) -> _Loop:
    """Put the optimizer and step of last/ into the learner; the loop's state as it was saved."""
    state = load_optimizer_state(last_dir, meta, dev)
    if state is None:
        raise CheckpointError(f"{last_dir}: has no optimizer state to resume from")
    learner.opt.load_state_dict(state)
    learner.step = meta.step
    return _Loop.saved(meta.train)


def _calibration(best_dir: Path) -> Calibration | None:
    return read_meta(best_dir).calibration if (best_dir / CONFIG).exists() else None


def check_out(out_dir: str | Path, resume: bool = False, overwrite: bool = False) -> None:
    """Raise `RunExists` where the run folder holds an earlier run that is neither resumed nor overwritten."""
    out = Path(out_dir)
    if not overwrite and _has_run(out) and not (resume and (out / "last" / CONFIG).exists()):
        raise RunExists(out, earlier_run(out))


def _prepare_out(out: Path, resuming: bool, overwrite: bool) -> None:
    check_out(out, resuming, overwrite)
    if overwrite and not resuming:
        for d in (out / "last", out / "best"):  # the earlier run's checkpoints stop being checkpoints now
            (d / CONFIG).unlink(missing_ok=True)


def train(
    pairs_train: Sequence[Pair],
    pairs_heldout: Sequence[Pair],
    out_dir: str | Path,
    size: str = "tiny",
    steps: int = 2000,
    batch_size: int = 32,
    lr: float | None = None,
    eval_every: int = 100,
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
    min_delta: float = 0.01,
    min_steps: int | None = None,
    overwrite: bool = False,
    log_seconds: float = LOG_SECONDS,
) -> TrainResult:
    """Train a transformer on the pairs; checkpoints at every evaluation, early stop on a plateau.

    The tokenizer is trained on the training pairs (`tokenizer="bytes"`: one token per byte).
    `init` starts from another model's weights and tokenizer (a checkpoint folder or a model of
    the same config), as each round of `iterate` does; the optimizer and schedule start fresh.
    Early stopping: a perfect score stops at once; otherwise after `patience` evaluations in a
    row without a rise of `min_delta` in exact match, once past `min_steps` (default: a quarter
    of `steps`). A folder holding an earlier run is refused (`RunExists`) unless `resume` or
    `overwrite`. Ctrl-C saves `last/` and raises `TrainingInterrupted`.
    """
    if not pairs_train:
        raise DatasetError("no training pairs")
    out = Path(out_dir)
    last_dir, best_dir = out / "last", out / "best"
    resuming = resume and (last_dir / CONFIG).exists()
    _prepare_out(out, resuming, overwrite)
    dev = resolve_device(device)
    cfg = model_config(size, **(model_overrides or {}))
    lr = LR.get(size, 1e-3) if lr is None else lr
    dhash = data_hash([*pairs_train, *pairs_heldout])
    eval_on: Literal["heldout", "train"] = "heldout" if pairs_heldout else "train"
    eval_pairs = _at_most(list(pairs_heldout or pairs_train), max_eval, seed)

    if resuming:
        model, meta = _resumable(last_dir, dhash, cfg, size, dev)
    else:
        model = _fresh(cfg, size, init, seed, dev, pairs_train, tokenizer)
    learner = Learner(model, steps, lr, seed, prompt_weight, weight_decay, clip, warmup)
    loop, resumed_from = _Loop(), None
    if resuming:
        loop, resumed_from = _resume(learner, last_dir, meta, dev), meta.step
        if loop.stopped != "steps":
            steps = learner.step  # that run stopped early (perfect or out of patience): nothing left to do

    warnings = []
    rule = Plateau(patience, min_delta, steps // 4 if min_steps is None else min_steps,
                   judge=early_stop and (eval_on == "train" or len(eval_pairs) >= MIN_HELDOUT))
    if early_stop and not rule.judge:
        warnings.append(f"the held-out set has {len(eval_pairs)} pairs, too few to judge a plateau (at least "
                        f"{MIN_HELDOUT}): early stopping is off, training all {steps} steps")

    encoded = learner.encode(pairs_train)
    cut = sum(CUT in ids for ids, _ in encoded)  # prompts that lost their middle to fit the window
    settings = dict(size=size, steps=steps, batch_size=batch_size, lr=lr, seed=seed, mode=mode, eval_on=eval_on,
                    prompt_weight=prompt_weight, tokenizer=model.codec.kind, prompts_cut=cut)

    def save(directory: Path, metrics: dict[str, float], calibration: Calibration | None, last: bool) -> None:
        meta = CheckpointMeta(size=size, model=model.cfg, data_hash=dhash, mode=mode, step=learner.step,
                              metrics=metrics, train={**settings, **(asdict(loop) if last else {})},
                              calibration=calibration)
        save_checkpoint(directory, model, learner.opt.state_dict() if last else None, meta)

    t_start, train_time = time.perf_counter(), 0.0
    steps_timed, final_loss = 0, float("nan")
    metrics: dict[str, float] = dict(loop.history[-1]) if loop.history else {}
    calibration: Calibration | None = None
    label = "held-out" if eval_on == "heldout" else "train EM"
    with _Report(progress, size, steps, learner.step, label, log_seconds) as report, _ctrl_c() as interrupted:
        report.warn(*warnings)
        while learner.step < steps:
            chunk = min(eval_every - learner.step % eval_every, steps - learner.step)  # up to the next evaluation
            t0, step0 = time.perf_counter(), learner.step
            mean_loss = learner.fit(encoded, chunk, batch_size, report.stepped, interrupted.is_set)
            train_time += time.perf_counter() - t0
            steps_timed += learner.step - step0
            if interrupted.is_set() and learner.step - step0 < chunk:
                save(last_dir, metrics, calibration, last=True)  # between evaluations, the loop as at the last one
                raise loop.interrupted(learner.step, out)
            final_loss = mean_loss
            sps = steps_timed / train_time
            em, calib = score(model, eval_pairs)
            calibration = calib if eval_on == "heldout" else None  # on training pairs it says little of new ones
            metrics = {"loss": mean_loss, "exact_match": em, "steps_per_second": sps}
            loop.history.append({"step": float(learner.step), **metrics})
            if loop.evaluated(em, learner.step, rule):
                save(best_dir, metrics, calibration, last=False)
            save(last_dir, metrics, calibration, last=True)  # last/ after best/
            report.evaluated(em, loop.best_em, loop.best_step, sps)
            if loop.stopped != "steps":
                break
            if interrupted.is_set() and learner.step < steps:
                raise loop.interrupted(learner.step, out)

    return TrainResult(
        steps=learner.step, best_step=loop.best_step, best_exact_match=max(loop.best_em, 0.0), final_loss=final_loss,
        stopped=loop.stopped, seconds=time.perf_counter() - t_start,
        steps_per_second=steps_timed / train_time if train_time else 0.0,
        resumed_from=resumed_from, eval_on=eval_on, best_dir=best_dir, last_dir=last_dir, history=loop.history,
        calibration=_calibration(best_dir), warnings=warnings,
    )

"""A checkpoint is a folder: `config.json` (pydantic `CheckpointMeta`), `tokenizer.json` and the
weight files it names.

Weight files are content-addressed (`weights-<sha256 prefix>.pt`) and `config.json` is
replaced atomically last, so it is the commit point: a process killed at any moment
leaves a folder whose config.json names complete files that match its checksums.
Weights are read back with `torch.load(..., weights_only=True)` only: a checkpoint is
data, never code.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import torch
from pydantic import BaseModel, ValidationError, model_validator

from ida.distill.data import Mode
from ida.distill.model import ModelConfig, Transformer, resolve_device
from ida.distill.tokenizer import FILE as TOKENIZER, Codec, TokenizerError
from ida.errors import IdaError
from ida.files import ensure_dir, write_atomic

# 2: a trained tokenizer and rotary positions. Format 1 (bytes, learned positions) is refused in one line.
FORMAT = 2
CONFIG = "config.json"


class CheckpointError(IdaError):
    """A checkpoint folder that is missing, corrupt or does not fit: names the path."""


# Confidence bins of the calibration table: [0, .5), [.5, .7), [.7, .9), [.9, .95), [.95, .99), [.99, 1].
EDGES = (0.0, 0.5, 0.7, 0.9, 0.95, 0.99, 1.0)


class Calibration(BaseModel):
    """How often the model's greedy output was right at each confidence, on its held-out pairs:
    what a confidence of 0.97 is worth for this model (a small model is often sure and wrong)."""

    edges: list[float] = list(EDGES)
    counts: list[int]  # held-out outputs whose confidence fell in each bin
    right: list[int]  # of those, the ones equal to the target

    @model_validator(mode="after")
    def _fits(self) -> Calibration:
        if not (len(self.edges) >= 2 and len(self.counts) == len(self.right) == len(self.edges) - 1
                and self.edges == sorted(self.edges) and all(0 <= r <= n for r, n in zip(self.right, self.counts))):
            raise ValueError("bins, counts and right do not fit together")
        return self

    @classmethod
    def of(cls, confidences: Sequence[float], hits: Sequence[bool]) -> Calibration:
        counts, right = [0] * (len(EDGES) - 1), [0] * (len(EDGES) - 1)
        for c, hit in zip(confidences, hits):
            i = _bin(EDGES, c)
            counts[i] += 1
            right[i] += hit
        return cls(counts=counts, right=right)

    def describe(self, confidence: float) -> str:
        """One phrase: how often the held-out outputs of about this confidence were right."""
        i = _bin(self.edges, confidence)
        lo, hi, n, r = self.edges[i], self.edges[i + 1], self.counts[i], self.right[i]
        where = f"{lo:.2f}-{hi:.2f}".replace("1.00", "1")
        if n == 0:
            return f"no held-out output had confidence {where}"
        return f"right {100 * r / n:.0f}% of the time at {where} on held-out ({r} of {n})"

    def rows(self) -> list[tuple[str, int, int]]:
        """(bin, outputs, right) for the bins that hold any output."""
        return [(f"{lo:.2f}-{hi:.2f}".replace("1.00", "1"), n, r)
                for lo, hi, n, r in zip(self.edges, self.edges[1:], self.counts, self.right) if n]


def _bin(edges: Sequence[float], confidence: float) -> int:
    """The bin holding `confidence`: bins are [lo, hi), the last one closed."""
    for i in range(len(edges) - 2, -1, -1):
        if confidence >= edges[i]:
            return i
    return 0


class CheckpointMeta(BaseModel):
    format: int = FORMAT
    size: str
    model: ModelConfig
    data_hash: str
    mode: Mode
    step: int
    metrics: dict[str, float] = {}
    created: str = ""
    weights: str = ""  # file names and checksums are filled in by save_checkpoint
    weights_sha256: str = ""
    optimizer: str | None = None
    optimizer_sha256: str | None = None
    tokenizer_sha256: str = ""
    train: dict[str, Any] = {}  # training settings and loop state, for resume
    calibration: Calibration | None = None  # on the held-out pairs at this checkpoint's step (None: none held out)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _torch_bytes(obj: Any) -> tuple[bytes, str]:
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def save_checkpoint(
    directory: str | Path, model: Transformer, optimizer_state: dict[str, Any] | None, meta: CheckpointMeta
) -> Path:
    """Write the checkpoint; config.json is replaced last and atomically, then stale files go."""
    d = ensure_dir(directory)
    meta = meta.model_copy(update={"created": meta.created or _now(), "model": model.cfg,
                                   "tokenizer_sha256": model.codec.sha256})
    tok = d / TOKENIZER
    if not tok.exists() or hashlib.sha256(tok.read_bytes()).hexdigest() != meta.tokenizer_sha256:
        write_atomic(tok, model.codec.to_json().encode())  # a run's tokenizer never changes: written once
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    data, sha = _torch_bytes(state)
    meta.weights, meta.weights_sha256 = f"weights-{sha[:16]}.pt", sha
    write_atomic(d / meta.weights, data)
    if optimizer_state is not None:
        data, sha = _torch_bytes(optimizer_state)
        meta.optimizer, meta.optimizer_sha256 = f"optim-{sha[:16]}.pt", sha
        write_atomic(d / meta.optimizer, data)
    else:
        meta.optimizer = meta.optimizer_sha256 = None
    write_atomic(d / CONFIG, meta.model_dump_json(indent=2).encode())  # the commit point
    keep = {CONFIG, meta.weights, meta.optimizer}
    for f in d.iterdir():  # only our own kinds of file: a user's notes in the folder stay
        if f.name not in keep and f.is_file() and (f.suffix == ".tmp" or f.name.startswith(("weights-", "optim-"))):
            f.unlink(missing_ok=True)
    return d


def resolve_checkpoint(directory: str | Path) -> Path:
    """A checkpoint folder, or a training run folder, which means its best checkpoint."""
    d = Path(directory)
    if not (d / CONFIG).exists() and (d / "best" / CONFIG).exists():
        return d / "best"
    return d


def read_meta(directory: str | Path) -> CheckpointMeta:
    d = resolve_checkpoint(directory)
    path = d / CONFIG
    if not d.is_dir():
        raise CheckpointError(f"{d}: no such checkpoint folder")
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing; {d} is not a checkpoint folder") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: cannot read: {e}") from None
    try:
        meta = CheckpointMeta.model_validate(json.loads(raw))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: not JSON: {e.msg} (line {e.lineno})") from None
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "config"
        raise CheckpointError(f"{path}: {where}: {err['msg']}") from None
    except (ValueError, RecursionError) as e:  # an integer past 4,300 digits; nesting past the stack
        raise CheckpointError(f"{path}: not a config: {str(e)[:100] or type(e).__name__}") from None
    if meta.format > FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {meta.format} is newer than this ida reads ({FORMAT})")
    if meta.format < FORMAT:
        raise CheckpointError(f"{path}: a format {meta.format} checkpoint (byte-level, before the trained tokenizer) "
                              "is no longer read; train it again")
    if not meta.weights:
        raise CheckpointError(f"{path}: names no weights file")
    return meta


def _read_checked(d: Path, name: str, sha: str | None) -> bytes:
    """A file named by config.json, its checksum verified."""
    path = d / name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing (named by {d / CONFIG})") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read: {e}") from None
    if sha and hashlib.sha256(data).hexdigest() != sha:
        raise CheckpointError(f"{path}: corrupt (checksum does not match {CONFIG})")
    return data


def _load_file(d: Path, name: str, sha: str | None, device: torch.device) -> Any:
    path, data = d / name, _read_checked(d, name, sha)
    try:
        return torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except Exception as e:  # torch raises several types for a damaged file; all mean the same to a user
        raise CheckpointError(f"{path}: cannot load: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def _codec(d: Path, meta: CheckpointMeta) -> Codec:
    path, data = d / TOKENIZER, _read_checked(d, TOKENIZER, meta.tokenizer_sha256)
    try:
        codec = Codec.from_json(data.decode("utf-8", errors="replace"), str(path))
    except TokenizerError as e:
        raise CheckpointError(str(e)) from None
    if codec.vocab_size != meta.model.vocab:
        raise CheckpointError(f"{path}: {codec.vocab_size} tokens, but the model in {CONFIG} has {meta.model.vocab}")
    return codec


def load_checkpoint(directory: str | Path, device: str | torch.device = "cpu") -> tuple[Transformer, CheckpointMeta]:
    """The model (in eval mode, on `device`) and its metadata; any problem is a `CheckpointError`."""
    d = resolve_checkpoint(directory)
    meta = read_meta(d)
    dev = resolve_device(device)
    codec = _codec(d, meta)
    state = _load_file(d, meta.weights, meta.weights_sha256, dev)
    if not isinstance(state, dict):
        raise CheckpointError(f"{d / meta.weights}: not a state dict")
    model = Transformer(meta.model, codec)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise CheckpointError(f"{d / meta.weights}: does not fit the model in {CONFIG}: {first}") from None
    return model.to(dev).eval(), meta


def load_optimizer_state(directory: str | Path, meta: CheckpointMeta, device: str | torch.device = "cpu") -> dict[str, Any] | None:
    if meta.optimizer is None:
        return None
    state = _load_file(Path(directory), meta.optimizer, meta.optimizer_sha256, resolve_device(device))
    if not isinstance(state, dict):
        raise CheckpointError(f"{Path(directory) / meta.optimizer}: not an optimizer state")
    return state

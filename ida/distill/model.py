"""A small causal transformer with rotary positions, reading and writing tokens of its own tokenizer.

A sequence is `<bos> prompt <sep> completion <eos>`. Training puts a loss on the completion
and, with a weight, on the prompt too: predicting the prompt is what teaches the model to
read its facts (trained on the answer alone it memorizes). A prompt too long for the window
keeps its beginning (the question) and its end (the latest lines of a workspace) and loses
the middle, marked by `<cut>`. Positions are rotary (RoPE): attention depends on how far
apart two tokens are, so left padding in a batch changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field, model_validator
from torch import nn

from ida.distill.tokenizer import BOS, CUT, EOS, PAD, SEP, Codec
from ida.errors import IdaError


class DistillError(IdaError):
    """A distillation problem a user can fix: a bad size, device or dataset."""


MAX_PARAMS = 2_000_000_000  # 8 GB of float32: a config.json asking for more is a mistake, not a model


class ModelConfig(BaseModel):
    # Bounds, because a config.json is read from disk: `n_heads: 0` or a billion layers must be one
    # clear line, not a ZeroDivisionError or a request for 200 GB.
    d_model: int = Field(ge=2, le=16_384)
    n_layers: int = Field(ge=1, le=256)
    n_heads: int = Field(ge=1, le=256)
    d_ff: int = Field(ge=1, le=65_536)
    max_len: int = Field(256, ge=8, le=65_536)  # tokens in the whole sequence: <bos> prompt <sep> completion <eos>
    max_completion: int = Field(48, ge=1)  # tokens; the prompt gets what is left, so training and acting cut it alike
    vocab: int = Field(0, ge=0, le=1_000_000)  # set from the tokenizer when the model is built
    rope_base: float = Field(10_000.0, gt=1.0, le=1e9)

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        params = self.n_layers * (4 * self.d_model**2 + 2 * self.d_model * self.d_ff) + self.vocab * self.d_model
        if params > MAX_PARAMS:
            raise ValueError(f"about {params:,} parameters, more than the {MAX_PARAMS:,} this ida builds")
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError(f"d_model {self.d_model} must split into {self.n_heads} heads of even width")
        if self.max_completion + 3 >= self.max_len:
            raise ValueError(f"max_completion {self.max_completion} leaves no room for a prompt in max_len {self.max_len}")
        return self

    @property
    def prompt_budget(self) -> int:
        return self.max_len - self.max_completion - 3


# Depth matters for chained lookups (k hops want about log2(k) + 1 layers), so sizes grow in depth too.
SIZES: dict[str, ModelConfig] = {
    "tiny": ModelConfig(d_model=64, n_layers=2, n_heads=4, d_ff=256, max_len=256, max_completion=48),
    "small": ModelConfig(d_model=128, n_layers=4, n_heads=4, d_ff=512, max_len=512, max_completion=64),
    "base": ModelConfig(d_model=256, n_layers=6, n_heads=8, d_ff=1024, max_len=1024, max_completion=128),
}


def model_config(size: str, **overrides: int) -> ModelConfig:
    if size not in SIZES:
        raise DistillError(f"unknown model size {size!r}; sizes: {', '.join(SIZES)}")
    return SIZES[size].model_copy(update=overrides) if overrides else SIZES[size]


def resolve_device(device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise DistillError(f"unknown device {device!r}; use cpu or cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DistillError(f"device {device!r}: CUDA is not available here")
    return dev


# ---- encoding ------------------------------------------------------------------------


def fit_prompt(ids: list[int], budget: int) -> list[int]:
    """`ids` cut to `budget` tokens by dropping the middle: the question stays, and so do the latest lines."""
    if len(ids) <= budget:
        return ids
    head = (budget - 1) // 2
    return [*ids[:head], CUT, *ids[len(ids) - (budget - 1 - head) :]]


def encode_prompt(codec: Codec, prompt: str | list[int], cfg: ModelConfig) -> list[int]:
    ids = codec.encode(prompt) if isinstance(prompt, str) else prompt
    return [BOS, *fit_prompt(ids, cfg.prompt_budget), SEP]


def encode_pair(codec: Codec, prompt: str, completion: str, cfg: ModelConfig) -> tuple[list[int], int]:
    """Token ids of the whole sequence and where the completion starts."""
    head = encode_prompt(codec, prompt, cfg)
    return [*head, *codec.encode(completion)[: cfg.max_completion], EOS], len(head)


# ---- the network ---------------------------------------------------------------------


KV = tuple[torch.Tensor, torch.Tensor]  # one block's keys and values, (B, heads, T, head width) each


def rope_tables(start: int, t: int, head_dim: int, base: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angles of positions start..start+t-1, (t, head_dim / 2)."""
    inv = base ** (-torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim)
    angles = torch.arange(start, start + t, device=device, dtype=torch.float32)[:, None] * inv[None, :]
    return angles.cos(), angles.sin()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair of channels (first half, second half) of x (B, H, T, D) by its position's angle."""
    a, b = x.chunk(2, dim=-1)
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(), nn.Linear(cfg.d_ff, cfg.d_model))

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], mask: torch.Tensor | None,
                past: KV | None = None) -> tuple[torch.Tensor, KV]:
        """The block's output, and its keys and values (after `past`'s) for the next token to attend to."""
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        q, k = rotate(q, *rope), rotate(k, *rope)
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        if mask is None:
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.ln2(x)), (k, v)


class Transformer(nn.Module):
    """The model and its tokenizer: what it reads and writes is text."""

    def __init__(self, cfg: ModelConfig, codec: Codec) -> None:
        super().__init__()
        cfg = cfg.model_copy(update={"vocab": codec.vocab_size})
        self.cfg, self.codec = cfg, codec
        self.tok = nn.Embedding(cfg.vocab, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab, bias=False)
        self.apply(self._init)
        for blk in self.blocks:  # GPT-2 style: residual writes shrink with depth, for a stable start
            for lin in (blk.proj, blk.mlp[2]):  # type: ignore[index]  # torch types a Sequential's items loosely
                nn.init.normal_(lin.weight, std=0.02 / math.sqrt(2 * cfg.n_layers))  # type: ignore[union-attr, arg-type]

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def forward(self, ids: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, T, vocab). `pad` (B, T) marks left padding, which no query attends to."""
        return self.extend(ids, pad)[0]

    def extend(self, ids: torch.Tensor, pad: torch.Tensor | None = None,
               past: list[KV] | None = None) -> tuple[torch.Tensor, list[KV]]:
        """Logits for `ids` following the `past` keys and values (none: from the start), and the new cache.

        `pad` marks the padding among all positions, past and new (B, past + T)."""
        t = ids.shape[1]
        start = 0 if past is None else past[0][0].shape[2]
        rope = rope_tables(start, t, self.cfg.d_model // self.cfg.n_heads, self.cfg.rope_base, ids.device)
        mask = None  # right padding needs no mask: causal attention never looks ahead at it
        if pad is not None:
            n = start + t
            causal = torch.ones(t, n, dtype=torch.bool, device=ids.device).tril(diagonal=start)
            # Each query also sees itself, so a row of pure padding never attends to nothing (NaN).
            itself = torch.zeros(t, n, dtype=torch.bool, device=ids.device)
            itself[:, start:] = torch.eye(t, dtype=torch.bool, device=ids.device)
            mask = ((causal & ~pad[:, None, :]) | itself)[:, None]
        elif past is not None:
            raise ValueError("extending a cache needs the padding mask")
        x = self.tok(ids)
        cache = []
        for i, blk in enumerate(self.blocks):
            x, kv = blk(x, rope, mask, None if past is None else past[i])
            cache.append(kv)
        return self.head(self.ln_f(x)), cache

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ---- generation ------------------------------------------------------------------

    @torch.no_grad()
    def generate_batch(self, prompts: Sequence[str], max_new: int | None = None) -> list[Generation]:
        """Greedy completions, batched with left padding. Never emits <bos>, <sep>, <pad> or <cut>."""
        if not prompts:
            return []
        cfg = self.cfg
        # The prompt budget leaves exactly max_completion + <eos> positions, so the window never overflows.
        max_new = min(max_new or cfg.max_completion, cfg.max_completion) + 1
        was_training = self.training
        self.eval()
        seqs = [encode_prompt(self.codec, ids, cfg) for ids in self.codec.encode_batch(prompts)]
        width = max(map(len, seqs))
        ids = torch.full((len(seqs), width), PAD, dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, width - len(s) :] = torch.tensor(s)
        ids = ids.to(self.device)
        pad = ids == PAD
        banned = torch.zeros(cfg.vocab, dtype=torch.bool, device=self.device)
        banned[[BOS, SEP, PAD, CUT]] = True
        out: list[list[int]] = [[] for _ in prompts]
        logp = torch.zeros(len(prompts), device=self.device)
        done = torch.zeros(len(prompts), dtype=torch.bool, device=self.device)
        logits, cache = self.extend(ids, pad)  # the prompt once; then one token at a time on the cache
        for _ in range(max_new):
            lp = logits[:, -1].float().masked_fill(banned, float("-inf")).log_softmax(-1)
            nxt = lp.argmax(-1)
            logp += torch.where(done, 0.0, lp.gather(1, nxt[:, None]).squeeze(1))
            for i, t in enumerate(nxt.tolist()):
                if not done[i] and t != EOS:
                    out[i].append(t)
            done |= nxt == EOS
            if bool(done.all()):
                break
            pad = torch.cat([pad, done[:, None]], 1)  # a finished row pads on; its output is already fixed
            logits, cache = self.extend(nxt[:, None], pad, cache)
        self.train(was_training)
        conf = logp.exp().tolist()
        return [Generation(self.codec.decode(o), c, bool(d)) for o, c, d in zip(out, conf, done.tolist())]

    def generate(self, prompt: str, max_new: int | None = None) -> tuple[str, float]:
        """Greedy completion and its confidence: the probability of the whole greedy output."""
        g = self.generate_batch([prompt], max_new)[0]
        return g.text, g.confidence


@dataclass(frozen=True, slots=True)
class Generation:
    text: str
    confidence: float  # product of the chosen tokens' probabilities, <eos> included
    finished: bool  # False when it ran out of room before <eos>

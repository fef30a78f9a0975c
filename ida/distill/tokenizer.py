"""The tokenizer: trained from the transcripts themselves with Hugging Face `tokenizers`.

Byte-level BPE over pieces that split at whitespace, punctuation and every digit: `what`,
` is`, `->`, `3`. Digits stay single so that a number never seen in training is still made of
known tokens (multiplication, unseen permutations), and words the training text has
become one token each (the calibration behind this: word tokens learn to read facts where
bytes do not). Its alphabet holds all 256 bytes, so any text encodes (an unseen character
falls back to its bytes) and decoding gives the text back exactly. `kind="bytes"` is the
same tokenizer with no merges: one token per byte, the old encoding, kept for comparison.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal
from collections.abc import Iterable, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from ida.errors import IdaError

Kind = Literal["bpe", "bytes"]
SPECIALS = ("<bos>", "<sep>", "<eos>", "<pad>", "<cut>")  # ids 0-4 in every tokenizer
BOS, SEP, EOS, PAD, CUT = range(len(SPECIALS))
FILE = "tokenizer.json"


class TokenizerError(IdaError):
    """A tokenizer file that is missing, corrupt or not ours: names the path."""


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])


def _empty(vocab: dict[str, int] | None = None, merges: list[tuple[str, str]] | None = None) -> Tokenizer:
    tok = Tokenizer(models.BPE(vocab, merges) if vocab is not None else models.BPE())
    tok.pre_tokenizer = _pre_tokenizer()
    tok.decoder = decoders.ByteLevel()
    tok.encode_special_tokens = True  # as in Codec: so `seen` counts what encoding will really use
    return tok


class Codec:
    """Text to token ids and back, with the special ids the model needs."""

    def __init__(self, tok: Tokenizer, kind: Kind, seen: Iterable[int] = ()) -> None:
        for i, s in enumerate(SPECIALS):
            if tok.token_to_id(s) != i:
                raise TokenizerError(f"not an ida tokenizer: special token {s} is not id {i}")
        # A text that contains "<eos>" is text: specials come only from the model's own framing.
        tok.encode_special_tokens = True
        self.tok, self.kind = tok, kind
        self.vocab_size = tok.get_vocab_size()
        # Ids the training text used: any other id in a prompt has an untrained embedding (an
        # unseen character's bytes, say). It encodes and never crashes, but it is counted.
        self.seen = frozenset(seen)

    def unseen(self, ids: Sequence[int]) -> int:
        """How many of `ids` the training text never used (0 for a tokenizer that kept no record)."""
        return sum(i not in self.seen for i in ids) if self.seen else 0

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.tok.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        return self.tok.decode([i for i in ids if i >= len(SPECIALS)], skip_special_tokens=True)

    def to_json(self) -> str:
        return json.dumps({"ida_kind": self.kind, "ida_seen": sorted(self.seen), "tokenizer": json.loads(self.tok.to_str())},
                          sort_keys=True)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str, where: str = "tokenizer") -> Codec:
        try:
            raw = json.loads(text)
            kind, inner = raw["ida_kind"], json.dumps(raw["tokenizer"])
            if kind not in ("bpe", "bytes"):
                raise ValueError(f"unknown kind {kind!r}")
            return cls(Tokenizer.from_str(inner), kind, [int(i) for i in raw.get("ida_seen", [])])
        except TokenizerError as e:
            raise TokenizerError(f"{where}: {e}") from None
        except Exception as e:  # json, key and the Rust library's own errors all mean "not a tokenizer file"
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise TokenizerError(f"{where}: not a tokenizer file: {msg}") from None


def train_codec(texts: Iterable[str], kind: Kind = "bpe", vocab_size: int = 2_000) -> Codec:
    """A tokenizer for these texts. `bytes` ignores them: 256 byte tokens and no merges."""
    texts = list(texts)
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if kind == "bytes":
        vocab = {s: i for i, s in enumerate(SPECIALS)}
        vocab.update({ch: len(SPECIALS) + i for i, ch in enumerate(sorted(alphabet))})
        tok = _empty(vocab, [])
    else:
        tok = _empty()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS), initial_alphabet=alphabet,
                                      show_progress=False)
        tok.train_from_iterator(texts, trainer)
    seen = {i for e in tok.encode_batch(texts, add_special_tokens=False) for i in e.ids}
    return Codec(tok, kind, seen)


def load_codec(path: str | Path) -> Codec:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TokenizerError(f"{p}: missing") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TokenizerError(f"{p}: cannot read: {e}") from None
    return Codec.from_json(text, str(p))

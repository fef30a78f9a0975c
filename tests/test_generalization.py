"""The tokenizer, checkpoints that carry it, and a model that reads facts it never trained on."""

import json
import random
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from hypothesis import given, settings, strategies as st  # noqa: E402

from ida.distill import (  # noqa: E402
    CheckpointError, Codec, DistilledPolicy, Learner, Pair, TokenizerError, Transformer, exact_match, load_checkpoint,
    load_codec, model_config, save_checkpoint, train_codec,
)
from ida.distill.checkpoint import CheckpointMeta  # noqa: E402
from ida.distill.iterate import iterate  # noqa: E402
from ida.distill.train import codec_for  # noqa: E402
from ida.tasks import get as get_task  # noqa: E402
from ida.tasks.permutation import question, write_facts  # noqa: E402

CODEC = train_codec(["question: what is p^7(0) for p = $1?\n> ask what is p^3(0) for p = $1?\nanswer: 2", "reply 2",
                     "What is 534 * 3128?", "is the list [1 [2 []]] sorted from least to greatest?"])


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_round_trips_through_the_tokenizer(text):
    ids = CODEC.encode(text)
    assert CODEC.decode(ids) == text and all(0 <= i < CODEC.vocab_size for i in ids)


def test_words_are_tokens_digits_are_single_and_unseen_text_falls_back_to_counted_bytes():
    words = [CODEC.decode([i]) for i in CODEC.encode("what is p^12(3) for p")]
    assert words == ["what", " is", " p", "^", "1", "2", "(", "3", ")", " for", " p"]
    assert [CODEC.decode([i]) for i in CODEC.encode("3128")] == ["3", "1", "2", "8"]
    assert CODEC.unseen(CODEC.encode("reply 2")) == 0
    strange = "ünïcødé ☃ \u2028"
    assert CODEC.decode(CODEC.encode(strange)) == strange and CODEC.unseen(CODEC.encode(strange)) > 0
    assert len(train_codec([], "bytes").encode("what")) == 4  # bytes: one token a byte


def test_a_checkpoint_carries_its_tokenizer_and_bad_files_get_one_clear_line(tmp_path):
    torch.manual_seed(0)
    model = Transformer(model_config("tiny"), CODEC)
    meta = CheckpointMeta(size="tiny", model=model.cfg, data_hash="x", mode="policy", step=1)
    save_checkpoint(tmp_path / "ck", model, None, meta)
    loaded, read = load_checkpoint(tmp_path / "ck")
    assert loaded.codec.to_json() == CODEC.to_json() and read.tokenizer_sha256 == CODEC.sha256
    prompt = "question: what is p^7(0) for p = $1?"
    assert loaded.generate(prompt, 6) == pytest.approx(model.eval().generate(prompt, 6))

    tok = tmp_path / "ck" / "tokenizer.json"
    good = tok.read_text()
    tok.write_text("{not json")
    with pytest.raises(CheckpointError, match="tokenizer.json: corrupt"):
        load_checkpoint(tmp_path / "ck")
    with pytest.raises(TokenizerError, match="not a tokenizer file"):
        load_codec(tok)
    tok.unlink()
    with pytest.raises(CheckpointError, match="tokenizer.json: missing"):
        load_checkpoint(tmp_path / "ck")
    tok.write_text(good)
    load_checkpoint(tmp_path / "ck")

    config = tmp_path / "ck" / "config.json"  # a checkpoint of the byte-level format 1
    raw = json.loads(config.read_text())
    config.write_text(json.dumps({**raw, "format": 1}))
    with pytest.raises(CheckpointError, match="format 1 checkpoint .* train it again") as err:
        load_checkpoint(tmp_path / "ck")
    assert "\n" not in str(err.value)


def test_a_policy_reads_unseen_characters_without_crashing_and_counts_them():
    torch.manual_seed(0)
    policy = DistilledPolicy(Transformer(model_config("tiny"), CODEC), mode="policy")
    policy.act(SimpleNamespace(render=lambda: "question: reply 2", question_text="reply 2", names=()))
    assert policy.unseen_tokens == 0
    action = policy.act(SimpleNamespace(render=lambda: "question: ünïcødé ☃?", question_text="ünïcødé ☃?", names=()))
    assert isinstance(action, str) and policy.unseen_tokens > 0


def test_a_tokenizer_that_is_not_ours_is_refused():
    from tokenizers import Tokenizer, models

    foreign = json.dumps({"ida_kind": "bpe", "tokenizer": json.loads(Tokenizer(models.BPE()).to_str())})
    with pytest.raises(TokenizerError, match="special token"):
        Codec.from_json(foreign)


def fresh(rng: random.Random, n: int, size: int = 8) -> list[Pair]:
    solve = get_task("permutation").solve
    out = []
    for _ in range(n):
        q = question(1, rng.randrange(size), write_facts(rng.sample(range(size), size)))
        out.append(Pair(q, solve(q), q))
    return out


@pytest.mark.slow  # 650 steps: it learns the lookup abruptly past ~500 (17% at 400, 59% at 650)
def test_tiny_model_reads_one_fact_of_permutations_it_never_saw():
    """σ^1(x) on fresh 8-element permutations: chance (and "answer x") is 1 in 8. With the loss on
    the prompt the model learns to look the fact up; the benchmark takes it to 99%."""
    train_pairs = fresh(random.Random(0), 5_000)
    family = get_task("permutation").family
    seen = {family(p.prompt) for p in train_pairs}
    test = [p for p in fresh(random.Random(1), 240) if family(p.prompt) not in seen][:200]  # unseen permutations
    assert len(test) == 200
    torch.manual_seed(0)
    model = Transformer(model_config("tiny"), codec_for(train_pairs))
    learner = Learner(model, 650, 3e-3, seed=0)
    learner.fit(learner.encode(train_pairs), 650, 64)
    assert exact_match(model, test) >= 0.5


def test_iterate_learns_a_decomposer_and_saves_it(tmp_path):
    res = iterate("permutation", tmp_path, rounds=2, steps=10, questions=40, held_out=0.0, learn_decomposer=True)
    first, second = res.rows
    assert first.decomposer_defer_rate == 1.0  # no H' yet: H decomposed every root
    assert 0.0 <= second.decomposer_defer_rate <= 1.0 and second.decomposer_pairs >= first.decomposer_pairs > 0
    assert second.h_calls >= first.h_calls
    hp = DistilledPolicy(tmp_path / "decomposer")
    assert hp.mode == "policy"
    rows = {r.difficulty for r in res.by_difficulty}
    assert rows and rows <= set(range(2, 8))


def test_primitive_targets_add_hs_one_hop_answers(tmp_path):
    plain = iterate("permutation", tmp_path / "a", rounds=1, steps=5, questions=40, held_out=0.0, supervised=False)
    more = iterate("permutation", tmp_path / "b", rounds=1, steps=5, questions=40, held_out=0.0, supervised=False,
                   primitive_targets=True)
    # the same roots (all of them: H and the primitives settle exponents 2 and 3), plus the σ^1 questions below them
    assert more.rows[0].targets > plain.rows[0].targets > 0

"""Distillation: dataset, model, training, checkpoints, policies.

Training tests use the `tiny` model on one thread with a bounded number of steps; the
trained run is shared by the module, and the tests that need it to have learned are marked slow.
Tests of the checkpoint files share a run of a few steps instead.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # tiny models are overhead-bound: one thread is as fast and leaves a core free

import ida  # noqa: E402
from ida.distill import (  # noqa: E402
    CheckpointError, DatasetError, Deferring, DistilledPolicy, DistillError, Pair, Transformer, answer_pairs,
    data_hash, exact_match, load_checkpoint, model_config, policy_pairs, read_meta, save_checkpoint, split, train,
    train_codec,
)
from ida.distill.model import encode_prompt  # noqa: E402
from ida.distill.tokenizer import CUT  # noqa: E402
from ida.distill.policy import UNPARSEABLE  # noqa: E402
from ida.errors import IdaError  # noqa: E402
from ida.transcript import NodeRecord, StepRecord, TranscriptError, TranscriptHeader  # noqa: E402
from ida.tree import StepCorrects  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def untrained(seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(model_config("tiny"), train_codec(["question: 12+34\n> scratch x", "reply 46", "hello world"]))


def write_transcript(path: Path, run_id: str, nodes: list[NodeRecord], corrects: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = TranscriptHeader(schema_version=1, run_id=run_id, corrects=corrects)  # full-text records: version 1
    path.write_text("\n".join([header.model_dump_json(), *(n.model_dump_json() for n in nodes)]) + "\n")
    return path


def answer_node(i: int, question: str, answer: str, failure: str | None = None) -> NodeRecord:
    return NodeRecord(id=i, question=question, answer=answer, failure=failure,
                      steps=[StepRecord(workspace=f"question: {question}", action=f"reply {answer}")])


def addition_transcripts(folder: Path) -> Path:
    """All sums of two 2-digit numbers as answered nodes, over two files in nested folders."""
    qs = [(a, b) for a in range(100) for b in range(100)]
    for part, chunk in enumerate((qs[:5000], qs[5000:])):
        nodes = [answer_node(i, f"{a}+{b}", str(a + b)) for i, (a, b) in enumerate(chunk)]
        nodes.append(answer_node(len(nodes), "1+1", "failed: budget exhausted", failure="budget exhausted"))
        write_transcript(folder / f"part{part}" / f"run{part}.jsonl", f"run{part}", nodes)
    return folder


# ---- dataset -------------------------------------------------------------------------


def test_answer_pairs_from_folders_skip_failures_and_dedupe(tmp_path):
    folder = addition_transcripts(tmp_path / "t")
    shutil.copy(folder / "part0" / "run0.jsonl", folder / "part0" / "copy.jsonl")  # the same run twice
    pairs = answer_pairs(folder)
    assert len(pairs) == 10_000 and len(set(pairs)) == len(pairs)
    assert Pair("12+34", "46", "12+34") in pairs
    assert all(not p.completion.startswith("failed") for p in pairs)
    second_half = {f"{a}+{b}" for a in range(50, 100) for b in range(100)}
    assert answer_pairs([folder / "part1" / "run1.jsonl"]) == [p for p in pairs if p.prompt in second_half]


def test_policy_pairs_corrections_override(tmp_path):
    ws = "question: 2+2"
    orig = NodeRecord(id=0, question="2+2", answer="5", steps=[
        StepRecord(workspace=ws, action="scratch think"),
        StepRecord(workspace=ws + "\n> scratch think", action="reply 5"),
    ])
    other = NodeRecord(id=0, question="3+3", answer="6", steps=[StepRecord(workspace="question: 3+3", action="reply 6")])
    write_transcript(tmp_path / "a.jsonl", "r1", [orig])
    write_transcript(tmp_path / "b.jsonl", "r2", [other])
    # The overseer's correction of r1 node 0 step 1, in a transcript of corrected steps.
    fix = NodeRecord(id=0, question="2+2", answer="4", steps=[StepRecord(
        workspace=ws + "\n> scratch think", action="reply 4", corrects=StepCorrects(run_id="r1", node=0, step=1))])
    write_transcript(tmp_path / "z_fix.jsonl", "r3", [fix], corrects="r1")
    pairs = policy_pairs(tmp_path)
    by_prompt = {}
    for p in pairs:
        by_prompt.setdefault(p.prompt, []).append(p.completion)
    assert by_prompt == {ws: ["scratch think"], ws + "\n> scratch think": ["reply 4"], "question: 3+3": ["reply 6"]}
    # Answers too: the corrected transcript's answer wins over the one it corrects.
    assert sorted((p.prompt, p.completion) for p in answer_pairs(tmp_path)) == [("2+2", "4"), ("3+3", "6")]


def test_correction_drops_the_exact_step_it_corrects_even_with_another_workspace(tmp_path):
    write_transcript(tmp_path / "a.jsonl", "r1", [NodeRecord(id=0, question="q", steps=[
        StepRecord(workspace="question: q", action="reply wrong")])])
    write_transcript(tmp_path / "b.jsonl", "r2", [NodeRecord(id=0, question="q", steps=[
        StepRecord(workspace="question: q\n(rendered differently)", action="reply right",
                   corrects=StepCorrects(run_id="r1", node=0, step=0))])])
    assert [p.completion for p in policy_pairs(tmp_path)] == ["reply right"]


def test_commands_the_engine_rejected_are_not_imitated(tmp_path):
    write_transcript(tmp_path / "a.jsonl", "r1", [NodeRecord(id=0, question="q", answer="a", steps=[
        StepRecord(workspace="question: q", action="jump around", result="error: unknown command 'jump'"),
        StepRecord(workspace="question: q\n> jump around\nerror: unknown command 'jump'", action="reply a"),
    ])])
    assert [p.completion for p in policy_pairs(tmp_path)] == ["reply a"]


def test_failure_answers_passed_up_by_a_policy_are_not_targets(tmp_path):
    write_transcript(tmp_path / "a.jsonl", "r1", [
        NodeRecord(id=0, question="q", answer="failed: budget exhausted", steps=[]),
        NodeRecord(id=1, question="r", answer="failed: unparseable model output",
                   steps=[StepRecord(workspace="question: r", action=UNPARSEABLE)]),
        answer_node(2, "s", "yes")])
    assert [p.completion for p in answer_pairs(tmp_path)] == ["yes"]
    assert [p.completion for p in policy_pairs(tmp_path)] == ["reply yes"]


def test_split_is_leak_free_stable_and_never_empty():
    pairs = [Pair(f"ws {q} {k}", f"act {k}", f"q{q}") for q in range(500) for k in range(3)]
    train_, held = split(pairs, held_out=0.1, seed=0)
    assert not {p.question for p in train_} & {p.question for p in held}
    assert len(train_) + len(held) == len(pairs)
    assert 0.05 < len({p.question for p in held}) / 500 < 0.15
    assert split(pairs, 0.1, 0) == (train_, held)
    assert split(pairs, 0.1, 1) != (train_, held)
    # Adding questions never moves an old question to the other side (iterate relies on it).
    _, held_more = split(pairs + [Pair("new", "x", "new-q")], 0.1, 0)
    assert {p.question for p in held} <= {p.question for p in held_more}
    tiny_train, tiny_held = split([Pair("a", "1", "a"), Pair("b", "2", "b")], 0.1, 0)
    assert len(tiny_train) == 1 and len(tiny_held) == 1


def test_data_hash_ignores_order_and_sees_content():
    pairs = [Pair("a", "1", "a"), Pair("b", "2", "b")]
    assert data_hash(pairs) == data_hash(pairs[::-1])
    assert data_hash(pairs) != data_hash([Pair("a", "1", "a"), Pair("b", "3", "b")])


def test_dataset_errors_are_clear(tmp_path):
    with pytest.raises(DatasetError, match="nope"):
        answer_pairs(tmp_path / "nope")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    with pytest.raises(TranscriptError, match="bad.jsonl:1"):
        policy_pairs(bad)


# ---- model ---------------------------------------------------------------------------


def test_long_prompts_keep_their_question_and_their_end_and_generation_stays_in_the_window():
    model = untrained()
    cfg, codec = model.cfg, model.codec
    long = "question: what is 12+34?\n" + "old line\n" * 300 + "latest line"
    ids = encode_prompt(codec, long, cfg)
    assert len(ids) == cfg.prompt_budget + 2 and ids.count(CUT) == 1
    head, tail = ids[1:-1][: ids.index(CUT) - 1], ids[ids.index(CUT) + 1 : -1]
    assert codec.decode(head).startswith("question: what is 12+34?") and codec.decode(tail).endswith("latest line")
    short = "question: 1+1"
    assert codec.decode(encode_prompt(codec, short, cfg)) == short  # what fits is never cut
    g = model.generate_batch([long])[0]
    assert not g.finished or len(codec.encode(g.text)) <= cfg.max_completion
    assert 0.0 <= g.confidence <= 1.0


def test_batched_generation_matches_one_at_a_time():
    model = untrained(1)
    prompts = ["a", "hello world", "question: 12+34\n> scratch x"]
    batch = model.generate_batch(prompts, max_new=12)
    for p, g in zip(prompts, batch):
        text, conf = model.generate(p, max_new=12)
        assert text == g.text and conf == pytest.approx(g.confidence, rel=1e-4)


def test_bad_size_and_missing_cuda_are_user_errors():
    with pytest.raises(DistillError, match="unknown model size"):
        model_config("huge")
    if not torch.cuda.is_available():
        with pytest.raises(DistillError, match="CUDA is not available"):
            train([Pair("a", "b", "a")], [], "/nonexistent-unused", device="cuda", progress=False)


# ---- training (a short run for the files, a learned one shared by the slow tests) ----------


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A checkpoint as train() writes it, after four steps: for the tests of its files, not of learning."""
    tr, ho = kill_pairs()
    out = tmp_path_factory.mktemp("small") / "run"
    result = train(tr[:64], ho[:20], out, size="tiny", steps=4, batch_size=8, eval_every=4, max_eval=8, seed=0,
                   mode="answer", progress=False)
    return SimpleNamespace(result=result, held=ho[:20], out=out)


@pytest.fixture(scope="module")
def addition_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("addition")
    pairs = answer_pairs(addition_transcripts(base / "transcripts"))
    train_, held = split(pairs, held_out=0.1, seed=0)
    t0 = time.perf_counter()
    # The prompts here are random digits, nothing to read: a light prompt loss suits them (measured at
    # 1,200 steps: weight 0.1 72% held-out, 0 34%, the default 1.0 13%; the default is for reading facts).
    result = train(train_, held, base / "run", size="tiny", steps=1200, batch_size=64, eval_every=300,
                   patience=3, seed=0, mode="answer", progress=False, prompt_weight=0.1)
    return SimpleNamespace(result=result, train=train_, held=held, out=base / "run", seconds=time.perf_counter() - t0)


@pytest.mark.slow
def test_tiny_model_learns_two_digit_addition(addition_run):
    r = addition_run.result
    # Chance is about 1 in 100 (a sum has up to 199 values): well above it means it learned to add.
    assert r.best_exact_match >= 0.5, r.history
    assert r.eval_on == "heldout" and r.steps_per_second > 0 and r.history
    meta = read_meta(r.best_dir)
    assert meta.mode == "answer" and meta.size == "tiny" and meta.step == r.best_step
    assert meta.metrics["exact_match"] == r.best_exact_match
    assert meta.data_hash == data_hash([*addition_run.train, *addition_run.held])
    model, _ = load_checkpoint(addition_run.out)  # a run folder means its best checkpoint
    assert exact_match(model, addition_run.held) == pytest.approx(r.best_exact_match, abs=0.15)


def test_checkpoint_round_trip_gives_identical_generations(small_run, tmp_path):
    model, meta = load_checkpoint(small_run.result.best_dir)
    prompts = [p.prompt for p in small_run.held[:20]]
    before = model.generate_batch(prompts)
    save_checkpoint(tmp_path / "copy", model, None, meta)
    again, meta2 = load_checkpoint(tmp_path / "copy")
    assert again.generate_batch(prompts) == before
    assert meta2.model_dump(exclude={"created"}) == meta.model_dump(exclude={"created"})
    for (k, v), (k2, v2) in zip(model.state_dict().items(), again.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)


@pytest.mark.slow
def test_the_best_checkpoint_knows_how_often_each_confidence_was_right(addition_run):
    meta = read_meta(addition_run.result.best_dir)
    cal = meta.calibration
    assert cal is not None and cal == addition_run.result.calibration
    n = min(256, len(addition_run.held))  # the evaluation's sample of the held-out pairs
    # The table is the evaluation itself: as many outputs as pairs scored, as many right as exact match says.
    assert sum(cal.counts) == n and sum(cal.right) == round(meta.metrics["exact_match"] * n)
    policy = DistilledPolicy(addition_run.out)
    policy.act(ws_for("12+34"))
    note = policy.confidence_note(policy.last_confidence)
    i = next(i for i in range(len(cal.counts)) if cal.edges[i] <= policy.last_confidence < cal.edges[i + 1] or i == 5)
    assert note.startswith("right ") and f"({cal.right[i]} of {cal.counts[i]})" in note and "on held-out" in note
    # What a person at `ida ask --suggest` sees: the confidence, and what such confidence was worth.
    from io import StringIO
    from rich.console import Console
    from ida.policies.human import HumanPolicy
    from ida.session import policy_suggester

    screen = StringIO()
    person = HumanPolicy(Console(file=screen, width=300), read=lambda prompt, default: "reply 46",
                         suggest=policy_suggester(policy))
    person.act(ida.Workspace(0, ida.parse("12+34")))
    assert f"model suggests (confidence {policy.last_confidence:.2f}; {note}): reply" in screen.getvalue()


def test_calibration_bins_and_describe():
    from ida.distill.checkpoint import Calibration

    cal = Calibration.of([0.1, 0.96, 0.97, 0.98, 0.999, 1.0], [False, True, False, False, True, True])
    assert cal.counts == [1, 0, 0, 0, 3, 2] and cal.right == [0, 0, 0, 0, 1, 2]
    assert cal.describe(0.97) == "right 33% of the time at 0.95-0.99 on held-out (1 of 3)"
    assert cal.describe(1.0) == "right 100% of the time at 0.99-1 on held-out (2 of 2)"
    assert cal.describe(0.6) == "no held-out output had confidence 0.50-0.70"
    with pytest.raises(ValueError):
        Calibration(counts=[1, 2], right=[0, 0])  # bins that do not fit the edges: a damaged config is refused


def corrupt_cases():
    def truncate(d):
        w = d / read_meta(d).weights
        w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
        return w

    def garbage_config(d):
        (d / "config.json").write_text("{ this is not json")
        return d / "config.json"

    def wrong_fields(d):
        (d / "config.json").write_text(json.dumps({"size": "tiny"}))
        return d / "config.json"

    def missing_weights(d):
        w = d / read_meta(d).weights
        w.unlink()
        return w

    def missing_config(d):
        (d / "config.json").unlink()
        return d / "config.json"

    def other_model(d):
        cfg = json.loads((d / "config.json").read_text())
        cfg["model"]["d_ff"] = 128  # config and weights disagree
        (d / "config.json").write_text(json.dumps(cfg))
        return d / read_meta(d).weights

    def newer_format(d):
        cfg = json.loads((d / "config.json").read_text())
        cfg["format"] = 99
        (d / "config.json").write_text(json.dumps(cfg))
        return d / "config.json"

    def model_field(key, value):
        def damage(d):
            cfg = json.loads((d / "config.json").read_text())
            cfg["model"][key] = value
            (d / "config.json").write_text(json.dumps(cfg))
            return d / "config.json"
        damage.__name__ = f"{key}_{str(value)[:12]}"
        return damage

    def huge_integer(d):
        text = (d / "config.json").read_text()
        (d / "config.json").write_text(text.replace('"format": 2', '"format": ' + "9" * 5000, 1))
        return d / "config.json"

    def deep_nesting(d):
        (d / "config.json").write_text("[" * 100_000 + "]" * 100_000)
        return d / "config.json"

    return [truncate, garbage_config, wrong_fields, missing_weights, missing_config, other_model, newer_format,
            model_field("n_heads", 0), model_field("n_layers", -3), model_field("d_model", 10**9),
            model_field("vocab", 2_000_000), model_field("d_ff", 10**6), huge_integer, deep_nesting]


@pytest.mark.parametrize("damage", corrupt_cases(), ids=lambda f: f.__name__)
def test_corrupt_checkpoint_is_a_clear_error(small_run, tmp_path, damage):
    d = tmp_path / "ckpt"
    shutil.copytree(small_run.result.best_dir, d)
    path = damage(d)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(d)
    msg = str(err.value)
    assert isinstance(err.value, IdaError) and "\n" not in msg and str(path) in msg, msg


def test_missing_checkpoint_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        load_checkpoint(tmp_path / "absent")


# ---- resume, and SIGKILL ------------------------------------------------------------

KILL_SCRIPT = textwrap.dedent("""
    import sys, torch
    torch.set_num_threads(1)
    from ida.distill import Pair, split, train
    pairs = [Pair(f"{a}+{b}", str(a + b), f"{a}+{b}") for a in range(30) for b in range(30)]
    tr, ho = split(pairs, 0.1, 0)
    train(tr, ho, sys.argv[1], size="tiny", steps=int(sys.argv[2]), batch_size=16, eval_every=10, patience=1000,
          seed=3, mode="answer", progress=False, max_eval=16)
""")


def kill_pairs():
    pairs = [Pair(f"{a}+{b}", str(a + b), f"{a}+{b}") for a in range(30) for b in range(30)]
    return split(pairs, 0.1, 0)


def test_sigkill_leaves_a_checkpoint_that_loads_and_resumes_exactly(tmp_path):
    steps = 100  # the kill lands a few steps past the first checkpoint (step 10), far before the end
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(out), str(steps)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (out / "last" / "config.json").exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.01)
        time.sleep(0.05)  # land the kill somewhere in the middle of later work, maybe mid-save
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    _, meta = load_checkpoint(out / "last")
    assert 10 <= meta.step < steps and meta.step % 10 == 0
    tr, ho = kill_pairs()
    common = dict(size="tiny", steps=steps, batch_size=16, eval_every=10, patience=1000, seed=3, mode="answer",
                  progress=False, max_eval=16)
    resumed = train(tr, ho, out, resume=True, **common)
    assert resumed.resumed_from == meta.step and resumed.steps == steps
    # Batches depend only on (seed, step): the resumed run ends where an unbroken one does.
    unbroken = train(tr, ho, tmp_path / "unbroken", **common)
    a, _ = load_checkpoint(resumed.last_dir)
    b, _ = load_checkpoint(unbroken.last_dir)
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.allclose(v, w, atol=1e-5), k
    assert [h["exact_match"] for h in resumed.history] == [h["exact_match"] for h in unbroken.history]


def test_resume_refuses_other_data_and_progress_bar_runs(tmp_path, capsys):
    tr, ho = kill_pairs()
    train(tr[:50], ho, tmp_path, steps=6, batch_size=8, eval_every=3, max_eval=4, progress=True)
    with pytest.raises(CheckpointError, match="other data"):
        train(tr[:60], ho, tmp_path, steps=6, batch_size=8, eval_every=3, resume=True, progress=False)
    done = train(tr[:50], ho, tmp_path, steps=6, batch_size=8, eval_every=3, max_eval=4, resume=True, progress=False)
    assert done.resumed_from == 6 and done.steps == 6


# ---- early stopping, progress, the run folder -------------------------------------------


def test_early_stopping_waits_for_a_plateau_past_min_steps():
    from ida.distill.train import Plateau, _Loop

    def run(ems, **rule):
        loop, rule = _Loop(), Plateau(**{"patience": 2, "min_delta": 0.01, "min_steps": 0, "judge": True, **rule})
        for i, em in enumerate(ems, 1):
            loop.evaluated(em, 100 * i, rule)
            if loop.stopped != "steps":
                return loop.stopped, 100 * i, loop.best_step
        return loop.stopped, 100 * len(ems), loop.best_step

    assert run([0.1, 0.3, 0.3, 0.3, 0.3]) == ("patience", 400, 200)
    # Rises smaller than min_delta are kept as the best checkpoint but are no progress: patience runs on.
    assert run([0.1, 0.3, 0.305, 0.309, 0.5]) == ("patience", 400, 400)
    assert run([0.1, 0.3, 0.3, 0.3, 0.3], min_steps=600) == ("steps", 500, 200)  # never before min_steps
    assert run([0.1, 0.3, 0.3, 0.3, 0.3], min_steps=350) == ("patience", 400, 200)
    assert run([0.1, 1.0, 0.3]) == ("perfect", 200, 200)
    assert run([0.1, 1.0, 0.3, 0.3, 0.3], judge=False) == ("steps", 500, 200)  # too few held out: never


def test_a_held_out_set_too_small_to_judge_trains_every_step_with_a_warning(tmp_path, capsys):
    tr, ho = kill_pairs()
    common = dict(steps=12, batch_size=8, eval_every=3, patience=1, min_steps=0, min_delta=0.5, max_eval=64)
    judged = train(tr[:50], ho[:20], tmp_path / "judged", progress=False, **common)
    assert judged.stopped == "patience" and judged.steps == 6 and not judged.warnings  # flat: out of patience
    small = train(tr[:50], ho[:5], tmp_path / "small", progress=True, **common)
    assert small.stopped == "steps" and small.steps == 12
    assert small.warnings == ["the held-out set has 5 pairs, too few to judge a plateau (at least 20): "
                              "early stopping is off, training all 12 steps"]
    err = capsys.readouterr().err
    assert "warning: the held-out set has 5 pairs" in err


def test_progress_is_plain_lines_where_stderr_is_not_a_terminal(tmp_path, capsys):
    tr, ho = kill_pairs()
    train(tr[:50], ho, tmp_path, steps=6, batch_size=8, eval_every=3, max_eval=24, progress=True, log_seconds=0)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("step 1/6  loss ") and lines[0].endswith("elapsed 0:00")  # every step at 0 s
    evals = [line for line in lines if "held-out" in line]
    assert len(evals) == 2 and evals[-1].startswith("step 6/6  ") and "(best " in evals[-1] and "steps/s" in evals[-1]
    assert not any("\x1b" in line or "━" in line for line in lines)  # no bar, no escape codes in a log


def test_a_folder_with_an_earlier_run_is_refused_unless_resumed_or_overwritten(tmp_path):
    from ida.distill.train import RunExists

    tr, ho = kill_pairs()
    common = dict(batch_size=8, eval_every=3, max_eval=4, progress=False)
    train(tr[:50], ho, tmp_path, steps=6, **common)
    with pytest.raises(RunExists, match=r"holds the checkpoints of an earlier run \(step 6\)"):
        train(tr[:50], ho, tmp_path, steps=6, **common)
    assert read_meta(tmp_path / "last").step == 6  # untouched
    again = train(tr[:50], ho, tmp_path, steps=3, overwrite=True, **common)
    assert again.resumed_from is None and read_meta(tmp_path / "last").step == 3 == read_meta(tmp_path / "best").step


# ---- policies ------------------------------------------------------------------------


class Fallback:
    name = "fallback"

    def __init__(self):
        self.calls = 0

    def act(self, ws):
        self.calls += 1
        return "reply from fallback"


def ws_for(question: str) -> SimpleNamespace:
    return SimpleNamespace(render=lambda: f"question: {question}", question_text=question, node_id=0, policy_state=None)


@pytest.mark.slow
def test_distilled_policy_answers_and_runs_in_the_engine(addition_run):
    policy = DistilledPolicy(addition_run.out)
    assert policy.mode == "answer" and policy.name
    hits = sum(policy.act(ws_for(p.prompt)) == f"reply {p.completion}" for p in addition_run.held[:40])
    assert hits >= 15 and policy.failures == 0 and 0.0 < policy.last_confidence <= 1.0
    tree = ida.run("12+34", policy)
    assert len(tree) == 1 and tree.root_node.policy == policy.name
    assert tree.answer == policy.model.generate("12+34")[0]


def test_unparseable_output_is_a_counted_failure_not_a_crash():
    policy = DistilledPolicy(untrained(), mode="policy")  # untrained: emits noise
    assert policy.act(ws_for("2+2")) == UNPARSEABLE
    assert policy.failures == 1 and policy.last_failed and policy.last_confidence == 0.0
    ida.parse_action(UNPARSEABLE)  # the stand-in is itself a valid command


@pytest.mark.slow
def test_deferring_acts_when_confident_and_counts_the_rate(addition_run):
    model = DistilledPolicy(addition_run.out)
    fb = Fallback()
    always = Deferring(model, fb, threshold=0.0)
    assert always.act(ws_for("12+34")).startswith("reply ") and always.acted == 1 and always.rate == 0.0
    never = Deferring(model, fb, threshold=1.01)
    assert never.act(ws_for("12+34")) == "reply from fallback" and fb.calls == 1 and never.rate == 1.0
    noisy = Deferring(DistilledPolicy(untrained(), mode="policy"), fb, threshold=0.0)
    assert noisy.act(ws_for("1+1")) == "reply from fallback"  # a failed parse defers whatever the threshold
    mixed = Deferring(model, fb, threshold=0.5)
    for p in addition_run.held[:20]:
        mixed.act(ws_for(p.prompt))
    assert mixed.acted + mixed.deferred == 20 and mixed.rate == mixed.deferred / 20
    assert "fallback" in mixed.name


def test_import_ida_does_not_import_torch():
    code = "import sys, ida, ida.tree, ida.engine; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})

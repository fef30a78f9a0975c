"""A blame model: (blame question, blame) pairs from blame trees, and deferring that asks less as it learns."""

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

import ida  # noqa: E402
from ida.distill.data import blame_pairs, load_pairs  # noqa: E402
from ida.distill.model import Transformer, model_config  # noqa: E402
from ida.distill.policy import DistilledPolicy  # noqa: E402
from ida.distill.train import Learner, codec_for  # noqa: E402
from ida.overseer import backward  # noqa: E402
from ida.overseer.faults import faulty_run, scripted_reports  # noqa: E402
from ida.overseer.policy_overseer import Deferring, PolicyOverseer  # noqa: E402
from ida.overseer.questions import blame_question, parse_blame, raw_text  # noqa: E402
from ida.overseer.saved import report_path, save_report  # noqa: E402
from ida.overseer.scripts import for_task  # noqa: E402
from ida.tasks import get  # noqa: E402


def key(b):
    return b.ok, b.targets, b.edits, None if b.correction is None else (b.correction.step, b.correction.action)


def test_blame_pairs_are_each_blame_question_and_the_reply_that_gives_its_blame(tmp_path):
    f = faulty_run(get("length"), 2, 4)
    report = backward(f.tree, f.truth, PolicyOverseer(for_task("length")))
    save_report(report, report_path(f.tree.save(tmp_path / "run.jsonl")))
    ida.run("What is 2 * 3?", get("multiply").policy).save(tmp_path / "run.blame" / "not-a-blame.jsonl")
    pairs = load_pairs(tmp_path / "run.blame", "blame")
    assert len(pairs) == len(report.visits)  # the other transcript has no blame question
    for p, v in zip(pairs, report.visits):
        assert p.prompt == p.question == v.blame.tree.root_node.question.text()
        assert parse_blame(raw_text(ida.parse(p.completion))) == parse_blame(raw_text(v.blame.tree.root_node.answer))

    @ida.scripted(name="garbled")
    def garbled(ws):
        yield "unlock $1"
        return "blame it on the rain"

    bad = backward(f.tree, f.truth, PolicyOverseer(garbled))
    assert blame_pairs(bad.blame_trees) == []  # a malformed blame teaches nothing


def test_the_model_defers_less_as_it_trains_and_the_pair_keeps_the_scripts_blame():
    task = get("length")
    train = blame_pairs(v.blame.tree for r in scripted_reports(task, 40, 2) for v in r.visits)
    held = [(r.tree, v) for r in scripted_reports(task, 12, 2, seed=500) for v in r.visits]
    torch.manual_seed(0)
    cfg = model_config("tiny", d_model=32, n_layers=1, d_ff=64, max_len=128, max_completion=16)
    model = Transformer(cfg, codec_for(train))
    learner = Learner(model, 150, 1e-2, seed=0)  # the schedule of a longer run: its first 60 steps
    encoded = learner.encode(train)

    def defer_rate() -> float:
        model.eval()
        policy = DistilledPolicy(model, mode="blame")
        policy.prefill([blame_question(tree.nodes[v.node], v.target, tree).text() for tree, v in held])  # batched
        deferring = Deferring(policy, for_task("length"), 0.3)
        overseer = PolicyOverseer(deferring)
        for tree, v in held:
            before = deferring.deferred
            b = overseer.blame(tree.nodes[v.node], v.target, tree)
            if deferring.deferred > before:  # left to the fallback: the script's blame, exactly
                assert key(b) == key(v.blame)
        assert overseer.trees == len(held) == deferring.acted + deferring.deferred
        return deferring.rate

    rates = [defer_rate()]
    for _ in range(2):
        learner.fit(encoded, 30, 16)
        rates.append(defer_rate())
    assert rates[0] == 1.0 and rates[-1] < 0.5, rates

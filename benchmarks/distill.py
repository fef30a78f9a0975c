"""Distillation: training speed, what a tiny model learns, and IDA against supervised training.

(a) Training steps per second for `tiny` and `small` at batch 32, for short sequences
    (an answer pair, 16 bytes) and workspace-sized ones (128 bytes).
(b) A tiny model on two-digit addition (answer pairs): held-out exact match over steps.
(c) Policy distillation: a tiny model imitates the permutation task's H step by step, then
    runs as the decomposer in the engine on new questions.
(d) `iterate` on the permutation task: Amplify(H, model) targets against ground truth at
    equal steps, held-out exact match per round.

    python benchmarks/distill.py [--device cuda] [--threads N] [--quick]     writes benchmarks/results/distill.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import ida
from ida.distill import DistilledPolicy, Pair, policy_pairs, split, train
from ida.distill.evaluate import evaluate_task
from ida.distill.iterate import iterate
from ida.distill.model import ByteTransformer, model_config
from ida.tasks import get as get_task


def throughput(device: str, seconds: float) -> list[dict]:
    rows = []
    for size in ("tiny", "small"):
        for length in (16, 128):
            torch.manual_seed(0)
            model = ByteTransformer(model_config(size)).to(device)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
            x = torch.randint(0, 256, (32, length), device=device)

            def step() -> None:
                loss = F.cross_entropy(model(x).reshape(-1, 260), x.reshape(-1))
                opt.zero_grad()
                loss.backward()
                opt.step()

            step()  # warm up
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                step()
                n += 1
            if device == "cuda":
                torch.cuda.synchronize()
            sps = n / (time.perf_counter() - t0)
            rows.append({"size": size, "seq_len": length, "batch": 32, "params": model.n_params(),
                         "steps_per_second": round(sps, 1)})
            print(f"  {size:5} len {length:3}: {sps:7.1f} steps/s")
    return rows


def addition(device: str, steps: int, tmp: Path) -> dict:
    pairs = [Pair(f"{a}+{b}", str(a + b), f"{a}+{b}") for a in range(100) for b in range(100)]
    tr, ho = split(pairs, 0.1, 0)
    r = train(tr, ho, tmp / "addition", steps=steps, batch_size=64, eval_every=max(1, steps // 6), patience=100,
              device=device, mode="answer", progress=False)
    curve = [(int(h["step"]), round(h["exact_match"], 3)) for h in r.history]
    print(f"  addition: held-out exact match {r.best_exact_match:.3f} after {r.steps} steps, {r.seconds:.0f} s; {curve}")
    return {"steps": r.steps, "best_exact_match": r.best_exact_match, "seconds": round(r.seconds, 1),
            "steps_per_second": round(r.steps_per_second, 1), "curve": curve, "chance": "about 0.01"}


def policy_distillation(device: str, steps: int, n_questions: int, tmp: Path) -> dict:
    task = get_task("permutation")
    for i in range(n_questions):
        inst = task.instance(i)
        ida.run(inst.question, task.policy, task=task.name).save(tmp / "perm" / f"q{i}.jsonl")
    pairs = policy_pairs(tmp / "perm")
    tr, ho = split(pairs, 0.1, 0)
    t0 = time.perf_counter()
    r = train(tr, ho, tmp / "policy", steps=steps, batch_size=32, eval_every=max(1, steps // 5), patience=100,
              device=device, mode="policy", progress=False)
    score = evaluate_task(DistilledPolicy(r.best_dir, device=device), "permutation", questions=50, seed=10_000)
    print(f"  policy: {len(tr)} step pairs, held-out step exact match {r.best_exact_match:.3f}; as the decomposer "
          f"{score.accuracy:.2f} right on 50 new questions, {score.failures} unparseable ({time.perf_counter() - t0:.0f} s)")
    return {"pairs": len(pairs), "steps": r.steps, "heldout_step_exact_match": r.best_exact_match,
            "steps_per_second": round(r.steps_per_second, 1), "engine_accuracy": score.accuracy,
            "unparseable": score.failures, "actions_per_question": score.actions_per_question,
            "chance_engine_accuracy": 0.25}


def amplification(device: str, rounds: int, steps: int, questions: int, tmp: Path) -> dict:
    res = iterate("permutation", tmp / "iterate", rounds=rounds, questions=questions, steps=steps, device=device,
                  progress=False, on_row=lambda r: print(f"  round {r.round}: targets {r.targets} "
                                                         f"({r.targets_correct:.2f} right), IDA {r.ida_exact_match:.3f}, "
                                                         f"supervised {r.supervised_exact_match:.3f}"))
    return {"task": res.task, "train_questions": res.train_questions, "heldout_roots": res.heldout_questions,
            "rows": [r.model_dump() for r in res.rows], "chance": 0.25}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true", help="a smoke run: few steps, numbers not meaningful")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads [default: torch's choice]")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "distill.json")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    q = args.quick
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print("(a) training throughput")
        a = throughput(args.device, 0.5 if q else 3.0)
        print("(b) tiny model, two-digit addition")
        b = addition(args.device, 60 if q else 1200, tmp)
        print("(c) policy distillation, permutation task")
        c = policy_distillation(args.device, 40 if q else 1000, 20 if q else 200, tmp)
        print("(d) iterate, permutation task")
        dd = amplification(args.device, 1 if q else 3, 20 if q else 400, 20 if q else 200, tmp)
    result = {
        "python": platform.python_version(), "torch": torch.__version__, "device": args.device,
        "threads": torch.get_num_threads(), "quick": q,
        "throughput": a, "addition": b, "policy_distillation": c, "iterate": dd,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Distillation: training speed, and amplification against supervised training on permutation powering.

(a) Training steps per second for `tiny` and `small` at batch 64 on 48-byte sequences.
(b) The iterated-amplification paper's permutation-powering task, two settings, each with an
    amplification arm (targets from Amplify(H, model), no labels) and a supervised arm (ground
    truth), trained alike from the same weights for equal steps, until the time budget:
      A: 4 elements, exponents 2 to 7 (576 questions in all; about 20% held out by permutation);
      B: 8 elements, exponents 2 to 15 (20,000 generated questions, 5% held out;
         each round amplifies a fresh 2,000 of the training questions).
    Questions are held out by permutation, so no subquestion of a training question is held
    out. The amplification arm trains only on targets whose model subanswers had confidence
    at least 0.7 (iterate's default): the model defers where unsure.
    Reported: held-out exact match of both arms per round, steps to 95%, calls to H against
    labels used, wall time, and whether the targets were met (A: IDA at least 99% within
    5 minutes and within 2 points of supervised).

    python benchmarks/distill.py [--device cuda] [--minutes 5] [--settings A B] [--size tiny]
                                                         writes benchmarks/results/distill.json
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

from ida.distill.iterate import iterate
from ida.distill.model import ByteTransformer, model_config

# rounds x steps: what fits the time budget on 2 CPU cores (the learning-rate schedule spans them all);
# --minutes stops both arms early if the machine is slower.
SETTINGS = {
    "A": dict(task_size=4, questions=3_000, held_out=0.2, rounds=36),
    "B": dict(task_size=8, questions=20_000, held_out=0.05, targets_per_round=2_000, rounds=24),
}


def throughput(device: str, seconds: float = 3.0) -> list[dict]:
    rows = []
    for size in ("tiny", "small"):
        torch.manual_seed(0)
        model = ByteTransformer(model_config(size)).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        x = torch.randint(0, 256, (64, 48), device=device)
        n, t0 = -1, 0.0
        while n < 0 or time.perf_counter() - t0 < seconds:
            loss = F.cross_entropy(model(x).reshape(-1, model.cfg.vocab), x.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            if n < 0:  # the first step warms up
                t0 = time.perf_counter()
            n += 1
        if device == "cuda":
            torch.cuda.synchronize()
        rows.append({"size": size, "params": model.n_params(), "batch": 64, "seq_len": 48,
                     "steps_per_second": round(n / (time.perf_counter() - t0), 1)})
        print(f"  {size}: {rows[-1]['steps_per_second']} steps/s", flush=True)
    return rows


def first_step_at(rows: list[dict], key: str, level: float) -> int | None:
    return next((r["steps"] for r in rows if (r[key] or 0) >= level), None)


def setting(name: str, args: argparse.Namespace, tmp: Path) -> dict:
    spec = SETTINGS[name]
    print(f"setting {name}: {spec}", flush=True)
    res = iterate("permutation", tmp / name, steps=args.steps, size=args.size, batch_size=args.batch_size,
                  device=args.device, max_seconds=60 * args.minutes,
                  on_row=lambda r: print(f"  round {r.round:3} step {r.steps:5}: targets {r.targets_correct:.3f} right; "
                                         f"held-out IDA {r.ida_exact_match:.3f}, supervised {r.supervised_exact_match:.3f}; "
                                         f"{r.seconds:.0f} s", flush=True), **spec)
    rows = [r.model_dump() for r in res.rows]
    last = rows[-1]
    out = {
        "spec": spec, "size": args.size, "train_questions": res.train_questions, "heldout_questions": res.heldout_questions,
        "rounds": len(rows), "steps": last["steps"], "wall_seconds": round(last["seconds"], 1),
        "ida_final": last["ida_exact_match"], "supervised_final": last["supervised_exact_match"],
        "ida_steps_to_95": first_step_at(rows, "ida_exact_match", 0.95),
        "supervised_steps_to_95": first_step_at(rows, "supervised_exact_match", 0.95),
        "calls_to_h": last["h_calls"], "labels_used": last["labels"], "chance": 1 / spec["task_size"], "rows": rows,
    }
    if name == "A":
        out["target_met"] = bool(last["ida_exact_match"] >= 0.99 and last["seconds"] <= 330
                                 and last["ida_exact_match"] >= last["supervised_exact_match"] - 0.02)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--minutes", type=float, default=5.0, help="time budget per setting (both arms together)")
    ap.add_argument("--settings", nargs="+", default=["A", "B"], choices=sorted(SETTINGS))
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--steps", type=int, default=100, help="training steps per round")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "distill.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    result: dict = {"python": platform.python_version(), "torch": torch.__version__, "device": args.device,
                    "threads": torch.get_num_threads(), "minutes_per_setting": args.minutes}
    print("(a) training throughput", flush=True)
    result["throughput"] = throughput(args.device)
    with tempfile.TemporaryDirectory() as d:
        for name in args.settings:
            result[f"setting_{name}"] = setting(name, args, Path(d))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Distillation that generalizes: does the distilled model read the facts of questions it never saw?

Every part scores on questions the model never trained on, beside the trivial baseline
("answer x": σ^k(x) = x) where there is one.

  probe   one hop, σ^1(x), on fresh 8-element permutations: supervised, until 99% held-out or
          the time budget; with two ablations at equal steps: bytes instead of tokens, and the
          loss on the answer alone (prompt weight 0).
  A       4 elements, exponents 2-7, the paper's protocol (every question trains and is scored).
  A-held  4 elements, exponents 2-7, 5 of the 24 permutations never trained on.
  B       8 elements, exponents 2-15, 5% of the questions (unseen permutations) held out.
          Each IDA/supervised setting reports both arms at equal steps, calls to H against
          labels, the share of subquestions the model defers on per round, and accuracy by
          exponent on the held-out questions beside the "answer x" baseline.
  loop    A with the paper's full loop: H' learns to decompose from H's decompositions each round and
          takes the roots it is sure of; the share it leaves to H per round, and calls to H.
  C       the paper's size, 64 elements: on CPU, the one-hop probe for --c-minutes; with
          --device cuda, the IDA/supervised setting with exponents 2-63.
  hprime  a distilled decomposer H' for permutation, multiply, sorted and length: trained on
          the scripted H's trees, run as the decomposer (the task's H answers primitive
          questions) on held-out questions; right root answers, model failures, calls to H.

    python benchmarks/distill.py [--parts probe A-held B C hprime] [--device cuda] [--size tiny]
                                 [--threads 1] [--minutes 5]

Results go to benchmarks/results/distill.json, merged part by part (several invocations with
different --parts may run side by side; each holds a lock while it writes); a part run with
another size or device is stored as PART@SIZE-DEVICE beside the default one.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ida.distill.data import Pair
from ida.distill.evaluate import evaluate_task
from ida.distill.iterate import iterate
from ida.distill.model import Transformer, model_config
from ida.distill.policy import DistilledPolicy
from ida.distill.train import LR, Learner, codec_for, exact_match, train
from ida.tasks import get as get_task
from ida.tasks.permutation import answer_x, question, write_facts

RESULTS = Path(__file__).parent / "results" / "distill.json"

SETTINGS: dict[str, dict[str, Any]] = {
    "A": dict(task_size=4, questions=3_000, held_out=0.0, rounds=60, max_eval=600),
    "A-held": dict(task_size=4, questions=3_000, held_out=0.2, rounds=60),
    "B": dict(task_size=8, questions=20_000, held_out=0.05, targets_per_round=2_000, rounds=40),
    # B with H's one-hop answers (the primitive subquestions of the amplified trees) as targets too
    "B-curriculum": dict(task_size=8, questions=20_000, held_out=0.05, targets_per_round=2_000, rounds=40,
                         primitive_targets=True),
    # the paper's full loop: H' learns to decompose from H's decompositions and takes the roots it is sure of
    "loop": dict(task_size=4, questions=3_000, held_out=0.0, rounds=30, max_eval=600, learn_decomposer=True),
    "C": dict(task_size=64, questions=50_000, held_out=0.02, targets_per_round=2_000, rounds=100),
}
# H': training questions, steps, and the task size used (the task's default unless named).
# Permutation at 6 elements (exponents 2-11): at 4 there are only 576 questions, too few to hold 100 out.
# Multiply gets more steps (92% at 5,000, 90% at 3,000, 5% at 1,500): its H' must copy 6- and 7-digit subanswers into the sum, digit by digit.
HPRIME = {"permutation": dict(questions=300, steps=1_500, size=6), "multiply": dict(questions=1_000, steps=6_000),
          "sorted": dict(questions=300, steps=1_500), "length": dict(questions=300, steps=1_500)}


def fresh_questions(rng: random.Random, size: int, exponents: list[int], n: int,
                    unseen_by: list[Pair] = ()) -> list[Pair]:
    """`n` questions on random permutations, none of them a permutation of `unseen_by`."""
    task, out = get_task("permutation"), []
    seen = {task.family(p.prompt) for p in unseen_by}
    while len(out) < n:
        facts = write_facts(rng.sample(range(size), size))
        q = question(rng.choice(exponents), rng.randrange(size), facts)
        if facts not in seen:
            out.append(Pair(q, task.solve(q), q))
    return out


def hop_run(size: int, steps: int, seconds: float, args: argparse.Namespace, tokenizer: str = "bpe",
            prompt_weight: float = 1.0, eval_every: int = 100, target: float = 0.99, **overrides: int) -> dict:
    """Supervised one-hop training on fresh permutations, scored on 400 unseen ones, until `target` or a limit."""
    train_pairs = fresh_questions(random.Random(0), size, [1], 20_000)
    test = fresh_questions(random.Random(1), size, [1], 400, unseen_by=train_pairs)
    torch.manual_seed(0)
    model = Transformer(model_config(args.size, **overrides), codec_for(train_pairs[:2_000], tokenizer)).to(args.device)  # type: ignore[arg-type]
    learner = Learner(model, steps, LR.get(args.size, 1e-3), 0, prompt_weight=prompt_weight)
    encoded = learner.encode(train_pairs)
    cut = sum(len(ids) >= model.cfg.max_len for ids, _ in encoded)
    curve, t0, train_s = [], time.perf_counter(), 0.0
    while learner.step < steps and time.perf_counter() - t0 < seconds:
        t1 = time.perf_counter()
        learner.fit(encoded, eval_every, args.batch_size)
        train_s += time.perf_counter() - t1
        em = exact_match(model, test)
        curve.append({"steps": learner.step, "heldout": round(em, 4), "seconds": round(time.perf_counter() - t0, 1)})
        print(f"    {tokenizer} w={prompt_weight} step {learner.step}: {em:.3f} ({curve[-1]['seconds']} s)", flush=True)
        if em >= target:
            break
    return {"elements": size, "tokenizer": tokenizer, "prompt_weight": prompt_weight, "size": args.size,
            "params": model.n_params(), "vocab": model.cfg.vocab, "max_len": model.cfg.max_len,
            "prompts_cut": cut, "final_heldout": curve[-1]["heldout"], "steps": learner.step,
            "seconds": curve[-1]["seconds"], "train_seconds": round(train_s, 1),
            "steps_per_second": round(learner.step / train_s, 1), "chance": 1 / size,
            "answer_x_baseline": sum(answer_x(p.prompt) == p.completion for p in test) / len(test),
            "steps_to_95": next((c["steps"] for c in curve if c["heldout"] >= 0.95), None),
            "seconds_to_99": next((c["seconds"] for c in curve if c["heldout"] >= 0.99), None), "curve": curve}


def part_probe(args: argparse.Namespace) -> dict:
    print("probe: one hop on fresh 8-element permutations", flush=True)
    main = hop_run(8, 10_000, 60 * args.minutes, args)
    steps = main["steps"]  # the ablations get the same steps (or the same time, whichever ends first)
    print("  ablation: bytes instead of tokens", flush=True)
    nbytes = hop_run(8, steps, 60 * args.minutes, args, tokenizer="bytes")
    print("  ablation: the loss on the answer alone", flush=True)
    answer_only = hop_run(8, steps, 60 * args.minutes, args, prompt_weight=0.0)
    return {"tokens": main, "bytes": nbytes, "answer_only_loss": answer_only,
            "target_met": bool(main["seconds_to_99"] is not None and main["seconds_to_99"] <= 300)}


def part_setting(name: str, args: argparse.Namespace, tmp: Path) -> dict:
    spec = SETTINGS[name]
    print(f"setting {name}: {spec}", flush=True)

    def show(r: Any) -> None:
        print(f"  round {r.round:3} step {r.steps:5}: targets {r.targets_correct:.3f} right, defers {r.defer_rate:.3f}; "
              f"IDA {r.ida_score:.3f}, supervised {r.supervised_score:.3f} (train {r.ida_train_exact_match:.3f}, "
              f"{r.supervised_train_exact_match:.3f}); IDA {r.ida_seconds:.0f} s, supervised {r.supervised_seconds:.0f} s",
              flush=True)

    res = iterate("permutation", tmp / name, steps=args.steps, size=args.size, batch_size=args.batch_size,
                  device=args.device, max_seconds=2 * 60 * args.minutes, on_row=show, **spec)
    rows = [r.model_dump() | {"ida_score": r.ida_score, "supervised_score": r.supervised_score} for r in res.rows]
    last = rows[-1]
    by_exp = [d.model_dump() for d in res.by_difficulty]
    n = sum(d["questions"] for d in by_exp)
    out = {
        "spec": spec, "size": args.size, "train_questions": res.train_questions, "heldout_questions": res.heldout_questions,
        "scored_on": "held-out questions (unseen permutations)" if res.heldout_questions else "every question (all trained)",
        "rounds": len(rows), "steps": last["steps"], "wall_seconds": round(last["seconds"], 1),
        "ida_seconds": round(last["ida_seconds"], 1), "supervised_seconds": round(last["supervised_seconds"], 1),
        "ida_final": last["ida_score"], "supervised_final": last["supervised_score"],
        "answer_x_baseline": round(sum(d["baseline"] * d["questions"] for d in by_exp) / n, 4) if n else None,
        "chance": 1 / spec["task_size"],
        "ida_train_final": last["ida_train_exact_match"], "supervised_train_final": last["supervised_train_exact_match"],
        "ida_steps_to_95": next((r["steps"] for r in rows if r["ida_score"] >= 0.95), None),
        "supervised_steps_to_95": next((r["steps"] for r in rows if (r["supervised_score"] or 0) >= 0.95), None),
        "calls_to_h": last["h_calls"], "labels_used": last["labels"],
        "defer_rate_by_round": [round(r["defer_rate"], 4) for r in rows],
        "decomposer_defer_rate_by_round": [r["decomposer_defer_rate"] for r in rows],
        "h_calls_by_round": [r["h_calls"] for r in rows],
        "by_exponent": by_exp, "rows": rows,
    }
    if res.heldout_questions:
        out["ida_within_2_points"] = bool(last["ida_score"] >= (last["supervised_score"] or 0) - 0.02)
    return out


def part_c(args: argparse.Namespace, tmp: Path) -> dict:
    if args.device != "cpu":  # a 64-element question is about 380 tokens: tiny's window would cut facts out
        return part_setting("C", argparse.Namespace(**{**vars(args), "size": "small" if args.size == "tiny" else args.size}),
                            tmp)
    print(f"C on CPU: one hop on fresh 64-element permutations for {args.c_minutes} minutes", flush=True)
    # A 64-element question is about 400 tokens: the window grows so that no fact is cut.
    return {"one_hop": hop_run(64, 100_000, 60 * args.c_minutes, args, eval_every=200, max_len=640, max_completion=16),
            "note": "CPU: only the one-hop probe; the IDA/supervised setting C runs with --device cuda"}


def part_hprime(args: argparse.Namespace, tmp: Path) -> dict:
    from ida.distill.data import scripted_policy_pairs

    out = {}
    for name in args.hprime_tasks:
        spec = HPRIME[name]
        task = get_task(name)
        print(f"H' {name}: {spec}", flush=True)
        t0 = time.perf_counter()
        size = spec.get("size")
        pairs = scripted_policy_pairs(task, spec["questions"], size, seed=0)
        h_nodes = len({p.question for p in pairs})  # the nodes H decomposed to make the transcripts
        # every question H' saw a workspace of: the roots and the subquestions it was trained on
        seen = {task.instance(i, size).question for i in range(spec["questions"])} | {p.question for p in pairs}
        r = train(pairs, [], tmp / f"hprime-{name}", size=args.size, steps=spec["steps"], batch_size=args.batch_size,
                  eval_every=spec["steps"], device=args.device, progress=False, mode="policy", early_stop=False)
        policy = DistilledPolicy(r.best_dir, device=args.device)
        score = evaluate_task(policy, name, questions=100, seed=1_000_000, task_size=size, exclude=seen)
        out[name] = {**score.model_dump(), "train_questions": spec["questions"], "task_size": size or task.default_size,
                     "policy_pairs": len(pairs),
                     "steps": r.steps, "h_nodes_for_transcripts": h_nodes, "labels": 0,
                     "seconds": round(time.perf_counter() - t0, 1)}
        print(f"  right {score.accuracy:.3f} of 100 unseen questions, failures {score.failures}", flush=True)
    return out


def merge(path: Path, part: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text()) if path.exists() else {}
        for key, value in part.items():  # H' results are kept task by task: a run of one task keeps the others
            data[key] = {**data.get(key, {}), **value} if key.startswith("hprime") else value
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = ["probe", "A", "A-held", "B", "B-curriculum", "loop", "C", "hprime"]
    ap.add_argument("--parts", nargs="+", default=parts, choices=parts)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--minutes", type=float, default=5.0, help="time budget per arm and setting")
    ap.add_argument("--c-minutes", type=float, default=10.0, help="time of C's one-hop probe on CPU")
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--steps", type=int, default=100, help="training steps per round")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (one is faster than two on a shared 2-core box)")
    ap.add_argument("--hprime-tasks", nargs="+", default=list(HPRIME), choices=list(HPRIME))
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    env = {"python": platform.python_version(), "torch": torch.__version__, "device": args.device,
           "threads": torch.get_num_threads(), "size": args.size, "minutes_per_setting": args.minutes}
    with tempfile.TemporaryDirectory() as d:
        for part in args.parts:
            t0 = time.perf_counter()
            if part == "probe":
                result = part_probe(args)
            elif part == "C":
                result = part_c(args, Path(d))
            elif part == "hprime":
                result = part_hprime(args, Path(d))
            else:
                result = part_setting(part, args, Path(d))
            result["env"] = env | {"part_seconds": round(time.perf_counter() - t0, 1)}
            key = part if args.size == "tiny" and args.device == "cpu" else f"{part}@{args.size}-{args.device}"
            merge(args.out, {key: result})
            print(f"{part}: written to {args.out}", flush=True)


if __name__ == "__main__":
    main()

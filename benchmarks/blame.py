"""Blame as a question (`PolicyOverseer`): scripted blame against the rules, and a distilled blame model.

  equal    every built-in task and the vase: N trees with a lie put in (sizes 1-7), the backward
           pass by `RuleOverseer` and by `PolicyOverseer` with the task's blame scripts. Counts
           reports with the same visits, blamed nodes, targets, edits and corrections; blame trees
           run against nodes visited (the pass is linear: one blame tree a node); the time ratio.
  distill  a blame model for one task (default length): trained on the blame trees of the scripted
           blame on faulty trees of seeds 0..N-1, scored on the blame questions of held-out trees
           (seeds from 100,000): the share of nodes where its blame (checked against the node)
           equals the script's, by training step, and, with `Deferring` at a threshold, the share
           of questions it leaves to the fallback (the script, standing for the person) and the
           agreement of the pair.

    python benchmarks/blame.py [--parts equal distill] [--task length] [--steps 3000] [--threads 2]

Results: benchmarks/results/blame.json (merged part by part).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from ida.engine import run
from ida.experience import ExperienceDB
from ida.overseer import RuleOverseer, backward
from ida.overseer.faults import faulty_run, scripted_reports
from ida.overseer.policy_overseer import Deferring, PolicyOverseer
from ida.overseer.scripts import for_task
from ida.scenarios import vase
from ida.tasks import get

RESULTS = Path(__file__).parent / "results" / "blame.json"


def key(b) -> tuple:
    """What a blame decides, its alternatives for guess and check included."""
    return (b.ok, dict(b.targets), [(e.op, e.key, e.text, e.entry_id) for e in b.edits],
            None if b.correction is None else (b.correction.step, b.correction.action), [key(c) for c in b.candidates])


def compare(tree, feedback, rules, scripted) -> tuple[bool, int, int, float, float]:
    t0 = time.perf_counter()
    r1 = backward(tree, feedback, rules)
    t1 = time.perf_counter()
    r2 = backward(tree, feedback, scripted)
    t2 = time.perf_counter()
    same = [(v.node, v.target, key(v.blame)) for v in r1.visits] == [(v.node, v.target, key(v.blame)) for v in r2.visits]
    return same, len(r2.visits), len(r2.blame_trees), t1 - t0, t2 - t1


def equal_part(n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("multiply", "sorted", "length", "permutation", "weights", "circuit", "vase"):
        rows = []
        for seed in range(n):
            if name == "vase":
                tree, feedback, rules = _vase_tree(seed)
                if feedback is None:
                    continue
            else:
                task = get(name)
                f = faulty_run(task, seed, random.Random(seed).randint(1, 7) if name != "multiply" else 1 + seed % 4)
                tree, feedback, rules = f.tree, f.truth, RuleOverseer(task.rules)
            rows.append(compare(tree, feedback, rules, PolicyOverseer(for_task(name))))  # type: ignore[arg-type]
        visits = sum(r[1] for r in rows)
        out[name] = dict(trees=len(rows), same_reports=sum(r[0] for r in rows), nodes_visited=visits,
                         blame_trees=sum(r[2] for r in rows), rules_s=round(sum(r[3] for r in rows), 3),
                         scripted_s=round(sum(r[4] for r in rows), 3),
                         time_ratio=round(sum(r[4] for r in rows) / max(1e-9, sum(r[3] for r in rows)), 1))
        print(name, out[name], flush=True)
    return out


def _vase_tree(seed: int):
    room = vase.parse_room("random", seed)
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as d, ExperienceDB(Path(d) / "x.sqlite") as db:
        for t in room.things:  # some objects have an entry that does not warn: edits, not only adds
            if rng.random() < 0.4:
                db.add(t.name, f"the {t.name} is {rng.choice(['blue', 'old', 'heavy'])}", author="bench")
        tree = run(vase.root_question(room), vase.agent, db=db, task="vase")
    return tree, vase.execute(tree.answer or "", room).feedback, vase.overseer()


def distill_part(task_name: str, train_trees: int, heldout_trees: int, steps: int, every: int, threshold: float,
                 size: str, device: str = "cpu") -> dict[str, Any]:
    import torch

    from ida.distill.data import blame_pairs
    from ida.distill.model import Transformer, model_config
    from ida.distill.train import LR, Learner, codec_for

    task = get(task_name)
    script = for_task(task_name)
    t0 = time.perf_counter()
    train_reports = list(scripted_reports(task, train_trees, None, 0))
    pairs = blame_pairs(v.blame.tree for r in train_reports for v in r.visits)  # type: ignore[misc]
    held = list(scripted_reports(task, heldout_trees, None, 100_000))
    cases = [(r.tree, v) for r in held for v in r.visits]
    train_questions = {p.prompt for p in pairs}
    unseen = sum(1 for tree, v in cases if _question(tree, v) not in train_questions)
    print(f"{len(pairs)} training pairs from {train_trees} trees; {len(cases)} held-out blames "
          f"({unseen} of their questions never trained on); {time.perf_counter() - t0:.0f} s", flush=True)
    torch.manual_seed(0)
    model = Transformer(model_config(size), codec_for(pairs)).to(device)
    learner = Learner(model, steps, LR[size], seed=0)
    encoded = learner.encode(pairs)
    model.eval()
    curve = [dict(step=0, train_seconds=0, **_score(model, cases, script, threshold, train_questions))]
    print(curve[0], flush=True)
    t_train = 0.0
    while learner.step < steps:
        t = time.perf_counter()
        learner.fit(encoded, min(every, steps - learner.step), 32)
        t_train += time.perf_counter() - t
        model.eval()
        row = dict(step=learner.step, train_seconds=round(t_train),
                   **_score(model, cases, script, threshold, train_questions))
        curve.append(row)
        print(row, flush=True)
    return dict(task=task_name, size=size, device=device, threshold=threshold, train_trees=train_trees, pairs=len(pairs),
                heldout_trees=heldout_trees, heldout_blames=len(cases), heldout_unseen_questions=unseen,
                curve=curve, final_agreement=curve[-1]["agreement"], final_defer_rate=curve[-1]["defer_rate"])


def _question(tree, v) -> str:
    from ida.overseer.questions import blame_question

    return blame_question(tree.nodes[v.node], v.target, tree).text()


def _score(model, cases, script, threshold: float, trained: set[str]) -> dict[str, float]:
    from ida.distill.policy import DistilledPolicy

    policy = DistilledPolicy(model, mode="blame")
    policy.prefill([_question(tree, v) for tree, v in cases])  # batched: the overseers below read the cache
    alone = PolicyOverseer(policy)
    deferring = Deferring(policy, script, threshold)
    paired = PolicyOverseer(deferring)
    agree = agree_unseen = unseen = agree_paired = 0
    for tree, v in cases:
        node = tree.nodes[v.node]
        same = key(alone.blame(node, v.target, tree)) == key(v.blame)
        agree += same
        if _question(tree, v) not in trained:
            unseen += 1
            agree_unseen += same
        agree_paired += key(paired.blame(node, v.target, tree)) == key(v.blame)
    n = len(cases)
    return dict(agreement=round(agree / n, 4), agreement_unseen=round(agree_unseen / max(1, unseen), 4),
                malformed=alone.malformed, defer_rate=round(deferring.rate, 4),
                deferring_agreement=round(agree_paired / n, 4))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", nargs="+", default=["equal", "distill"])
    ap.add_argument("--trees", type=int, default=200, help="equal: faulty trees per task")
    ap.add_argument("--task", default="length")
    ap.add_argument("--train-trees", type=int, default=400)
    ap.add_argument("--heldout-trees", type=int, default=100)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = dict(platform=platform.platform(), python=platform.python_version(), threads=args.threads)
    if "equal" in args.parts:
        results["equal"] = equal_part(args.trees)
    if "distill" in args.parts:
        import torch

        torch.set_num_threads(args.threads)
        results[f"distill:{args.task}"] = distill_part(args.task, args.train_trees, args.heldout_trees, args.steps,
                                                        args.every, args.threshold, args.size, args.device)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()

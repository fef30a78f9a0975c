"""Engine overhead and memoization, measured side by side in one process.

(a) A scripted tree of about 100,000 nodes (sum of a range by halving) against plain Python
    recursion computing the same answer: once over ints, once over the same question strings
    the script formats and parses. Ratios, not absolute times, are the figures to compare.
(b) A question whose naive tree has 2^20 root-to-leaf paths: nodes executed with memoization
    against distinct questions.
(c) The memo's cost per node with an experience database attached against none: the revision
    is read only at a hit on an answer whose subtree looked something up. CPU time, the two
    kinds of run alternated; on distinct questions, and with half the asks hits on answers that
    looked nothing up, and on answers that did.

    python benchmarks/engine.py [--leaves N]       writes benchmarks/results/engine.json
    python benchmarks/engine.py --memo-db-only     writes benchmarks/results/engine_memo_db.json
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

sys.setrecursionlimit(10_000)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # measure this checkout, not an installed ida
import ida  # noqa: E402

RANGE = re.compile(r"what is the sum of (\d+) to (\d+)\?")


@ida.scripted
def range_sum(ws):
    a, b = map(int, RANGE.fullmatch(ws.question_text).groups())
    if b - a == 1:
        return str(a)
    m = (a + b) // 2
    left = yield f"ask what is the sum of {a} to {m}?"
    right = yield f"ask what is the sum of {m} to {b}?"
    return str(int(left) + int(right))


def plain_ints(a: int, b: int) -> int:
    if b - a == 1:
        return a
    m = (a + b) // 2
    return plain_ints(a, m) + plain_ints(m, b)


def plain_strings(q: str) -> str:
    a, b = map(int, RANGE.fullmatch(q).groups())
    if b - a == 1:
        return str(a)
    m = (a + b) // 2
    left = plain_strings(f"what is the sum of {a} to {m}?")
    right = plain_strings(f"what is the sum of {m} to {b}?")
    return str(int(left) + int(right))


@ida.scripted
def doubling(ws):
    """`paths 20` asks `paths 19` twice: 2^20 paths, 21 distinct questions."""
    n = int(ws.question_text.split()[-1])
    if n == 0:
        return "1"
    x = yield f"ask paths {n - 1}"
    y = yield f"ask paths {n - 1}"
    return str(int(x) + int(y))


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


SHARED = "what do we know of vases?"


def range_sum_sharing(lookup: bool):
    """range_sum whose every inner node first asks one shared question: half the asks are hits.
    With `lookup` the shared answer rests on the database, so each hit on it reads the revision
    (the worst case for the memo with a database)."""

    @ida.scripted
    def policy(ws):
        if ws.question_text == SHARED:
            if lookup:
                return (yield "lookup vase")
            return "vases are fragile"
        a, b = map(int, RANGE.fullmatch(ws.question_text).groups())
        if b - a == 1:
            return str(a)
        yield f"ask {SHARED}"
        m = (a + b) // 2
        left = yield f"ask what is the sum of {a} to {m}?"
        right = yield f"ask what is the sum of {m} to {b}?"
        return str(int(left) + int(right))

    return policy


def memo_with_database(leaves: int, rounds: int = 7) -> dict:
    """(c): CPU microseconds per node of a memoized run, without and with a database (one
    entry), the two kinds alternated so that a busy neighbour slows both alike; best of `rounds`.
    Three workloads: every question distinct (no hit is possible); half the asks hits on an
    answer that looked nothing up (no read needed); half the asks hits on one that did (a
    read of the revision at each hit)."""
    from ida.experience import ExperienceDB

    q = f"what is the sum of 0 to {leaves}?"
    out: dict = {"memo_db_rounds_alternated": rounds}
    with tempfile.TemporaryDirectory() as tmp, ExperienceDB(Path(tmp) / "exp.sqlite") as db:
        db.add("vase", "vases are fragile")
        workloads = (("distinct", range_sum), ("half_hits", range_sum_sharing(lookup=False)),
                     ("half_hits_on_lookups", range_sum_sharing(lookup=True)))
        for name, policy in workloads:
            nodes = len(ida.run(q, policy, db=db, budget=10 * leaves))
            assert ida.run(q, policy, budget=10 * leaves).answer == str(leaves * (leaves - 1) // 2)
            times: dict[str, list[float]] = {"none": [], "db": []}
            for _ in range(rounds):
                for kind, d in (("none", None), ("db", db)):
                    t = time.process_time()
                    ida.run(q, policy, db=d, budget=10 * leaves)
                    times[kind].append(time.process_time() - t)
            t_none, t_db = min(times["none"]), min(times["db"])
            out[name] = {"nodes": nodes, "us_per_node_without_db": round(1e6 * t_none / nodes, 2),
                         "us_per_node_with_db": round(1e6 * t_db / nodes, 2), "cost_ratio": round(t_db / t_none, 3)}
    out["memo_db_cost_ratio"] = max(out[name]["cost_ratio"] for name, _ in workloads)
    out["memo_db_cost_ratio_target_max"] = 1.2
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--leaves", type=int, default=50_000, help="leaves of the range-sum tree (nodes = 2*leaves-1)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "engine.json")
    ap.add_argument("--memo-db-only", action="store_true", help="only (c), written to results/engine_memo_db.json")
    args = ap.parse_args()
    if args.memo_db_only:
        row = {"python": platform.python_version(), **memo_with_database(min(args.leaves, 10_000))}
        out = args.out.with_name("engine_memo_db.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(row, indent=2) + "\n")
        print(json.dumps(row, indent=2))
        return

    n = args.leaves
    q = f"what is the sum of 0 to {n}?"
    expected = n * (n - 1) // 2
    tree = ida.run(q, range_sum, budget=10 * n, memo=False)
    assert tree.answer == str(expected) == str(plain_ints(0, n)) == plain_strings(q)
    t_tree = best_of(lambda: ida.run(q, range_sum, budget=10 * n, memo=False))
    t_tree_memo = best_of(lambda: ida.run(q, range_sum, budget=10 * n))
    t_ints = best_of(lambda: plain_ints(0, n), repeat=5)
    t_strings = best_of(lambda: plain_strings(q), repeat=5)
    t_save = best_of(lambda: tree.save(args.out.with_suffix(".tmp.jsonl")), repeat=1)
    args.out.with_suffix(".tmp.jsonl").unlink()

    scaling = {}
    for leaves in (n // 10, n):
        t = best_of(lambda leaves=leaves: ida.run(f"what is the sum of 0 to {leaves}?", range_sum, budget=10 * leaves,
                                                  memo=False))
        scaling[2 * leaves - 1] = t

    deep = ida.run("paths 20", doubling)
    assert deep.answer == str(2**20)
    t_deep = best_of(lambda: ida.run("paths 20", doubling))

    nodes = len(tree)
    result = {
        "python": platform.python_version(),
        "tree_nodes": nodes,
        "tree_seconds": round(t_tree, 4),
        "tree_memo_on_seconds": round(t_tree_memo, 4),
        "us_per_node": round(1e6 * t_tree / nodes, 2),
        "plain_recursion_ints_seconds": round(t_ints, 4),
        "plain_recursion_strings_seconds": round(t_strings, 4),
        "ratio_vs_plain_ints": round(t_tree / t_ints, 1),
        "ratio_vs_plain_strings": round(t_tree / t_strings, 1),
        "save_transcript_seconds": round(t_save, 3),
        "linear_scaling_seconds_by_nodes": {str(k): round(v, 4) for k, v in scaling.items()},
        "memo_paths": 2**20,
        "memo_distinct_questions": 21,
        "memo_nodes_executed": len(deep),
        "memo_nodes_over_distinct": round(len(deep) / 21, 3),
        "memo_seconds": round(t_deep, 5),
        **memo_with_database(min(n, 10_000)),
        "targets": {"ratio_vs_plain_max": 20, "memo_nodes_over_distinct_max": 2},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

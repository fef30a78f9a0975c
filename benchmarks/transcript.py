"""Transcript size and streaming: bytes per node as trees deepen, and memory and time at scale.

(a) The `sorted` task at 100, 1,000 and 5,000 cells (a list nested that deep): transcript bytes
    per node and the slope of log bytes against log nodes (goal <= 1.05: linear, not quadratic).
(b) A range-sum tree of --nodes nodes (see benchmarks/engine.py): run and save it, then, each
    in a fresh subprocess: load it (a Tree whose nodes stay on disk), show it (load and draw
    four levels, as `ida show`), summarize it, and walk every node (as an export does). Peak
    memory per node (tracemalloc) to load and to show (goal <= 300 B a node), and load and
    show time against run time (goal <= run).

    python benchmarks/transcript.py [--nodes N]     writes benchmarks/results/transcript.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]  # this checkout's ida, not an installed one
import ida  # noqa: E402
from engine import range_sum  # noqa: E402
from ida.tasks import get  # noqa: E402

PHASE = """
import io, json, sys, time, tracemalloc
from ida.transcript import load_transcript, summarize

def show(path):  # what `ida show` does: load, then draw the tree four levels deep
    from rich.console import Console
    from ida.render import tree_view
    tree = load_transcript(path)
    Console(file=io.StringIO(), width=120).print(tree_view(tree, depth=4))

def walk(path):  # every node read once, as an export does
    return sum(len(n.steps) for n in load_transcript(path).nodes)

read = {"load": load_transcript, "summary": summarize, "show": show, "walk": walk}[sys.argv[1]]
if sys.argv[3] == "memory":  # tracemalloc slows allocation several times: time is taken in another run
    tracemalloc.start()
t = time.perf_counter()
out = read(sys.argv[2])
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "peak_bytes": tracemalloc.get_traced_memory()[1]}))
"""


def slope(xs: list[float], ys: list[float]) -> float:
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def phase(name: str, path: Path, memory: bool = True) -> dict:
    """Seconds from one fresh process, peak traced bytes from another (tracemalloc is slow)."""
    out = {"seconds": _phase(name, path, "time")["seconds"]}
    if memory:
        out["peak_bytes"] = _phase(name, path, "memory")["peak_bytes"]
    print(name, out, flush=True)
    return out


def _phase(name: str, path: Path, what: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-c", PHASE, name, str(path), what], capture_output=True, text=True, check=True,
                       env=env)
    return json.loads(r.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=1_000_000, help="nodes of the range-sum tree")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "transcript.json")
    args = ap.parse_args()
    task = get("sorted")
    with tempfile.TemporaryDirectory() as tmp:
        sizes = []
        for cells in (100, 1_000, 5_000):
            tree = ida.run(task.instance(1, cells).question, task.policy, task="sorted", max_depth=cells + 1)
            t = time.perf_counter()
            path = tree.save(Path(tmp) / f"sorted{cells}.jsonl")
            save_s = time.perf_counter() - t
            size = path.stat().st_size
            assert len(tree) == cells, "the whole list is walked"
            sizes.append({"cells": cells, "nodes": len(tree), "bytes": size, "bytes_per_node": round(size / len(tree), 1),
                          "save_s": round(save_s, 3)})
            print(sizes[-1], flush=True)

        leaves = (args.nodes + 1) // 2
        t = time.perf_counter()
        tree = ida.run(f"what is the sum of 0 to {leaves}?", range_sum, budget=10 * leaves)
        run_s = time.perf_counter() - t
        n = len(tree)
        t = time.perf_counter()
        path = tree.save(Path(tmp) / "range.jsonl")
        save_s = time.perf_counter() - t
        size = path.stat().st_size
        del tree
        load, show, summary = (phase(name, path) for name in ("load", "show", "summary"))
        walk = phase("walk", path, memory=False)
    big = {
        "nodes": n, "bytes_per_node": round(size / n, 1), "run_s": round(run_s, 2), "save_s": round(save_s, 2),
        "load_s": round(load["seconds"], 2), "load_over_run": round(load["seconds"] / run_s, 3),
        "load_peak_bytes_per_node": round(load["peak_bytes"] / n, 1),
        "show_s": round(show["seconds"], 2), "show_over_run": round(show["seconds"] / run_s, 3),
        "show_peak_bytes_per_node": round(show["peak_bytes"] / n, 1),
        "summary_s": round(summary["seconds"], 2), "summary_peak_bytes_per_node": round(summary["peak_bytes"] / n, 1),
        "walk_every_node_s": round(walk["seconds"], 2),
    }
    print(big, flush=True)
    result = {
        "sorted": sizes,
        "slope_log_bytes_vs_log_nodes": round(slope([r["nodes"] for r in sizes], [r["bytes"] for r in sizes]), 3),
        "range_sum": big,
        "targets": {"slope_max": 1.05, "peak_bytes_per_node_max": 300, "load_over_run_max": 1.0},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

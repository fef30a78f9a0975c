"""Cost of the overseer backward pass against the forward run, and how it grows.

Every leaf of a range-sum tree lies (answers a + 1), so every node's answer is wrong and
the pass must visit all of them: the worst case. The oracle overseer knows each range's
true sum. Reported: backward and forward seconds at about 1,000 / 10,000 / 100,000 nodes,
backward over forward for the same tree, and the slope of log time against log nodes.

    python benchmarks/backward.py       writes benchmarks/results/backward.json
"""

from __future__ import annotations

import gc
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import ida  # noqa: E402
from engine import RANGE  # noqa: E402
from ida.overseer import OracleOverseer, backward  # noqa: E402


@ida.scripted(name="lying-leaves")
def lying_sum(ws):
    a, b = map(int, RANGE.fullmatch(ws.question_text).groups())
    if b - a == 1:
        return str(a + 1)  # the lie
    m = (a + b) // 2
    left = yield f"ask what is the sum of {a} to {m}?"
    right = yield f"ask what is the sum of {m} to {b}?"
    return str(int(left) + int(right))


def truth(question: str) -> str:
    a, b = map(int, RANGE.fullmatch(question).groups())
    return str((a + b - 1) * (b - a) // 2)


def slope(xs: list[float], ys: list[float]) -> float:
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def main() -> None:
    out = Path(__file__).parent / "results" / "backward.json"
    overseer = OracleOverseer(truth)
    rows = []
    for leaves in (500, 5_000, 50_000):
        q = f"what is the sum of 0 to {leaves}?"
        fwd, bwd = [], []
        for _ in range(7 if leaves < 50_000 else 3):
            tree = report = None
            gc.collect()  # each timing starts from the same clean heap
            t = time.perf_counter()
            tree = ida.run(q, lying_sum, budget=10 * leaves)
            fwd.append(time.perf_counter() - t)
            t = time.perf_counter()
            report = backward(tree, truth(q), overseer)
            bwd.append(time.perf_counter() - t)
        assert len(report.visits) == len(tree) and len(report.blamed) == leaves
        rows.append({"nodes": len(tree), "forward_s": round(min(fwd), 4), "backward_s": round(min(bwd), 4),
                     "overseer_calls": len(report.visits), "backward_over_forward": round(min(bwd) / min(fwd), 3),
                     "backward_us_per_node": round(1e6 * min(bwd) / len(tree), 2)})
        print(rows[-1], flush=True)
    result = {
        "rows": rows,
        "slope_log_backward_vs_log_nodes": round(slope([r["nodes"] for r in rows], [r["backward_s"] for r in rows]), 3),
        "slope_log_backward_last_decade": round(slope([r["nodes"] for r in rows[-2:]], [r["backward_s"] for r in rows[-2:]]), 3),
        "slope_log_forward_vs_log_nodes": round(slope([r["nodes"] for r in rows], [r["forward_s"] for r in rows]), 3),
        "backward_over_forward_at_largest": rows[-1]["backward_over_forward"],
        "targets": {"slope_max": 1.05, "backward_over_forward_max": 1.0},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Hostile input for the hypertext parser: it must stay linear.

An outside probe found 10^6 escaped brackets took 71 s and 10^6-deep nesting 27 s (10^5: 4.5 s).
Reported: CPU seconds to parse and to expand back to text at 10^4, 10^5, 10^6 characters'
worth of each shape, and the log-log slope (goal: ≤ 1.1, i.e. linear).

    python benchmarks/parse.py       writes benchmarks/results/parse.json
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from ida.hypertext import parse

SHAPES = {
    "escaped_brackets": lambda n: "\\[" * n,
    "deep_nesting": lambda n: "[" * n + "]" * n,
    "pointers_and_digits": lambda n: "[a]1 " * n,
}


def slope(xs: list[float], ys: list[float]) -> float:
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def cpu(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def main() -> None:
    result: dict = {"targets": {"slope_max": 1.1}}
    for name, make in SHAPES.items():
        rows = []
        for n in (10_000, 100_000, 1_000_000):
            text = make(n)
            parse_s = min(cpu(lambda text=text: parse(text)) for _ in range(3 if n < 1_000_000 else 1))
            m = parse(text)
            rows.append({"n": n, "chars": len(text), "parse_cpu_s": round(parse_s, 4),
                         "text_cpu_s": round(cpu(lambda m=m: expand_fresh(m)), 4)})
            print(name, rows[-1], flush=True)
        result[name] = {"rows": rows, "slope_parse": round(slope([r["n"] for r in rows], [r["parse_cpu_s"] for r in rows]), 3)}
    out = Path(__file__).parent / "results" / "parse.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v["slope_parse"] for k, v in result.items() if k != "targets"}))


def expand_fresh(m) -> str:  # a fresh expansion, not the cached one
    object.__setattr__(m, "_text", None)
    return m.text()


if __name__ == "__main__":
    main()

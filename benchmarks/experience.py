"""Lookup latency of the experience database at 1,000, 10,000 and 100,000 entries.

Entries are lesson-like sentences from a seeded vocabulary: a few hundred plain English
words plus a few thousand generated names, drawn with a Zipf-like skew so that some words
are in a large share of the entries (the expensive case for full-text ranking). Queries
mix exact keys, one-word and several-word questions. One database grows through the three
sizes, bulk-inserted in one transaction per step. Writes benchmarks/results/experience.json.

    python benchmarks/experience.py [--sizes 1000 10000 100000] [--queries 2000]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from ida.experience import RANK_WINDOW, ExperienceDB, Provenance  # noqa: E402

WORDS = ["vase", "glass", "cup", "plate", "bowl", "table", "shelf", "floor", "door", "window", "stairs", "kitchen", "garden", "robot", "arm", "gripper", "box", "crate", "shelf", "cable", "battery", "charger", "lamp", "chair", "sofa", "carpet", "rug", "wall", "corner", "cat", "dog", "child", "guest", "owner", "sensor", "camera", "wheel", "motor", "path", "route", "map", "room", "hall", "bin", "bag", "bottle", "jar", "knife", "fork", "spoon", "tray", "sink", "tap", "water", "oil", "spill", "stain", "dust", "paper", "book", "pen", "fragile", "heavy", "light", "wet", "dry", "slippery", "sharp", "hot", "cold", "narrow", "wide", "loose", "tight", "full", "empty", "slowly", "carefully", "quickly", "gently", "firmly", "always", "never", "first", "later", "before", "after", "near", "move", "carry", "lift", "drop", "push", "pull", "turn", "stop", "wait", "check", "ask", "place", "hold", "grasp", "release", "clean", "break", "crack", "slip", "fall", "tip", "spill", "burn", "cut", "block", "open", "close", "charge", "avoid", "report", "sort"]
FILLER = ["the", "a", "of", "to", "when", "if", "and", "or", "near", "on", "under", "with", "before", "after"]


def vocabulary(rng: random.Random, extra: int = 4000) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "dor", "len", "mar", "pel", "tin", "qua"]
    names = {"".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))) for _ in range(extra * 2)}
    return WORDS + sorted(names)[:extra]


class Sampler:
    """Zipf-like (weight 1/rank) choice over the vocabulary."""

    def __init__(self, words: list[str], rng: random.Random) -> None:
        self.words, self.rng = words, rng
        order = words[:]
        rng.shuffle(order)
        self.order = order
        self.weights = [1.0 / (i + 1) for i in range(len(order))]

    def take(self, n: int) -> list[str]:
        return self.rng.choices(self.order, weights=self.weights, k=n)


def sentence(s: Sampler, rng: random.Random) -> tuple[str, str]:
    key = "-".join(s.take(rng.choice([1, 1, 2])))
    words = s.take(rng.randint(6, 14))
    for i in range(1, len(words), 3):  # function words in between, as in real sentences
        words.insert(i, rng.choice(FILLER))
    return key, " ".join(words)


def summary(times: list[float]) -> dict:
    times = sorted(times)
    return {
        "median_ms": statistics.median(times),
        "p99_ms": times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)],
        "max_ms": times[-1],
        "queries": len(times),
    }


def measure(db: ExperienceDB, keys: list[str], s: Sampler, rng: random.Random, n_queries: int) -> dict:
    """Latency over all queries, and separately per kind of query."""
    queries: list[tuple[str, str]] = []
    for i in range(n_queries):
        kind = ("exact key", "one word", "several words")[i % 3]
        if kind == "exact key":
            queries.append((kind, rng.choice(keys)))
        elif kind == "one word":
            queries.append((kind, s.take(1)[0]))
        else:
            queries.append((kind, " ".join(s.take(rng.randint(2, 4)))))
    for _, q in queries[:50]:  # warm the page cache
        db.lookup(q)
    times: dict[str, list[float]] = {}
    for kind, q in queries:
        t0 = time.perf_counter()
        db.lookup(q, k=5)
        times.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
    return {**summary([t for ts in times.values() for t in ts]), "by_kind": {k: summary(v) for k, v in times.items()}}


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log y on log x: 0 is flat, 1 is linear in the number of entries."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    ap.add_argument("--queries", type=int, default=2_000)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "experience.json")
    args = ap.parse_args()

    rng = random.Random(1234)
    s = Sampler(vocabulary(rng), rng)
    rows, keys = [], []
    with tempfile.TemporaryDirectory() as tmp, ExperienceDB(Path(tmp) / "bench.sqlite") as db:
        for size in sorted(args.sizes):
            t0 = time.perf_counter()
            with db.transaction():  # bulk insert: one commit per step
                for _ in range(size - len(keys)):
                    key, text = sentence(s, rng)
                    db.add(key, text, author="bench", provenance=Provenance(note="synthetic"))
                    keys.append(key)
            insert_s = time.perf_counter() - t0
            stats = measure(db, keys, s, rng, args.queries)
            db_file = Path(tmp) / "bench.sqlite"
            with closing(sqlite3.connect(db_file)) as conn:  # fold the WAL in, to measure the real size
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            rows.append({"entries": size, "insert_s": insert_s, "file_mb": db_file.stat().st_size / 1e6, **stats})

    sizes = [r["entries"] for r in rows]
    exponent = slope(sizes, [r["median_ms"] for r in rows]) if len(rows) > 1 else None
    kind_exponents = (
        {k: slope(sizes, [r["by_kind"][k]["median_ms"] for r in rows]) for k in rows[0]["by_kind"]}
        if len(rows) > 1 else {}
    )
    result = {
        "benchmark": "experience.lookup",
        "k": 5,
        "sizes": rows,
        "growth_exponent_median": exponent,
        "growth_exponent_median_by_kind": kind_exponents,
        "rank_window": RANK_WINDOW,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    table = Table(title=f"ExperienceDB.lookup latency (k=5, rank window {RANK_WINDOW})")
    for col in ("entries", "queries", "median ms", "p99 ms", "max ms"):
        table.add_column(col, justify="right")
    for r in rows:
        for name, st in [("all", r), *r["by_kind"].items()]:
            table.add_row(f"{r['entries']:,}" if name == "all" else "", name,
                          f"{st['median_ms']:.3f}", f"{st['p99_ms']:.3f}", f"{st['max_ms']:.3f}")
        table.add_section()
    console = Console()
    console.print(table)
    for r in rows:
        console.print(f"{r['entries']:>7,} entries: bulk insert {r['insert_s']:.1f} s, file {r['file_mb']:.1f} MB")
    if exponent is not None:
        console.print(f"growth exponent of the median (slope of log median vs log n): {exponent:.3f}")
        console.print("  by kind: " + ", ".join(f"{k} {v:.3f}" for k, v in kind_exponents.items()))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

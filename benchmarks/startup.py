"""How long `import ida` takes, beside a bare interpreter, and what it loads.

Each figure is the median of fresh processes, timed side by side in one run, with
CPU time (user + system of the child) beside wall time, since wall time swings on a
shared machine. Goal: `import ida` ≤ 0.3 s, loading none of torch, rich, networkx.

    python benchmarks/startup.py       writes benchmarks/results/startup.json
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "rich", "networkx", "typer", "pydantic")
CASES = {
    "python -c pass": "pass",
    "import ida": "import ida",
    "import ida (and print what it loaded)": f"import sys, ida; print(len(sys.modules), *[m for m in {HEAVY!r} if m in sys.modules])",
}


def one(code: str) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out.strip()


def main() -> None:
    runs = 15
    result: dict = {"runs": runs, "targets": {"import_ida_s_max": 0.3}}
    for _ in range(2):  # warm the file cache first
        one("import ida")
    samples: dict[str, list[tuple[float, float, str]]] = {name: [] for name in CASES}
    for _ in range(runs):  # interleaved, so drift on the machine hits every case alike
        for name, code in CASES.items():
            samples[name].append(one(code))
    for name, rows in samples.items():
        result[name] = {"wall_s": round(statistics.median(r[0] for r in rows), 4),
                        "cpu_s": round(statistics.median(r[1] for r in rows), 4)}
    modules, *heavy = samples["import ida (and print what it loaded)"][0][2].split()
    result["modules_after_import_ida"] = int(modules)
    result["heavy_libraries_loaded"] = heavy
    result["import_ida_minus_bare_cpu_s"] = round(result["import ida"]["cpu_s"] - result["python -c pass"]["cpu_s"], 4)
    out = Path(__file__).parent / "results" / "startup.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Run every benchmark, one after another, each writing its JSON under benchmarks/results/.

    python benchmarks/run_all.py [NAME ...]      e.g. engine backward experience distill
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ALL = ["startup", "engine", "backward", "experience", "parse", "transcript", "view", "blame", "circuit", "distill",
       "distill_readme"]


def main() -> int:
    names = sys.argv[1:] or [n for n in ALL if (HERE / f"{n}.py").exists()]
    failed = []
    for name in names:
        script = HERE / f"{name}.py"
        if not script.exists():
            print(f"no benchmark {name!r}; choose from {', '.join(ALL)}", file=sys.stderr)
            return 2
        print(f"== {name}", flush=True)
        t = time.perf_counter()
        if subprocess.run([sys.executable, str(script)]).returncode != 0:
            failed.append(name)
        print(f"== {name}: {time.perf_counter() - t:.0f} s", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

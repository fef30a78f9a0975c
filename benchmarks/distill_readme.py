"""How long the README's distillation commands take, run as a user runs them, with what they reach.

Each command of the README's distillation section runs in a fresh process (`python -m ida`), its
run folder under a temporary one; it records the wall time, the exit status, the held-out figures
of a `distill` (from the run's best/ and last/ checkpoints) and the closing lines of the output.
The transcripts example runs once more with torch's own thread count (`--threads 0`, the default
before): on a 2-core machine where another process holds a core, its threads wait on each other.
The machine's load average is recorded beside each: a shared machine's load moves these figures most.

    python benchmarks/distill_readme.py [--cpus 0,1] [--only policy hprime ...]

`--cpus 0,1` pins every command to those cores (`taskset`), as a 2-core CI machine would run it.
Results go to benchmarks/results/distill_readme.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "distill_readme.json"
EXAMPLE = ["distill", "transcripts/examples", "--mode", "policy", "--held-out", "0.3", "--steps", "600"]

# name: the command's arguments after `ida`; {tmp} is the temporary folder.
COMMANDS: dict[str, list[str]] = {
    "hprime": ["distill", "--task", "permutation", "--questions", "300", "--out", "{tmp}/hprime"],
    "eval": ["eval", "{tmp}/hprime", "permutation", "--n", "100"],
    "policy": [*EXAMPLE, "--out", "{tmp}/policy"],
    "iterate": ["iterate", "permutation", "--task-size", "4", "--rounds", "10", "--steps", "200", "--out", "{tmp}/iterate"],
    "learn-decomposer": ["iterate", "permutation", "--learn-decomposer", "--out", "{tmp}/loop"],
    # the example with torch's own thread count (a thread a core), the default before
    "policy-torch-threads": [*EXAMPLE, "--threads", "0", "--out", "{tmp}/policy-threads"],
}


def checkpoint_figures(run: Path) -> dict:
    """The best checkpoint's held-out figures and where the run stopped."""
    if not (run / "best" / "config.json").exists():
        return {}
    best = json.loads((run / "best" / "config.json").read_text())
    last = json.loads((run / "last" / "config.json").read_text())
    return {"best_step": best["step"], "best_exact_match": round(best["metrics"]["exact_match"], 4),
            "eval_on": best["train"]["eval_on"], "last_step": last["step"], "stopped": last["train"]["stopped"],
            "steps_per_second": round(last["metrics"]["steps_per_second"], 2), "calibration": best.get("calibration")}


def run(name: str, args: list[str], tmp: Path, cpus: str | None) -> dict:
    argv = [a.replace("{tmp}", str(tmp)) for a in args]
    pin = ["taskset", "-c", cpus] if cpus and shutil.which("taskset") else []
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    p = subprocess.run([*pin, sys.executable, "-m", "ida", *argv], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"})
    seconds = time.perf_counter() - t0
    out = {"command": "ida " + " ".join(args).replace("{tmp}/", "runs/"), "seconds": round(seconds, 1),
           "returncode": p.returncode, "load_before": round(load0, 2), "load_after": round(os.getloadavg()[0], 2),
           "stdout_tail": p.stdout.splitlines()[-30:], "stderr_tail": p.stderr.splitlines()[-3:]}
    if args[0] == "distill":
        out |= checkpoint_figures(Path(argv[argv.index("--out") + 1]))
    print(f"{name}: {seconds:.0f} s, exit {p.returncode}, {json.dumps({k: out.get(k) for k in ('best_exact_match', 'best_step', 'last_step', 'stopped')})}",
          flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpus", default=None, help="pin the commands to these cores (taskset -c), e.g. 0,1")
    ap.add_argument("--only", nargs="+", choices=list(COMMANDS), default=list(COMMANDS))
    args = ap.parse_args()
    names = [n for n in COMMANDS if n in args.only]
    if "eval" in names and "hprime" not in names:
        names.insert(names.index("eval"), "hprime")  # eval scores the hprime run
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    with tempfile.TemporaryDirectory() as d:
        for name in names:
            results[name] = run(name, COMMANDS[name], Path(d), args.cpus)
    results["env"] = {"python": platform.python_version(), "cpus": args.cpus or f"all ({os.cpu_count()})",
                      "date": time.strftime("%Y-%m-%d")}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()

"""The viewer on big trees: page size and time to first screen in headless Chromium.

Range-sum trees (see benchmarks/engine.py) of about 10^3, 10^4 and 10^5 nodes, each written
as one page. For each: bytes a node and the build time in Python; then, in headless
Chromium from file://, the time from navigation start to the first frame after the tree's
first screen is drawn (the page records it as `document.body.dataset.ready`), and the time
to open the root's workspace (the first open parses the details blob). Medians of --repeat
loads. Goals: first screen <= 2 s at 10^5 nodes; page size linear (log-log slope ~1).

Needs Debian's chromium and chromium-driver, and selenium (the test extra).

    python benchmarks/view.py [--repeat 3]        writes benchmarks/results/view.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]  # this checkout's ida, not an installed one
import ida  # noqa: E402
from engine import range_sum  # noqa: E402
from transcript import slope  # noqa: E402
from ida.view import RunInput, write_page  # noqa: E402

SIZES = (1_000, 10_000, 100_000)


def browser():
    from selenium import webdriver

    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900"):
        opts.add_argument(a)
    opts.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=webdriver.ChromeService("/usr/bin/chromedriver"), options=opts)


def _wait(d, script: str, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = d.execute_script(script)
        if got:
            return got
        time.sleep(0.01)
    raise RuntimeError(f"timed out waiting for {script}")


def load_once(d, page: Path) -> dict:
    d.get("about:blank")
    d.get(page.resolve().as_uri())
    first = float(_wait(d, "return document.body.dataset.ready"))
    rows = d.execute_script("return document.querySelectorAll('#tree .row').length")
    t = d.execute_script("""
        const t = performance.now();
        document.getElementById('open-workspace').click();
        return performance.now() - t;""")
    return {"first_screen_ms": first, "rows_drawn": rows, "open_workspace_ms": t}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "view.json")
    args = ap.parse_args()
    d = browser()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in SIZES:
                leaves = (n + 1) // 2
                tree = ida.run(f"what is the sum of 0 to {leaves}?", range_sum, budget=10 * leaves)
                t = time.perf_counter()
                page = write_page(Path(tmp) / f"range{n}.html", [RunInput(tree, f"range {n}")])
                build_s = time.perf_counter() - t
                size = page.stat().st_size
                loads = [load_once(d, page) for _ in range(args.repeat)]
                row = {
                    "nodes": len(tree), "page_bytes": size, "bytes_per_node": round(size / len(tree), 1),
                    "build_s": round(build_s, 2),
                    "first_screen_ms": round(statistics.median(x["first_screen_ms"] for x in loads)),
                    "first_screen_ms_all": [round(x["first_screen_ms"]) for x in loads],
                    "open_workspace_ms": round(statistics.median(x["open_workspace_ms"] for x in loads)),
                    "rows_drawn": loads[0]["rows_drawn"],
                }
                rows.append(row)
                print(row, flush=True)
                del tree
    finally:
        d.quit()
    result = {
        "sizes": rows,
        "slope_log_bytes_vs_log_nodes": round(slope([r["nodes"] for r in rows], [r["page_bytes"] for r in rows]), 3),
        "targets": {"first_screen_ms_at_1e5_max": 2000, "slope_max": 1.05},
        "machine": platform.platform(), "chromium": d.capabilities.get("browserVersion", ""),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""One self-contained HTML page: page.html with page.css, page.js and the data inlined.

Nothing is fetched when the page opens (no network, works from file://). The data sits in
two `<script type="application/json">` blocks (see ida.view.payload); `<` is written as
`\\u003c` inside them, so no text from a transcript can close the block or open a tag.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from ida.files import write_atomic
from ida.overseer.saved import ReportError, ReportFile, check_matches, load_report, matches, report_path
from ida.transcript import load_transcript
from ida.tree import Tree
from ida.view.diff import run_diff
from ida.view.payload import Curves, Payload, diff_dict, report_dict, run_columns, run_details

_SLOT = re.compile(r"@@(TITLE|CSS|JS|DATA|DETAILS)@@")


@dataclass
class RunInput:
    tree: Tree
    label: str
    path: Path | None = None
    report: ReportFile | None = None


def open_runs(transcripts: list[Path], reports: list[Path] | None = None) -> list[RunInput]:
    """Load transcripts, each with the report saved beside it if any; each of `reports` must be
    about one of them (else `ReportError`), and wins over the one found beside it."""
    runs = []
    for p in transcripts:
        tree = load_transcript(p)
        beside = report_path(p)
        report = None
        if beside.is_file():
            report = load_report(beside)
            check_matches(report, tree, beside)
        runs.append(RunInput(tree, p.name.removesuffix(".jsonl"), p, report))
    for rp in reports or []:
        r = load_report(rp)
        target = next((run for run in runs if matches(r, run.tree)), None)
        if target is None:
            for run in runs:
                if run.tree.run_id == r.transcript.run_id:
                    check_matches(r, run.tree, rp)  # same run, changed tree: says so
            named = ", ".join(run.tree.run_id for run in runs)
            raise ReportError(f"{rp}: this report is for run {r.transcript.run_id}, not for any transcript given ({named})")
        target.report = r
    return runs


def build_payload(runs: list[RunInput], title: str, diff: bool = True,
                  curves: Curves | None = None) -> tuple[Payload, list[dict[str, Any]]]:
    """The page's two blobs. With `diff`, each run is compared with the one before it (fix
    rounds, vase run 1 and 2); runs of different questions are refused (`DiffError`)."""
    payload = Payload(title=title, curves=curves)
    details = []
    for i, r in enumerate(runs):
        payload.runs.append(run_columns(r.tree, r.label, None if r.path is None else str(r.path)))
        details.append(run_details(r.tree))
        if r.report is not None:
            payload.reports.append(report_dict(r.report, i))
    if diff:
        for i in range(1, len(runs)):
            payload.diffs.append(diff_dict(run_diff(runs[i - 1].tree, runs[i].tree), i - 1, i))
    return payload, details


def _json(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c")  # JSON still, and no `</script>` or `<!--` inside the block


def _asset(name: str) -> str:
    return resources.files("ida.view").joinpath(name).read_text(encoding="utf-8")


def render_html(payload: Payload, details: list[dict[str, Any]]) -> str:
    parts = {"TITLE": escape(payload.title), "CSS": _asset("page.css"), "JS": _asset("page.js"),
             "DATA": _json(payload.model_dump(mode="json")), "DETAILS": _json(details)}
    return _SLOT.sub(lambda m: parts[m[1]], _asset("page.html"))  # one pass: inserted text is never rescanned


def write_curves_page(path: str | Path, title: str, xs: list[int], curves: dict[str, list[float]],
                      columns: list[str], rows: list[list[str]]) -> Path:
    """A page of curves (fractions against steps, drawn as inline SVG) and the table beside them."""
    from ida.view.svg import curves_svg

    figure = Curves(title=title, svg=curves_svg(xs, curves), columns=columns, rows=rows)
    return write_page(path, [], title=title, curves=figure)


def write_page(path: str | Path, runs: list[RunInput], title: str | None = None, diff: bool = True,
               curves: Curves | None = None) -> Path:
    """Build and write the page, atomically."""
    title = title or ("ida: " + ", ".join(r.label for r in runs) if runs else "ida")
    payload, details = build_payload(runs, title, diff, curves)
    return write_atomic(path, render_html(payload, details))

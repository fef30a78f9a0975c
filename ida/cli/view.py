"""`ida view`: trees, blame and run diffs as one HTML page, or a folder served on localhost."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import typer

from ida.cli.common import console
from ida.errors import IdaError


def view_cmd(
    transcripts: list[Path] = typer.Argument(None, help="Transcripts (.jsonl); two or more of one question are "
                                             "diffed, each against the one before. With --serve: one folder."),
    report: list[Path] = typer.Option([], "--report", help="A backward report (.report.json) about one of the "
                                      "transcripts; one saved beside a transcript is read without asking."),
    out: Path | None = typer.Option(None, "--out", "-o", help="The page (default: beside the first transcript, .html)."),
    open_page: bool = typer.Option(False, "--open", help="Open the page in the default browser."),
    diff: bool = typer.Option(True, "--diff/--no-diff", help="Diff runs of one question (--no-diff: just show them)."),
    serve: bool = typer.Option(False, "--serve", help="Serve a folder of transcripts on localhost instead."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port for --serve (0: any free one)."),
) -> None:
    """Write one self-contained HTML page (no network) showing the runs, their blame and their diff.

    Examples: ida view transcripts/runs/permutation-size8-seed1.jsonl --open ; ida view --serve transcripts
    """
    from ida.view import DiffError, open_runs, write_page

    if serve:
        _serve(transcripts, port)
        return
    if not transcripts:
        raise IdaError("give at least one transcript (or --serve FOLDER)")
    runs = open_runs(transcripts, report)
    path = out or transcripts[0].with_suffix(".html")
    try:
        write_page(path, runs, diff=diff)
    except DiffError as e:
        raise IdaError(f"{e} (--no-diff shows them without one)") from None
    nodes = sum(len(r.tree) for r in runs)
    console.print(f"wrote {path} ({len(runs)} run(s), {nodes} nodes"
                  + (f", {sum(r.report is not None for r in runs)} report(s)" if any(r.report for r in runs) else "") + ")")
    if open_page:
        webbrowser.open(path.resolve().as_uri())


def _serve(folders: list[Path] | None, port: int) -> None:
    from ida.view.serve import make_server

    folder = folders[0] if folders else Path("transcripts")
    if folders and len(folders) > 1 or not folder.is_dir():
        raise IdaError(f"--serve takes one folder of transcripts; {folder} is not a folder")
    try:
        server = make_server(folder, port)
    except OSError as e:
        raise IdaError(f"cannot listen on port {port}: {e.strerror or e}") from None
    console.print(f"serving {folder} at http://127.0.0.1:{server.server_address[1]}/  (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

"""The self-contained HTML viewer: trees, workspaces, blame and run diffs in a browser.

`payload` turns trees, saved reports and diffs into the page's JSON; `diff` compares two
runs of one question; `page` inlines page.html, page.css and page.js (package data, written
by hand, no build step) with that JSON into one file; `serve` shows a folder of transcripts
on localhost; `svg` draws iterate's curves.
"""

from ida.view.diff import DiffError, RunDiff, run_diff
from ida.view.page import RunInput, build_payload, open_runs, render_html, write_page

__all__ = ["DiffError", "RunDiff", "RunInput", "build_payload", "open_runs", "render_html", "run_diff", "write_page"]

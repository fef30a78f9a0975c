"""`ida view --serve`: a folder of transcripts on localhost, a list page and a page per choice.

Standard library only (http.server). Pages are built on request from the files as they are
now, with the report saved beside each transcript. Only files inside the folder are served,
and only on the loopback address by default: transcripts can hold anything a run saw.
"""

from __future__ import annotations

from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from ida.errors import IdaError
from ida.overseer.saved import SUFFIX
from ida.view.page import build_payload, open_runs, render_html

LIST_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>ida: {folder}</title>
<style>body{{font:14px system-ui,sans-serif;margin:16px}} li{{margin:2px 0}} .muted{{color:#888}}</style></head>
<body><h1>transcripts in {folder}</h1>
<form action="/view" method="get"><p>Tick two or more runs of one question for a run diff, or open one.
<button type="submit">view selected</button></p><ul>{items}</ul></form></body></html>"""


def transcripts_in(folder: Path) -> list[Path]:
    # `ida export --format hf` rows are .jsonl too, but no transcript
    return sorted(p.relative_to(folder) for p in folder.rglob("*.jsonl") if p.is_file() and not p.name.endswith(".hf.jsonl"))


def list_page(folder: Path) -> str:
    items = []
    for rel in transcripts_in(folder):
        q = quote(str(rel))
        has_report = (folder / rel).with_name(rel.name.removesuffix(".jsonl") + SUFFIX).is_file()
        items.append(f'<li><input type="checkbox" name="t" value="{escape(str(rel))}"> '
                     f'<a href="/view?t={q}">{escape(str(rel))}</a>'
                     + (' <span class="muted">(backward report)</span>' if has_report else "") + "</li>")
    return LIST_PAGE.format(folder=escape(str(folder)), items="".join(items) or "<li>none</li>")


def view_page(folder: Path, names: list[str]) -> str:
    """The page for transcripts named relative to `folder`; a name outside it is refused."""
    root = folder.resolve()
    paths = []
    for name in names:
        p = (root / name).resolve()
        if not p.is_relative_to(root):
            raise IdaError(f"{name}: not inside {folder}")
        paths.append(p)
    if not paths:
        raise IdaError("choose at least one transcript")
    runs = open_runs(paths)
    for r, name in zip(runs, names):
        r.label = name.removesuffix(".jsonl")
    same = len({r.tree.root_node.question.address for r in runs}) == 1
    payload, details = build_payload(runs, "ida: " + ", ".join(names), diff=same)
    return render_html(payload, details)


def make_server(folder: Path, port: int = 8000, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urlsplit(self.path)
            try:
                if url.path == "/":
                    self._send(200, list_page(folder))
                elif url.path == "/view":
                    self._send(200, view_page(folder, parse_qs(url.query).get("t", [])))
                else:
                    self._send(404, "not found", "text/plain")
            except IdaError as e:
                self._send(400, str(e), "text/plain")

        def _send(self, code: int, body: str, kind: str = "text/html") -> None:
            data = body.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # quiet: the terminal shows the URL only
            pass

    return ThreadingHTTPServer((host, port), Handler)

"""The `ida` command: parses and renders; the library does the work.

One module per command group (typer's "one file per command" shape), all registered in the
block below. Any `IdaError` (a user mistake: bad path, malformed file, unknown task) becomes
one line on stderr and exit status 2, never a traceback. Commands that need torch import it
when they run, so `ida --help` stays quick.
"""

from __future__ import annotations

import os
import sys

import typer

from ida.cli import db, distill, observe, overseer, run, session, tasks, vase, view
from ida.cli.common import Command, Group, error_line
from ida.errors import IdaError

app = typer.Typer(
    cls=Group,
    help="Iterated amplification and distillation: meta-execution trees, the overseer backward pass, distillation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command("run", cls=Command)(run.run_cmd)
app.command("tasks", cls=Command)(tasks.tasks_cmd)
app.command("show", cls=Command)(run.show_cmd)
app.command("export", cls=Command)(run.export_cmd)
app.add_typer(db.app, name="db")
app.command("backward", cls=Command)(overseer.backward_cmd)
app.command("fix", cls=Command)(overseer.fix_cmd)
app.command("observe", cls=Command)(observe.observe_cmd)
app.command("vase", cls=Command)(vase.vase_cmd)
app.command("ask", cls=Command, help=session.ASK_HELP)(session.ask_cmd)
app.add_typer(session.sessions_app, name="sessions")
app.command("distill", cls=Command)(distill.distill_cmd)
app.command("eval", cls=Command)(distill.eval_cmd)
app.command("iterate", cls=Command)(distill.iterate_cmd)
app.command("view", cls=Command)(view.view_cmd)


def main(argv: list[str] | None = None) -> None:
    """Entry point. Typer handles usage errors (exit 2); a user mistake found later is one line, exit 2."""
    args = sys.argv[1:] if argv is None else argv
    for a in args:  # bytes that are not UTF-8 arrive as lone surrogates, which crash any later encode
        try:
            a.encode("utf-8")
        except UnicodeEncodeError:
            error_line(f"an argument is not valid UTF-8: {os.fsencode(a)!r}")
            sys.exit(2)
    try:
        app(args=args)
    except IdaError as e:
        error_line(str(e))
        sys.exit(2)

"""`ida sessions memo`: the automation entries of a sessions file, listed, shown, edited,
forgotten and reverted. Parsing and rendering only; `ida.policies.memo.Automation` does the work."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from ida.cli.common import Command, Group, console
from ida.overseer.automation import AutoChange
from ida.policies.memo import AutoEntry, AutoEvent, Origin
from ida.session import SessionStore

app = typer.Typer(
    cls=Group,
    help="Automation: the action replayed in each context (workspace) seen before; every change "
    "versioned (list, show, edit, forget, revert).",
    no_args_is_help=True,
)

MemoSessionsOpt = typer.Option(None, "--sessions", help="Sessions file (default: as `ida sessions`).")
ReasonOpt = typer.Option("", "--reason", help="Why: kept in the entry's history.")


def _store(ctx: typer.Context, sessions: Path | None) -> SessionStore:
    return SessionStore(sessions if sessions is not None else (ctx.obj or {}).get("sessions"))


def _status(e: AutoEntry) -> str:
    return "live" if e.live else "forgotten"


def _context(e: AutoEntry) -> Text:
    more = f"  (+{e.lines - 1} lines)" if e.lines > 1 else ""
    return Text(e.question) + Text(more, style="dim")


def entries_table(entries: list[AutoEntry], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("id", "status", "author", "from", "action", "context (question)", "updated"):
        table.add_column(col, overflow="fold", no_wrap=col in ("id", "status", "updated"))
    for e in entries:
        table.add_row(f"a{e.id}", _status(e), Text(e.origin.author), Text(e.origin.where()),
                      Text(e.action, style="" if e.live else "strike"), _context(e), e.updated[:16].replace("T", " "))
    return table


def events_table(events: list[AutoEvent]) -> Table:
    table = Table(title="history", title_justify="left")
    for col in ("rev", "kind", "action", "author", "from", "why", "at"):
        table.add_column(col, overflow="fold", no_wrap=col in ("rev", "kind", "at"))
    for ev in events:
        table.add_row(str(ev.revision), ev.kind, Text(ev.action if ev.action is not None else "(forgotten)"),
                      Text(ev.origin.author), Text(ev.origin.where()), Text(ev.origin.reason), ev.at[:19])
    return table


def show_entry(e: AutoEntry, events: list[AutoEvent]) -> None:
    console.print(Text.assemble((f"a{e.id}", "bold"), f"  {_status(e)}  author: ", e.origin.author,
                                f"  from: {e.origin.where() or '-'}"))
    console.print(Text("context (the workspace as it was seen):", style="bold"))
    for line in e.workspace.split("\n"):
        console.print(Text("  " + line), soft_wrap=True)
    console.print(Text.assemble(("action: ", "bold"), e.action if e.live else f"{e.action} (forgotten: the person "
                                "is asked here)"))
    console.print(events_table(events))


@app.command("list", cls=Command)
def list_cmd(
    ctx: typer.Context,
    sessions: Path | None = MemoSessionsOpt,
    forgotten: bool = typer.Option(False, "--all", help="Forgotten entries too."),
    author: str | None = typer.Option(None, "--author", help="Only entries whose latest author is this."),
    grep: str | None = typer.Option(None, "--grep", help="Only entries whose context or action holds this text."),
) -> None:
    """The automation entries, oldest first.

    Example: ida sessions memo list
    """
    with _store(ctx, sessions) as store:
        rows = store.automation.records(forgotten=forgotten)
        path = store.path
    rows = [e for e in rows if (author is None or e.origin.author == author)
            and (grep is None or grep in e.workspace or grep in e.action)]
    if not rows:
        console.print(Text(f"no automation entries in {path}"))
        return
    console.print(entries_table(rows, f"{len(rows)} automation entries ({path})"))


@app.command("show", cls=Command)
def show_cmd(ctx: typer.Context, entry: str = typer.Argument(..., help="An entry id, e.g. a12."),
             sessions: Path | None = MemoSessionsOpt) -> None:
    """An entry: its context in full, its action, who wrote it from where, and its history.

    Example: ida sessions memo show a3
    """
    with _store(ctx, sessions) as store:
        e = store.automation.entry(entry)
        show_entry(e, store.automation.history(e.id))


@app.command("edit", cls=Command)
def edit_cmd(ctx: typer.Context, entry: str = typer.Argument(..., help="An entry id, e.g. a12."),
             action: str = typer.Argument(..., help="The action to replay there, e.g. 'unlock $2'."),
             reason: str = ReasonOpt, sessions: Path | None = MemoSessionsOpt) -> None:
    """Replay another action in this context (checked against the context's pointers).

    Example: ida sessions memo edit a3 "unlock $2" --reason "look first"
    """
    with _store(ctx, sessions) as store:
        e = store.automation.edit(entry, action, Origin(author="person", reason=reason or "ida sessions memo edit"))
    console.print(Text(f"a{e.id}: {e.action}"))


@app.command("forget", cls=Command)
def forget_cmd(ctx: typer.Context, entry: str = typer.Argument(..., help="An entry id, e.g. a12."),
               reason: str = ReasonOpt, sessions: Path | None = MemoSessionsOpt) -> None:
    """Stop replaying this context: the person is asked there again (the history keeps it).

    Example: ida sessions memo forget a3
    """
    with _store(ctx, sessions) as store:
        e = store.automation.entry(entry)
        done = store.automation.forget(e.key, origin=Origin(author="person", reason=reason or "ida sessions memo forget"))
    console.print(Text(f"a{e.id}: forgotten; the person is asked there again" if done else f"a{e.id}: already forgotten"))


@app.command("revert", cls=Command)
def revert_cmd(ctx: typer.Context, entry: str = typer.Argument(..., help="An entry id, e.g. a12."),
               to: int | None = typer.Option(None, "--to", help="The revision to go back to "
                                             "(default: the state before the entry's latest change)."),
               reason: str = ReasonOpt, sessions: Path | None = MemoSessionsOpt) -> None:
    """Make an entry as it was (its action, author and provenance then); logged as a change of its own.

    Example: ida sessions memo revert a3 --to 12
    """
    with _store(ctx, sessions) as store:
        e = store.automation.revert(entry, to, Origin(author="person", reason=reason or "ida sessions memo revert"))
    console.print(Text(f"a{e.id}: {e.action if e.live else 'forgotten'} (author {e.origin.author})"))


def change_line(c: AutoChange) -> Text:
    """One correction carried into automation, as `ida backward --apply` prints it."""
    entry = f"a{c.entry}" if c.entry is not None else "no entry"
    where = f"#{c.node} step {c.step}"
    if c.kind == "set":
        return Text(f"automation {entry} ({where}): replays {c.action}")
    if c.kind == "forget":
        return Text(f"automation {entry} ({where}): forgotten, the person is asked there ({c.why})")
    return Text(f"automation {entry} ({where}): left alone, it says {c.action} ({c.why})", style="yellow")

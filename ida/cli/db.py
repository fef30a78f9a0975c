"""`ida db`: list, edit, version and share the experience database from the terminal.

Thin on purpose: parse, call `ExperienceDB`, render. Mistakes raise `IdaError`, which
`ida.cli.main` turns into one line on stderr and exit status 2.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from ida.cli.common import Command, DbOpt, Group, console, open_db
from ida.experience import Entry, Event, Provenance, parse_entry_id


app = typer.Typer(
    cls=Group,
    help="The experience database: lessons under keys, every change versioned (list, add, edit, rm, "
    "history, revert, search, export, import).",
    no_args_is_help=True,
)

AuthorOpt = typer.Option("user", "--author", help="Who makes the change (kept in the log).")
NoteOpt = typer.Option("", "--note", help="Why: free text kept as the change's provenance.")


def entry_id(raw: str) -> int:
    """`12` or `e12`, as entries render (`[e12] key: text`)."""
    return parse_entry_id(raw)


def entries_table(entries: list[Entry], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("id", "key", "text", "author", "updated"):
        table.add_column(col, overflow="fold")
    for e in entries:
        table.add_row(f"e{e.id}", Text(e.key), Text(e.text), Text(e.author), e.updated[:19])
    return table


def provenance_text(p: Provenance) -> str:
    parts = [p.note] if p.note else []
    parts += [f"{name}={value}" for name, value in (("run", p.run_id), ("node", p.node_id), ("feedback", p.feedback))
              if value is not None]
    return "; ".join(parts)


def events_table(events: list[Event], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("rev", "kind", "key", "text", "author", "at", "provenance"):
        table.add_column(col, overflow="fold")
    for ev in events:
        table.add_row(str(ev.revision), ev.kind, Text(ev.key or "-"), Text(ev.text or "(gone)"), Text(ev.author),
                      ev.at[:19], Text(provenance_text(ev.provenance)))
    return table


@app.command("list", cls=Command)
def list_cmd(db: Path | None = DbOpt) -> None:
    """Show every live entry.

    Example: ida db list --db lessons.sqlite
    """
    with open_db(db) as d:
        entries, rev = d.entries(), d.revision
    if not entries:
        console.print(f"no entries (revision {rev})")
        return
    console.print(entries_table(entries, f"{len(entries)} entries, revision {rev}"))


@app.command("add", cls=Command)
def add_cmd(
    key: str = typer.Argument(..., help="What the lesson is about, e.g. vase."),
    text: str = typer.Argument(..., help="The lesson, one sentence."),
    db: Path | None = DbOpt, author: str = AuthorOpt, note: str = NoteOpt,
) -> None:
    """Add an entry.

    Example: ida db add vase "vases are fragile; move slowly near them"
    """
    with open_db(db) as d:
        e = d.add(key, text, author=author, provenance=Provenance(note=note))
        console.print(Text(f"added {e.render()}  (revision {e.revision})"))


@app.command("edit", cls=Command)
def edit_cmd(
    id: str = typer.Argument(..., help="Entry id, 12 or e12."),
    text: str | None = typer.Option(None, "--text", help="New text."),
    key: str | None = typer.Option(None, "--key", help="New key."),
    db: Path | None = DbOpt, author: str = AuthorOpt, note: str = NoteOpt,
) -> None:
    """Change an entry's text or key (the old one stays in its history).

    Example: ida db edit e3 --text "a fig weighs 50 grams"
    """
    with open_db(db) as d:
        e = d.edit(entry_id(id), text, key=key, author=author, provenance=Provenance(note=note))
        console.print(Text(f"edited {e.render()}  (revision {e.revision})"))


@app.command("rm", cls=Command)
def rm_cmd(
    id: str = typer.Argument(..., help="Entry id, 12 or e12."),
    db: Path | None = DbOpt, author: str = AuthorOpt, note: str = NoteOpt,
) -> None:
    """Remove an entry (its history is kept; `revert` can bring it back).

    Example: ida db rm e3
    """
    with open_db(db) as d:
        n = entry_id(id)
        revision = d.remove(n, author=author, provenance=Provenance(note=note))
        console.print(f"removed e{n}  (revision {revision})")


@app.command("history", cls=Command)
def history_cmd(id: str = typer.Argument(..., help="Entry id, 12 or e12."), db: Path | None = DbOpt) -> None:
    """Every change to one entry, oldest first.

    Example: ida db history e3
    """
    with open_db(db) as d:
        n = entry_id(id)
        console.print(events_table(d.history(n), f"history of e{n}"))


@app.command("revert", cls=Command)
def revert_cmd(
    revision: int = typer.Argument(..., help="The revision whose state to restore."),
    db: Path | None = DbOpt, author: str = AuthorOpt, note: str = NoteOpt,
) -> None:
    """Restore the state at an earlier revision, as new events (nothing is deleted).

    Example: ida db revert 10
    """
    with open_db(db) as d:
        before = d.revision
        after = d.revert(revision, author=author, provenance=Provenance(note=note) if note else None)
        console.print(f"reverted to revision {revision}: {after - before} entries changed, now at revision {after}")


@app.command("search", cls=Command)
def search_cmd(
    query: str = typer.Argument(..., help="Any text: an exact key ranks first, then full-text matches."),
    k: int = typer.Option(5, "-k", "--k", help="Most entries to show."),
    db: Path | None = DbOpt,
) -> None:
    """Look entries up as a tree node would.

    Example: ida db search "fig weight" -k 3
    """
    with open_db(db) as d:
        found = d.lookup(query, k)
    if not found:
        console.print("no matches")
        return
    console.print(entries_table(found, f"{len(found)} best matches"))


@app.command("export", cls=Command)
def export_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="JSON Lines file to write."),
    db: Path | None = DbOpt,
) -> None:
    """Write live entries as JSON Lines, to review or share in version control.

    Example: ida db export -o lessons.jsonl
    """
    with open_db(db) as d:
        n = d.export_jsonl(out)
    console.print(f"exported {n} entries to {out}")


@app.command("import", cls=Command)
def import_cmd(
    path: Path = typer.Argument(..., help="JSON Lines file from `ida db export`."),
    db: Path | None = DbOpt,
    author: str = typer.Option("import", "--author", help="Author of lines that name none."),
) -> None:
    """Add the entries of a JSON Lines file, all or none; ones already present are skipped.

    Example: ida db import lessons.jsonl
    """
    with open_db(db) as d:
        n = d.import_jsonl(path, author=author)
        console.print(f"imported {n} new entries from {path}  (revision {d.last_import_revision})")

"""`ida ask` and `ida sessions`: decomposition sessions at the terminal. Parsing and rendering only;
`ida.session` does the work."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from ida.cli.common import SESSIONS_DIR, console
from ida.experience import ExperienceDB, resolve_path
from ida.session import DEFAULT_BUDGET, DEFAULT_MAX_DEPTH, Session, SessionError, SessionStore
from ida.session import model_suggester


SessionsOpt = typer.Option(None, "--sessions", help="Sessions file (default: $IDA_SESSIONS, else .ida/sessions.sqlite).")


def ask_cmd(
    question: str | None = typer.Argument(
        None, help="The question, e.g. 'is the list [1 [2 []]] sorted?'. With --resume: the session id "
        "(default: the latest unfinished session)."),
    resume: bool = typer.Option(False, "--resume", help="Continue a saved session where it stopped."),
    db: Path | None = typer.Option(None, "--db", help="Experience database for `lookup` "
                                      "(default: $IDA_DB, else .ida/experience.sqlite)."),
    sessions: Path | None = SessionsOpt,
    budget: int | None = typer.Option(None, help=f"Most actions in the whole tree (default: {DEFAULT_BUDGET})."),
    max_depth: int | None = typer.Option(None, help=f"Deepest subquestion allowed (default: {DEFAULT_MAX_DEPTH})."),
    automate: bool | None = typer.Option(None, "--automate/--no-automate",
                                            help="Answer a context seen before with the action you took there "
                                            "(default: automate)."),
    suggest: Path | None = typer.Option(None, "--suggest", help="A distilled model's checkpoint folder: "
                                           "its proposed action is the prompt's editable default."),
    save: Path | None = typer.Option(None, help="Transcript path (default: transcripts/sessions/ID.jsonl)."),
) -> None:
    """A decomposition session at the terminal: one workspace at a time, saved after every action.

    At the prompt: ask, unlock, lookup, scratch, reply, plus undo, tree, raw, help and exit.

    Examples: ida ask "is the list [1 [2 [3 []]]] sorted from least to greatest?" ; ida ask --resume
    """
    suggester = model_suggester(suggest) if suggest is not None else None  # before anything is stored
    with SessionStore(sessions) as store:
        if resume:
            info = store.get(question) if question else store.latest_open()
            if info is None:
                raise SessionError(f"no unfinished session in {store.path} to resume")
            fixed = [name for name, value in (("--db", db), ("--save", save), ("--budget", budget),
                                              ("--max-depth", max_depth), ("--automate", automate)) if value is not None]
            if fixed:
                raise SessionError(f"{', '.join(fixed)}: fixed when a session starts; a resumed session keeps its own")
        else:
            if not question:
                raise SessionError("give a question, or --resume to continue a saved session")
            info = store.create(question, budget=DEFAULT_BUDGET if budget is None else budget,
                                max_depth=DEFAULT_MAX_DEPTH if max_depth is None else max_depth,
                                db_path=resolve_path(db), transcript=save, automate=automate is not False,
                                transcript_dir=SESSIONS_DIR)
        experience = ExperienceDB(resolve_path(info.db_path))
        try:
            session = Session(info, store, db=experience, console=console, suggest=suggester)
            verb = "resuming" if resume else "session"
            console.print(Text.assemble((f"{verb} {info.id}", "bold"), f": {info.question}   ",
                                        ("(help lists the commands)", "dim")))
            tree = session.run()
        finally:
            if experience is not None:
                experience.close()
        if tree is None:
            console.print(f"\nsession {info.id} saved; continue with: ida ask --resume {info.id}")
            if session.interrupted:
                raise typer.Exit(130)
            return
        from ida.render import tree_view

        done = session.info
        console.print(tree_view(tree, depth=10_000, width=10_000))
        console.print(Text.assemble(("answer: ", "bold"), str(tree.answer)))
        console.print(f"workspaces shown to you: {session.human.shown}   actions: {done.person} yours, "
                      f"{done.auto} automated   nodes: {len(tree)}   saved: {done.transcript}")


def sessions_cmd(sessions: Path | None = SessionsOpt) -> None:
    """List saved sessions, newest first.

    Example: ida sessions --sessions .ida/sessions.sqlite
    """
    with SessionStore(sessions) as store:
        rows = store.sessions()
        automation = len(store.automation)
    if not rows:
        console.print(f"no sessions in {store.path}")
        return
    table = Table(title=f"{len(rows)} sessions ({automation} automated contexts)", title_justify="left")
    for col in ("id", "status", "question", "yours", "automated", "answer", "updated"):
        table.add_column(col, overflow="fold", no_wrap=col in ("id", "status", "updated"))
    for s in rows:
        table.add_row(s.id, s.status, Text(s.question), str(s.person), str(s.auto), Text(s.answer or ""),
                      s.updated[:16].replace("T", " "))
    console.print(table)

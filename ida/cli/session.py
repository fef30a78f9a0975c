"""`ida ask` and `ida sessions`: decomposition sessions at the terminal. Parsing and rendering only;
`ida.session` does the work."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from ida.cli import memo
from ida.cli.common import SESSIONS_DIR, Group, console
from ida.experience import ExperienceDB, resolve_path
from ida.session import DEFAULT_BUDGET, DEFAULT_MAX_DEPTH, Session, SessionError, SessionStore
from ida.session import model_suggester
from ida.seen import seen_question


# Paragraphs without line breaks: typer keeps a help paragraph's breaks, so the terminal wraps it.
ASK_HELP = "\n\n".join([
    "A decomposition session at the terminal: one workspace at a time, saved after every action.",
    "At the prompt: ask, unlock, lookup, scratch, reply, plus undo, tree, raw, help and exit.",
    "An action is remembered under the workspace exactly as you saw it (automation) and replayed wherever a "
    "workspace reads the same. Keep pointers locked for as long as you can: on `is the list [1 [2 [3 [4 [5 [6 []]]]]]] "
    "sorted from least to greatest?`, asking `are the first two elements of $1 in order?` (answered `yes, then $2`) "
    "and then `is the list $2 sorted from least to greatest?` before unlocking anything is typed once and serves all "
    "six levels: you type in 17 of the tree's 35 workspaces and automation takes the other 18. Unlocking $1 first "
    "puts its value in every workspace below it, so little repeats: 18 of 23 typed, 5 automated.",
    "`ida sessions memo --help`: list, show, edit, forget and revert what automation replays.",
    "Examples: ida ask \"is the list [1 [2 [3 []]]] sorted from least to greatest?\" ; ida ask --resume",
])

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
    save: Path | None = typer.Option(None, "--out", "-o", help="Transcript path (default: transcripts/sessions/ID.jsonl); "
                                      "with --resume, where the resumed session saves its tree instead."),
) -> None:
    """A decomposition session at the terminal: one workspace at a time, saved after every action."""
    suggester = model_suggester(suggest) if suggest is not None else None  # before anything is stored
    with SessionStore(sessions) as store:
        if resume:
            info = store.get(question) if question else store.latest_open()
            if info is None:
                raise SessionError(f"no unfinished session in {store.path} to resume")
            fixed = [name for name, value in (("--db", db), ("--budget", budget),
                                              ("--max-depth", max_depth), ("--automate", automate)) if value is not None]
            if fixed:
                raise SessionError(f"{', '.join(fixed)}: fixed when a session starts; a resumed session keeps its own")
            if save is not None:
                info = store.set_transcript(info.id, save)
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
            # the question as its workspace shows it: what its pointers hold is unlocked at the prompt
            console.print(Text.assemble((f"{verb} {info.id}", "bold"), f": {seen_question(info.question)}   ",
                                        ("(help lists the commands)", "dim")))
            tree = session.run()
        finally:
            if experience is not None:
                experience.close()
        if tree is None:
            again = f" --sessions {shlex.quote(str(sessions))}" if sessions is not None else ""
            console.print(Text(f"\nsession {info.id} saved; continue with: ida ask --resume {info.id}{again}"))
            if session.interrupted:
                raise typer.Exit(130)
            return
        from ida.render import tree_view

        done = session.info
        console.print(tree_view(tree, depth=10_000, width=10_000))
        console.print(Text.assemble(("answer: ", "bold"), str(tree.answer)))
        console.print(f"workspaces shown to you: {session.human.shown}   actions: {done.person} yours, "
                      f"{done.auto} automated   nodes: {len(tree)}   saved: {done.transcript}")


sessions_app = typer.Typer(cls=Group, invoke_without_command=True)  # its help: the callback's docstring


@sessions_app.callback()
def sessions_cmd(ctx: typer.Context, sessions: Path | None = SessionsOpt) -> None:
    """List saved sessions, newest first; `ida sessions memo --help` for their automation entries.

    Examples: ida sessions ; ida sessions memo list
    """
    ctx.obj = {"sessions": sessions}
    if ctx.invoked_subcommand is not None:
        return
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


sessions_app.add_typer(memo.app, name="memo")

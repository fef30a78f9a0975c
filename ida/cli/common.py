"""What the command groups share: the console, the error line, default paths and common options.

The library writes files only where it is told; the `transcripts/...` and `.ida/...`
conventions live here, in the command line.
"""

from __future__ import annotations

import inspect

import sys
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from ida.experience import ExperienceDB, resolve_path
from ida.terminal import Console, printable

# One console for every command: data is shown as text (see ida.terminal), never highlighted,
# and never read as markup: a question with `[lime apricot fig]` in it prints as written.
# Styling goes through `say`, whose data is escaped in that one place.
console = Console(highlight=False, markup=False)

RUNS_DIR = Path("transcripts/runs")
CORRECTIONS_DIR = Path("transcripts/corrections")
SESSIONS_DIR = Path("transcripts/sessions")
VASE_DIR = Path("transcripts/vase")
FIX_DIR = Path("transcripts/fix")

DbOpt = typer.Option(None, "--db", help="Experience database file (default: $IDA_DB, else .ida/experience.sqlite here).")
CorrectionsOpt = typer.Option(CORRECTIONS_DIR, help="Where corrected steps are saved as a transcript.")
SeedOpt = typer.Option(0, help="Seed of the generated question.")
TaskSizeOpt = typer.Option(None, "--task-size", help="Size of the question: digits, list length, elements "
                           "(default: the task's own).")
DeviceOpt = typer.Option("cpu", help="cpu, cuda, cuda:1, ... (cuda needs a GPU build of torch).")
ThreadsOpt = typer.Option(1, min=0, max=1024, help="torch CPU threads; 0: torch's choice, one a core (slower by 10x "
                          "on a 2-core machine while another process holds a core: see benchmarks/distill.py).")


TASK_HELP = ("A task: a built-in name (see `ida tasks`), an installed one, path/to/file.py:NAME or "
             "package.module:NAME (a Task object there).")


def _no_flag_types(params: list[Any]) -> list[Any]:
    for p in params:
        if getattr(p, "is_flag", False):
            p.metavar = ""  # rich help prints the metavar in place of the type; empty prints nothing
    return params


def reflow(help_text: str | None) -> str | None:
    """A docstring's paragraphs as one line each, for the terminal to wrap (typer keeps the
    source's line breaks past the first paragraph); a paragraph with indented lines is kept as is."""
    if not help_text:
        return help_text
    paragraphs = inspect.cleandoc(help_text).split("\n\n")
    return "\n\n".join(_paragraph(p) for p in paragraphs)


def _paragraph(p: str) -> str:
    if any(line.startswith(" ") for line in p.splitlines()):
        return p
    line = " ".join(p.split("\n"))
    if line.startswith("Examples: "):  # one example a line: `Examples: a ; b` in the source
        return "Examples:\n" + "\n".join("  " + e.strip() for e in line[len("Examples: "):].split(" ; "))
    return line


class Command(TyperCommand):
    """Every `ida` command: a flag's help shows no value type (`--apply`, not `--apply <bool>`),
    and its help's paragraphs wrap to the terminal."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _no_flag_types(super().get_params(ctx))


class Group(TyperGroup):
    """`ida` and `ida db`: the same for their own flags (`--help`) and help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _no_flag_types(super().get_params(ctx))


def say(markup: str, **data: object) -> None:
    """Print a line styled with rich markup of our own, each `{name}` in it filled with
    `data[name]` shown as text (escaped), so nothing from data is ever read as markup.

        say("[bold]answer[/]: {answer}", answer=tree.answer)
    """
    console.print(markup.format(**{k: escape(str(v)) for k, v in data.items()}), markup=True)


def open_db(path: Path | None) -> ExperienceDB:
    """The experience database at `path`, else $IDA_DB, else .ida/experience.sqlite here."""
    return ExperienceDB(resolve_path(path))


def error_line(message: str) -> None:
    """One line on stderr, never wrapped (a log keeps it whole) and never obeyed by the terminal."""
    text = " ".join(printable(str(message)).split("\n"))
    print(f"error: {text}", file=sys.stderr, flush=True)

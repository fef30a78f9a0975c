"""What the command groups share: the console, the error line, default paths and common options.

The library writes files only where it is told; the `transcripts/...` and `.ida/...`
conventions live here, in the command line.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ida.experience import ExperienceDB, resolve_path
from ida.terminal import Console, printable

# One console for every command: data is shown as text (see ida.terminal), never highlighted.
console = Console(highlight=False)

RUNS_DIR = Path("transcripts/runs")
CORRECTIONS_DIR = Path("transcripts/corrections")
SESSIONS_DIR = Path("transcripts/sessions")
VASE_DIR = Path("transcripts/vase")
FIX_DIR = Path("transcripts/fix")

DbOpt = typer.Option(None, "--db", help="Experience database file (default: $IDA_DB, else .ida/experience.sqlite here).")
CorrectionsOpt = typer.Option(CORRECTIONS_DIR, help="Where corrected steps are saved as a transcript.")
SeedOpt = typer.Option(0, help="Seed of the generated question.")
DeviceOpt = typer.Option("cpu", help="cpu, cuda, cuda:1, ... (cuda needs a GPU build of torch).")
ThreadsOpt = typer.Option(1, min=0, max=1024, help="torch CPU threads; 0: torch's choice, one a core (slower by 10x "
                          "on a 2-core machine while another process holds a core: see benchmarks/distill.py).")


def open_db(path: Path | None) -> ExperienceDB:
    """The experience database at `path`, else $IDA_DB, else .ida/experience.sqlite here."""
    return ExperienceDB(resolve_path(path))


def error_line(message: str) -> None:
    """One line on stderr, never wrapped (a log keeps it whole) and never obeyed by the terminal."""
    text = " ".join(printable(str(message)).split("\n"))
    print(f"error: {text}", file=sys.stderr, flush=True)

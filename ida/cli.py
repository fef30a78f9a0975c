"""The `ida` command: parses and renders; the library does the work.

Any `IdaError` (a user mistake: bad path, malformed file, unknown task) becomes one line
on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ida import tasks
from ida.engine import run as run_tree
from ida.errors import IdaError
from ida.render import tree_view
from ida.transcript import load_transcript

console = Console()
errors = Console(stderr=True, highlight=False)

app = typer.Typer(
    help="Iterated amplification and distillation: meta-execution trees, the overseer backward pass, distillation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Sub-command groups and commands that live in their own modules register here.
from ida.cli_db import db_app  # noqa: E402
from ida.cli_overseer import register as _register_overseer  # noqa: E402
from ida.cli_vase import register as _register_vase  # noqa: E402

from ida.distill.cli import register as _register_distill  # noqa: E402  (torch loads only when a command runs)

_register_vase(app)
app.add_typer(db_app, name="db")
_register_overseer(app)
_register_distill(app)
from ida.cli_session import register as _register_session  # noqa: E402
_register_session(app)


@app.command("run")
def run_cmd(
    task: str = typer.Argument(..., help="Built-in task: multiply, sorted, length, permutation."),
    seed: int = typer.Option(0, help="Seed of the generated question."),
    size: Optional[int] = typer.Option(None, help="Size of the question (digits, list length, elements)."),
    budget: int = typer.Option(100_000, help="Most actions in the whole tree."),
    max_depth: int = typer.Option(1_000, help="Deepest subquestion allowed."),
    memo: bool = typer.Option(True, "--memo/--no-memo", help="Reuse the answer of an identical question."),
    save: Optional[Path] = typer.Option(None, help="Transcript path (default: transcripts/runs/TASK-sizeN-seedS.jsonl)."),
    depth: int = typer.Option(3, help="Levels of the tree to print."),
    db: Optional[Path] = typer.Option(
        None, "--db", help="Experience database for lookups (default: for a task that needs facts, a fresh "
        "temporary one holding them; else none)."),
    add_facts: bool = typer.Option(False, "--add-facts", help="Add the task's facts missing from --db first."),
) -> None:
    """Run a built-in task with its scripted decomposer H and check the answer."""
    from ida.cli_db import open_db

    t = tasks.get(task)
    inst = t.instance(seed, size)
    with tempfile.TemporaryDirectory() as scratch:
        database = open_db(db) if db else (open_db(Path(scratch) / "facts.sqlite") if t.facts else None)
        if database is not None and (add_facts or db is None):
            added = tasks.add_facts(t, database)
            console.print(f"[dim]database {'(temporary) ' if db is None else ''}{database.path}: "
                          f"{added} fact(s) added, revision {database.revision}[/]")
        tree = run_tree(inst.question, t.policy, db=database, budget=budget, max_depth=max_depth, memo=memo,
                        task=t.name)
        if database is not None:
            database.close()
    size = t.default_size if size is None else size
    path = tree.save(save or Path("transcripts/runs") / f"{t.name}-size{size}-seed{seed}.jsonl")
    console.print(tree_view(tree, depth=depth))
    ok = tree.answer == inst.answer
    console.print(f"[bold]answer[/]: {tree.answer}   expected: {inst.answer}   "
                  + ("[green]correct[/]" if ok else "[red]wrong[/]"))
    console.print(f"nodes: {len(tree)}   actions: {sum(len(n.steps) for n in tree.nodes)}   saved: {path}")


@app.command("show")
def show_cmd(
    transcript: Path = typer.Argument(..., help="A transcript (.jsonl) written by ida."),
    depth: int = typer.Option(4, help="Levels of the tree to show."),
    node: Optional[int] = typer.Option(None, help="Also show this node's workspace, step by step."),
) -> None:
    """Render a saved tree."""
    tree = load_transcript(transcript)
    console.print(f"[dim]run {tree.run_id}  task {tree.task or '-'}  nodes {len(tree)}[/]")
    console.print(tree_view(tree, depth=depth))
    if node is not None:
        if not 0 <= node < len(tree):
            raise IdaError(f"node {node} is not in {transcript} (it has {len(tree)} nodes)")
        n = tree.nodes[node]
        for i, s in enumerate(n.steps):
            console.rule(f"node #{node}, step {i}")
            console.print(n.workspace_at(i), markup=False, highlight=False)
            console.print(f"[bold]> {s.action}[/]", highlight=False)


class ExportFormat(str, Enum):
    graphml = "graphml"
    dot = "dot"
    json = "json"


@app.command("export")
def export_cmd(
    transcript: Path = typer.Argument(..., help="A transcript (.jsonl) written by ida."),
    format: ExportFormat = typer.Option(ExportFormat.graphml, "--format", "-f", help="graphml, dot or json."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file (default: beside the transcript)."),
) -> None:
    """Export a saved tree as a graph (GraphML, Graphviz DOT or node-link JSON)."""
    from ida.export import export

    tree = load_transcript(transcript)
    path = out or transcript.with_suffix(f".{format.value}")
    export(tree, format.value, path)
    console.print(f"wrote {path} ({len(tree)} nodes)")


def main(argv: list[str] | None = None) -> None:
    """Entry point. Typer handles usage errors (exit 2); a user mistake found later is one line, exit 2."""
    try:
        app(args=argv)
    except IdaError as e:
        errors.print(f"error: {e}", markup=False)
        sys.exit(2)

"""`ida run`, `ida show`, `ida export`: a task's tree, a saved tree, a tree as a graph."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from ida import tasks
from ida.cli.common import RUNS_DIR, TASK_HELP, SeedOpt, TaskSizeOpt, console, open_db, say
from ida.errors import IdaError
from ida.render import tree_view
from ida.transcript import load_transcript


def run_cmd(
    task: str = typer.Argument(..., help=TASK_HELP + " Built in: " + tasks.summary() + "."),
    seed: int = SeedOpt,
    question: str | None = typer.Option(None, "--question", "-q", help="A question of your own for the task's H, "
                                        "instead of a generated one."),
    task_size: int | None = TaskSizeOpt,
    budget: int = typer.Option(100_000, min=1, help="Most actions in the whole tree."),
    max_depth: int = typer.Option(1_000, min=0, help="Deepest subquestion allowed."),
    memo: bool = typer.Option(True, "--memo/--no-memo", help="Reuse the answer of an identical question."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Transcript path (default: "
                                    "transcripts/runs/TASK-sizeN-seedS.jsonl, or TASK-ID.jsonl for --question)."),
    depth: int = typer.Option(3, help="Levels of the tree to print."),
    db: Path | None = typer.Option(
        None, "--db", help="Experience database for lookups (default: for a task that needs facts, a fresh "
        "temporary one holding them; else none)."),
    add_facts: bool = typer.Option(False, "--add-facts", help="Add the task's facts missing from --db first."),
) -> None:
    """Run a task's decomposer H on a generated question (or --question) and check the answer.

    Examples: ida run multiply --seed 1 ; ida run examples/capitals.py:TASK --seed 2
    """
    t = tasks.get(task)
    database = open_db(db) if db else None
    try:
        r = tasks.run_task(t, seed, task_size, db=database, add_missing_facts=add_facts, budget=budget,
                           max_depth=max_depth, memo=memo, question=question)
    finally:
        if database is not None:
            database.close()
    if r.task.facts and (add_facts or db is None):
        where = f"{r.db_path}" if r.db_path else "(temporary)"
        say("[dim]database {where}: {n} fact(s) added[/]", where=where, n=r.facts_added)
    name = f"{r.task.name}-size{r.size}-seed{seed}" if question is None else f"{r.task.name}-{r.tree.run_id}"
    path = r.tree.save(out or RUNS_DIR / f"{name}.jsonl")
    console.print(tree_view(r.tree, depth=depth))
    verdict = "[dim](no ground truth)[/]" if r.right is None else "[green]correct[/]" if r.right else "[red]wrong[/]"
    say("[bold]answer[/]: {answer}   expected: {expected}   " + verdict, answer=r.tree.answer,
        expected=r.instance.answer or "-")
    console.print(f"nodes: {len(r.tree)}   actions: {sum(len(n.steps) for n in r.tree.nodes)}   saved: {path}")


def show_cmd(
    transcript: Path = typer.Argument(..., help="A transcript (.jsonl) written by ida."),
    depth: int = typer.Option(4, help="Levels of the tree to show."),
    node: int | None = typer.Option(None, help="Also show this node's workspace, step by step."),
) -> None:
    """Render a saved tree.

    Example: ida show transcripts/runs/multiply-size3-seed1.jsonl --node 0
    """
    tree = load_transcript(transcript)
    say("[dim]run {run}  task {task}  nodes {n}[/]", run=tree.run_id, task=tree.task or "-", n=len(tree))
    console.print(tree_view(tree, depth=depth))
    if node is not None:
        if not 0 <= node < len(tree):
            raise IdaError(f"node {node} is not in {transcript} (it has {len(tree)} nodes)")
        n = tree.nodes[node]
        for i, s in enumerate(n.steps):
            console.rule(f"node #{node}, step {i}")
            console.print(n.workspace_at(i))
            say("[bold]> {action}[/]", action=s.action)


class ExportFormat(str, Enum):
    graphml = "graphml"
    dot = "dot"
    json = "json"
    otel = "otel"
    hf = "hf"


SUFFIXES = {"otel": ".otel.json", "hf": ".hf.jsonl"}


def export_cmd(
    transcript: Path = typer.Argument(..., help="A transcript (.jsonl) written by ida."),
    format: ExportFormat = typer.Option(ExportFormat.graphml, "--format", "-f", help="graphml, dot, json, otel "
                                        "(OpenTelemetry/OpenInference spans, OTLP JSON) or hf (dataset rows, JSON Lines)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output file (default: beside the transcript)."),
    report: Path | None = typer.Option(None, "--report", help="otel: a backward report about this run, for the "
                                       "blame (default: the one saved beside the transcript, if any)."),
) -> None:
    """Export a saved tree: a graph (GraphML, DOT, node-link JSON), OpenTelemetry spans, or dataset rows.

    Example: ida export transcripts/runs/multiply-size3-seed1.jsonl --format otel -o spans.json
    """
    from ida.export import export
    from ida.overseer.saved import check_matches, load_report, report_path

    tree = load_transcript(transcript)
    path = out or transcript.with_suffix(SUFFIXES.get(format.value, f".{format.value}"))
    found = report or (report_path(transcript) if format.value == "otel" else None)
    saved = None
    if found is not None and (report is not None or found.is_file()):
        saved = load_report(found)
        check_matches(saved, tree, found)
    export(tree, format.value, path, saved)
    console.print(f"wrote {path} ({len(tree)} nodes)")

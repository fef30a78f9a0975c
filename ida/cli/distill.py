"""`ida distill`, `ida eval`, `ida iterate`: parse and render; `ida.distill` does the work.

Importing this module does not import torch (the package loads it on first use), so
registering these commands keeps every other `ida` command quick to start.
"""

from __future__ import annotations

import shlex
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.table import Table

from ida.cli.common import TASK_HELP, DeviceOpt, ThreadsOpt, console, say
from ida.errors import IdaError
from ida.terminal import printable

if TYPE_CHECKING:
    from ida.distill.train import TrainingInterrupted



class ModeOpt(str, Enum):
    policy = "policy"
    answer = "answer"
    blame = "blame"


class SizeOpt(str, Enum):
    tiny = "tiny"
    small = "small"
    base = "base"


ModelSizeOpt = typer.Option(SizeOpt.tiny, "--model-size", help="Model size: tiny (64 wide, 2 layers), small (128, 4), "
                            "base (256, 6).")


class TokenizerOpt(str, Enum):
    bpe = "bpe"
    bytes = "bytes"


def _threads(n: int) -> None:
    # One thread by default: torch's default (a thread a core) spins waiting for a core another process
    # holds, and a tiny model gains little from more (see benchmarks/distill.py, part readme).
    if n:
        import torch

        torch.set_num_threads(n)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def distill_cmd(
    transcripts: list[Path] | None = typer.Argument(None, help="Transcript files or folders (searched for *.jsonl)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: best/ and last/ checkpoints go here."),
    task: str | None = typer.Option(None, help="Instead of transcripts: run this task's H on generated questions and "
                                    "train on its trees (policy mode leaves out primitive questions). " + TASK_HELP),
    questions: int = typer.Option(300, min=1, help="With --task: how many generated questions (seeds 0 and up)."),
    task_size: int | None = typer.Option(None, "--task-size", help="With --task: size of the questions."),
    mode: ModeOpt = typer.Option(ModeOpt.policy, help="policy: (workspace, action) pairs; answer: (question, answer); "
                          "blame: (blame question, blame) from blame trees, for --overseer model:DIR."),
    model_size: SizeOpt = ModelSizeOpt,
    steps: int = typer.Option(2000, min=1, help="Most training steps."),
    batch_size: int = typer.Option(32, min=1, help="Pairs per step."),
    lr: float | None = typer.Option(None, help="Peak learning rate (default: by size)."),
    eval_every: int = typer.Option(100, min=1, help="Evaluate and checkpoint every N steps."),
    patience: int = typer.Option(5, min=1, help="Stop after N evaluations in a row without a rise of --min-delta."),
    min_delta: float = typer.Option(0.01, min=0.0, max=1.0, help="The rise in held-out exact match that counts "
                                    "as progress (0.01: one point)."),
    min_steps: int | None = typer.Option(None, min=0, help="Never stop for lack of progress before this step "
                                         "(default: a quarter of --steps)."),
    held_out: float = typer.Option(0.1, min=0.0, max=0.9, help="Fraction of questions held out."),
    seed: int = typer.Option(0, help="Seed of the split, the initial weights and the batch order."),
    device: str = DeviceOpt,
    threads: int = ThreadsOpt,
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/last if it is there."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start over in an OUT that holds an earlier run."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress on stderr: a bar on a "
                                  "terminal, else a line at each evaluation and every --log-every seconds."),
    log_every: float = typer.Option(30.0, min=0.0, help="Where stderr is not a terminal: a progress line at least "
                                    "this often (seconds)."),
    tokenizer: TokenizerOpt = typer.Option(TokenizerOpt.bpe, help="bpe: trained on the transcripts (digits and "
                                           "punctuation split, words whole); bytes: one token per byte."),
    prompt_weight: float = typer.Option(1.0, min=0.0, help="Weight of the loss on the prompt (0: the completion only)."),
) -> None:
    """Train a transformer on transcripts: imitate the decomposer (H'), or answer outright.

    Examples: ida distill transcripts/examples --mode policy -o runs/policy ;
    ida distill --task permutation --questions 300 -o runs/hprime
    """
    from ida.distill import load_pairs, split, train
    from ida.distill.train import RunExists, TrainingInterrupted, check_out

    _threads(threads)

    if bool(transcripts) == bool(task):
        raise IdaError("give transcripts or --task, one of the two")
    try:
        check_out(out, resume, overwrite)  # before any work: the pairs of a task take a while to make
    except RunExists as e:
        at = "" if e.step is None else f" (last checkpoint at step {e.step})"
        raise IdaError(f"{out}: holds an earlier run{at}; --resume continues it, --overwrite starts over, "
                       "or give another --out") from None
    if task:
        from ida.distill.data import scripted_policy_pairs, scripted_answer_pairs

        if mode is ModeOpt.blame:  # the task's blame scripts on its H's trees, each with a lie put in
            from ida.distill.data import blame_pairs
            from ida.overseer.faults import scripted_blame_trees
            from ida.tasks import get as get_task

            pairs = blame_pairs(scripted_blame_trees(get_task(task), questions, task_size))
        else:
            pairs = (scripted_policy_pairs(task, questions, task_size) if mode is ModeOpt.policy
                     else scripted_answer_pairs(task, questions, task_size))
    else:
        pairs = load_pairs(transcripts or [], mode.value)
    tr, ho = split(pairs, held_out, seed)
    if not tr:
        raise IdaError("every pair was held out; lower --held-out")
    console.print(f"{mode.value} pairs: {len(tr)} train, {len(ho)} held out "
                  f"({len({p.question for p in ho})} of {len({p.question for p in pairs})} questions)")
    try:
        r = train(tr, ho, out, size=model_size.value, steps=steps, batch_size=batch_size, lr=lr, eval_every=eval_every,
                  patience=patience, min_delta=min_delta, min_steps=min_steps, seed=seed, device=device,
                  resume=resume, overwrite=overwrite, progress=progress, log_seconds=log_every, mode=mode.value,
                  tokenizer=tokenizer.value, prompt_weight=prompt_weight)
    except TrainingInterrupted as e:
        _interrupted(out, e)
    except KeyboardInterrupt:  # a second Ctrl-C, or one before training began
        _interrupted(out, None)
    stops = {"steps": "ran all its steps", "perfect": "perfect score",
             "patience": f"no rise of {100 * min_delta:g} in {patience} evaluations (points of exact match)"}
    t = Table(show_header=False, box=None)
    t.add_row("stopped", f"at step {r.steps}: {stops[r.stopped]}"
              + (f" (resumed from {r.resumed_from})" if r.resumed_from else ""))
    t.add_row(f"best {r.eval_on.replace('heldout', 'held-out')} exact match",
              f"{_pct(r.best_exact_match)} at step {r.best_step}")
    if r.calibration is not None:
        t.add_row("held-out right, by confidence", ", ".join(f"{b}: {right} of {n}" for b, n, right in r.calibration.rows()))
    t.add_row("mean loss, last stretch", f"{r.final_loss:.4f}")
    t.add_row("speed", f"{r.steps_per_second:.1f} steps/s ({r.seconds:.0f} s in all)")
    t.add_row("best checkpoint", str(r.best_dir))
    for w in r.warnings:
        t.add_row("note", w)
    console.print(t)


def _interrupted(out: Path, e: TrainingInterrupted | None) -> NoReturn:
    """Ctrl-C: where the run is saved and the command that continues it, on stderr; exit status 130."""
    from ida.distill.train import earlier_run

    step = e.step if e is not None else earlier_run(out)
    if e is not None:
        best = "no evaluation yet" if e.best_step is None else (
            f"best so far: {e.best_dir} ({_pct(e.best_exact_match)} at step {e.best_step})")
        lines = [f"interrupted at step {e.step}: saved {e.last_dir}; {best}"]
    else:  # a second Ctrl-C stops at once: last/ holds what the last evaluation saved, if any
        lines = [f"interrupted: nothing saved in {out}" if step is None
                 else f"interrupted: {out / 'last'} holds step {step}, the last evaluation"]
    if step is not None:
        argv = [a for a in sys.argv[1:] if a != "--overwrite"]
        again = (shlex.join(["ida", *argv, *([] if "--resume" in argv else ["--resume"])])
                 if Path(sys.argv[0]).name in ("ida", "__main__.py") and argv[:1] == ["distill"]
                 else "the same command with --resume")
        lines.append(f"to continue: {again}")
    for line in lines:
        print(printable(line), file=sys.stderr, flush=True)
    raise typer.Exit(130)


def eval_cmd(
    checkpoint: Path = typer.Argument(..., help="A checkpoint folder, or a run folder (its best checkpoint)."),
    what: list[str] | None = typer.Argument(None, help="A task to run the model on (e.g. permutation, or "
                                               "FILE.py:NAME), and/or transcripts to score exact match on."),
    task: str | None = typer.Option(None, help="Run the model on generated questions of this task (" + TASK_HELP + ")"),
    questions: int = typer.Option(50, "--n", "--questions", min=1, help="How many task questions."),
    seed: int = typer.Option(1000, help="Seed of the first task question (training used 0 and up)."),
    task_size: int | None = typer.Option(None, help="Size of the task questions."),
    threshold: float | None = typer.Option(None, help="Defer to the task's H below this confidence."),
    budget: int = typer.Option(500, min=1, help="Most actions per task question."),
    device: str = DeviceOpt,
    threads: int = ThreadsOpt,
) -> None:
    """Score a checkpoint: exact match on transcripts, or right answers on a task.

    Examples: ida eval runs/hprime permutation --n 100 ; ida eval runs/policy transcripts/examples
    """
    from ida.distill import DistilledPolicy, exact_match, load_checkpoint, load_pairs

    from ida.tasks import get as get_task
    from ida.tasks.load import names_task

    _threads(threads)
    named = [w for w in what or [] if names_task(w)]
    transcripts = [Path(w) for w in what or [] if not names_task(w)]
    if len(named) > 1 or (named and task):
        raise IdaError("name one task")
    task = task or (named[0] if named else None)
    if not transcripts and task is None:
        raise IdaError("give a task (e.g. `ida eval MODEL permutation`) or transcripts to score")
    the_task = get_task(task) if task is not None else None  # a bad task fails before the model loads
    model, meta = load_checkpoint(checkpoint, device)
    say("[dim]{checkpoint}: {size} {mode} model, step {step}, data {data}[/]", checkpoint=checkpoint, size=meta.size,
        mode=meta.mode, step=meta.step, data=meta.data_hash)
    if transcripts:
        pairs = load_pairs(transcripts, meta.mode)
        console.print(f"exact match on {len(pairs)} {meta.mode} pairs: {_pct(exact_match(model, pairs))}")
    if the_task is not None:
        from ida.distill.evaluate import evaluate_task

        s = evaluate_task(DistilledPolicy(model, meta.mode), the_task, questions, seed, task_size, threshold, budget)
        t = Table(title=f"{s.task}: {s.questions} questions")
        for col in ("right", "failed", "bad outputs", "deferred", "actions / question", "calls to H"):
            t.add_column(col, justify="right")
        t.add_row(f"{round(s.accuracy * s.questions)} ({_pct(s.accuracy)})", f"{s.failures} of {s.questions}",
                  str(s.failed_outputs), "-" if s.defer_rate is None else _pct(s.defer_rate),
                  f"{s.actions_per_question:.1f}", "-" if s.h_calls is None else str(s.h_calls))
        legend = [
            "right: questions whose root answer is the task's answer",
            "failed: questions where the model wrote something that was not a command, or where H could not "
            "finish the tree on the model's output" + (f" ({s.script_errors} of them)" if s.script_errors else ""),
            "bad outputs: the model's outputs that were not a command, over every step of every question",
            "deferred: the share of the model's steps handed to H for want of confidence (--threshold)",
            "actions / question: engine steps per question, the model's and H's",
            "calls to H: primitive subquestions the task's H answered, over all the questions",
        ]
        if s.unseen_tokens:
            legend.append(f"{s.unseen_tokens} prompt tokens were never seen in training (read as bytes)")
        console.print(t)
        for line in legend:
            console.print(f"  {line}", style="dim", soft_wrap=True)
        d = Table(title=f"{s.task} by {s.difficulty_name}")
        cols = (s.difficulty_name, "questions", "right") + (("trivial answer",) if s.baseline is not None else ())
        for col in cols:
            d.add_column(col, justify="right")
        for row in s.by_difficulty:
            d.add_row(str(row.difficulty), str(row.questions), f"{row.right} ({_pct(row.accuracy)})",
                      *(() if s.baseline is None else (_pct(row.baseline),)))
        console.print(d)
        if s.baseline is not None:  # permutation: answering x itself, the floor to beat
            console.print(f"trivial answer baseline: {_pct(s.baseline)} right")


def iterate_cmd(
    task: str = typer.Argument(..., help=TASK_HELP + " It needs a question generator and a ground truth."),
    rounds: int = typer.Option(10, min=1, help="Rounds: each refreshes the amplified targets, then trains."),
    steps: int = typer.Option(200, min=1, help="Training steps per round (the same for both arms)."),
    out: Path = typer.Option(Path("runs/iterate"), "--out", "-o", help="Folder for both arms' models and curves.png."),
    questions: int = typer.Option(2000, min=2, help="Generated questions (distinct ones are kept), split train/held-out."),
    task_size: int | None = typer.Option(None, "--task-size", help="Size of the task questions (permutation: elements)."),
    model_size: SizeOpt = ModelSizeOpt,
    batch_size: int = typer.Option(64, min=1, help="Pairs per step."),
    held_out: float = typer.Option(0.1, min=0.0, max=0.9, help="Fraction of questions held out; 0 trains on every question and scores the training questions (the paper's protocol)."),
    seed: int = typer.Option(0, help="Seed."),
    device: str = DeviceOpt,
    threads: int = ThreadsOpt,
    supervised: bool = typer.Option(True, "--supervised/--no-supervised", help="Also train an arm on the ground truth."),
    min_confidence: float = typer.Option(0.7, min=0.0, max=1.0, help="A subanswer the model is less sure of makes "
                                         "no target that round (the model defers)."),
    primitive_targets: bool = typer.Option(False, "--primitive-targets", help="Also train on H's answers to the "
                                           "primitive subquestions of the amplified trees (one-hop lookups first)."),
    learn_decomposer: bool = typer.Option(False, "--learn-decomposer", help="The paper's full loop: also train H' on "
                                          "H's decompositions; H' decomposes the roots it is sure of (saved as OUT/decomposer)."),
) -> None:
    """The amplification loop: Amplify(H, model)'s answers train the model; a supervised arm for comparison.

    Example: ida iterate permutation --task-size 4 --rounds 10 --steps 200
    """
    from ida.distill.iterate import iterate

    _threads(threads)
    scored = "held-out" if held_out > 0 else "training questions"
    t = Table(title=f"iterate {task}")
    cols = ["round", "steps", "targets right", "model defers", *(["H' defers"] if learn_decomposer else []),
            f"IDA {scored}", f"supervised {scored}", "calls to H", "labels", "seconds"]
    for col in cols:
        t.add_column(col, justify="right")

    def show(row) -> None:  # a line per round as it finishes: rounds take a while
        hp_line = f", H' left {_pct(row.decomposer_defer_rate)} of the roots to H" if learn_decomposer else ""
        console.print(f"round {row.round} ({row.steps} steps): targets {_pct(row.targets_correct)} right, model defers on "
                      f"{_pct(row.defer_rate)}{hp_line}; {scored}: IDA {_pct(row.ida_score)}, "
                      f"supervised {_pct(row.supervised_score)}")
        hp = [_pct(row.decomposer_defer_rate)] if learn_decomposer else []
        cells = [str(row.round), str(row.steps), _pct(row.targets_correct), _pct(row.defer_rate), *hp,
                 _pct(row.ida_score), _pct(row.supervised_score), str(row.h_calls), str(row.labels), f"{row.seconds:.0f}"]
        t.add_row(*cells)
        page_rows.append(cells)

    page_rows: list[list[str]] = []

    res = iterate(task, out, rounds=rounds, steps=steps, questions=questions, task_size=task_size, size=model_size.value,
                  batch_size=batch_size, held_out=held_out, seed=seed, device=device, supervised=supervised,
                  min_confidence=min_confidence, learn_decomposer=learn_decomposer, primitive_targets=primitive_targets,
                  on_row=show)
    t.caption = f"{res.train_questions} training questions, {res.heldout_questions} held out; models in {res.out_dir}"
    console.print(t)
    d = Table(title=f"by {res.difficulty_name} ({scored})")
    for col in (res.difficulty_name, "questions", "IDA", "supervised", "trivial answer"):
        d.add_column(col, justify="right")
    for row in res.by_difficulty:
        d.add_row(str(row.difficulty), str(row.questions), _pct(row.ida), _pct(row.supervised), _pct(row.baseline))
    console.print(d)
    console.print(f"curves: {res.plot} (accuracy of each arm, and the share of subquestions the model defers)")
    from ida.view.page import write_curves_page

    rows = res.rows
    page = write_curves_page(
        out / "view.html", f"ida iterate {task}: accuracy ({scored}) and deferral by round", [r.steps for r in rows],
        {"IDA": [r.ida_score for r in rows],
         **({"supervised": [r.supervised_score or 0.0 for r in rows]} if supervised else {}),
         "IDA defers": [r.defer_rate for r in rows],
         **({"H' defers": [r.decomposer_defer_rate or 0.0 for r in rows]} if learn_decomposer else {})},
        cols, page_rows)
    console.print(f"page: {page}")

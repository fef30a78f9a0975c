"""`--overseer script|ask|model:DIR[@THRESHOLD]`: blame as a question (`ida.overseer.policy_overseer`).
Parses the kind and renders what the blamers did; the library does the work."""

from __future__ import annotations

from ida.cli.common import console
from ida.errors import IdaError
from ida.overseer.policy_overseer import Deferring, PolicyOverseer

KINDS_HELP = ("script (the task's blame scripts, as questions), ask (each blame a question at an `ida ask` "
              "prompt), model:DIR (a distilled blame model), model:DIR@0.9 (the model where at least 0.9 sure, "
              "you otherwise)")


def is_blame_kind(kind: str) -> bool:
    return kind in ("script", "ask") or kind.startswith("model:")


def blame_overseer(kind: str, task_name: str | None) -> PolicyOverseer:
    if kind == "script":
        from ida.overseer.scripts import NAMES, for_task

        script = for_task(task_name) if task_name else None
        if script is None:
            raise IdaError(f"no blame scripts for task {task_name!r}; they exist for {', '.join(NAMES)}")
        return PolicyOverseer(script)
    if kind == "ask":
        return PolicyOverseer(_asker())
    where, threshold = _model_spec(kind.removeprefix("model:"))
    model = _blame_model(where)
    return PolicyOverseer(model if threshold is None else Deferring(model, _asker(), threshold))


def _asker():
    from ida.overseer.ask import AskRunner
    from ida.session import SessionStore

    console.print("each node's blame is a question: unlock what you need, then reply with a blame "
                  "(ok | target STEP ANSWER | add KEY: SENTENCE | edit eID SENTENCE | rm eID | correct STEP ACTION "
                  "| none WHY; join with '; '; after it, alternatives for --guess: maybe CLAUSE)", style="dim")
    return AskRunner(SessionStore(), console=console)


def _model_spec(spec: str) -> tuple[str, float | None]:
    """`DIR` or `DIR@THRESHOLD`."""
    where, at, tail = spec.rpartition("@")
    if not at:
        return spec, None
    try:
        threshold = float(tail)
    except ValueError:
        raise IdaError(f"model:{spec}: the threshold after @ must be a number, e.g. model:{where}@0.9") from None
    if not 0.0 <= threshold <= 1.0:
        raise IdaError(f"model:{spec}: the threshold must be between 0 and 1")
    return where, threshold


def _blame_model(where: str):
    if not where:
        raise IdaError("model: needs a checkpoint folder, e.g. --overseer model:runs/blame")
    from ida.distill import DistilledPolicy, read_meta

    meta = read_meta(where)
    if meta.mode != "blame":
        raise IdaError(f"{where}: a {meta.mode} model; the blame overseer needs one trained with --mode blame")
    return DistilledPolicy(where)


def blame_summary(overseer: object) -> str | None:
    """What the blamers did, for the line after the report; None for another kind of overseer."""
    if not isinstance(overseer, PolicyOverseer):
        return None
    parts = [f"{overseer.trees} blame trees ({overseer.runner.name})"]
    if overseer.malformed:
        parts.append(f"{overseer.malformed} gave no usable blame")
    runner = overseer.runner
    if isinstance(runner, Deferring):
        parts.append(f"the model blamed {runner.acted}, deferred {runner.deferred} to you "
                     f"(defer rate {100 * runner.rate:.0f}%)")
        runner = runner.fallback
    shown = getattr(runner, "shown", None)
    if shown is not None:
        parts.append(f"workspaces shown to you: {shown}, answered by automation: {getattr(runner, 'automated', 0)}")
    return "; ".join(parts)

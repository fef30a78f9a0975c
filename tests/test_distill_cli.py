"""`ida distill` / `ida eval` / `ida iterate`, amplification and task evaluation, at toy sizes."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from typer.testing import CliRunner  # noqa: E402

import ida  # noqa: E402
from ida.distill import CheckpointError, DatasetError, DistilledPolicy  # noqa: E402
from ida.cli import app as ida_app  # noqa: E402
from ida.distill.evaluate import evaluate_task  # noqa: E402
from ida.distill.iterate import PENDING, UNSURE, Amplify, amplified_answers, iterate, task_questions  # noqa: E402
from ida.errors import IdaError  # noqa: E402
from ida.tasks import get as get_task  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def app():
    return ida_app


@pytest.fixture(scope="module")
def perm_transcripts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("perm")
    task = get_task("permutation")
    for i in range(8):
        ida.run(task.instance(i).question, task.policy, task=task.name).save(folder / "runs" / f"q{i}.jsonl")
    return folder


def invoke(app, *args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=True)


def test_distill_then_eval(app, perm_transcripts, tmp_path):
    out = tmp_path / "run"
    r = invoke(app, "distill", perm_transcripts, "--out", out, "--steps", 20, "--eval-every", 10, "--no-progress",
               "--threads", 1)
    assert r.exit_code == 0, r.output
    assert "policy pairs:" in r.output and "best checkpoint" in r.output and (out / "best" / "config.json").exists()
    r = invoke(app, "eval", out, perm_transcripts)
    assert r.exit_code == 0 and "exact match on" in r.output, r.output
    r = invoke(app, "eval", out, "--task", "permutation", "--questions", 2, "--budget", 30)
    assert r.exit_code == 0 and "permutation: 2 questions" in r.output, r.output
    r = invoke(app, "eval", out, "permutation", "--n", 3, "--budget", 30)  # the documented form: MODEL TASK --n N
    assert r.exit_code == 0 and "permutation: 3 questions" in r.output, r.output
    r = invoke(app, "eval", out, "--task", "permutation", "--threshold", 0.5)
    assert isinstance(r.exception, IdaError) and "answer model" in str(r.exception)


def test_user_mistakes_are_one_line_ida_errors(app, tmp_path):
    r = invoke(app, "distill", tmp_path / "nope", "--out", tmp_path / "o")
    assert isinstance(r.exception, DatasetError) and "nope" in str(r.exception)
    r = invoke(app, "eval", tmp_path / "nope", "--task", "permutation")
    assert isinstance(r.exception, CheckpointError)
    r = invoke(app, "iterate", "no-such-task", "--out", tmp_path / "o")
    assert isinstance(r.exception, IdaError) and "unknown task" in str(r.exception)


def test_amplify_has_h_decompose_the_root_and_answer_primitives():
    task = get_task("permutation")
    q = "what is p^4(0) for p = [0->1 1->2 2->0]?"
    amp = Amplify(task, {"what is p^2(0) for p = [0->1 1->2 2->0]?": "2"})
    tree = ida.run(q, amp)
    root = tree.root_node
    assert root.steps[0].action == "ask what is p^2(0) for p = $1?" and root.steps[0].result == "2"
    # p^2(2) is not answered yet: noted as missing, a failure for now
    assert amp.missing == {"what is p^2(2) for p = [0->1 1->2 2->0]?"}
    assert tree.nodes[2].answer_text == PENDING and ida.failed(tree.answer)
    # a primitive question is H's: it reads the facts, no model involved
    assert ida.run("what is p^3(1) for p = [0->1 1->2 2->0]?", Amplify(task, {})).answer == "1"


def test_amplified_answers_come_in_waves_and_count_h():
    class Oracle:  # a stand-in model that knows the truth: amplification must then be exact
        cfg = None

        def generate_batch(self, prompts, max_new):
            task = get_task("permutation")
            return [SimpleNamespace(text=task.solve(p), finished=True, confidence=1.0) for p in prompts]

    task = get_task("permutation")
    questions = task_questions(task, 20, 4, 0)
    amp = amplified_answers(task, Oracle(), questions, max_new=4)
    assert amp.answers == {q: task.solve(q) for q in questions}
    assert len(questions) <= amp.h_calls <= 2 * len(questions)  # one decomposition each, plus the primitives
    assert amp.h_roots == set(questions) and amp.decomposer_defer_rate() == 1.0  # no H': H decomposed every root
    assert all(a == task.solve(q) for q, a in amp.asked.items()) and amp.asked


def test_an_unsure_model_defers_and_makes_no_target():
    class Unsure:  # right, but never confident
        def generate_batch(self, prompts, max_new):
            task = get_task("permutation")
            return [SimpleNamespace(text=task.solve(p), finished=True, confidence=0.3) for p in prompts]

    task = get_task("permutation")
    easy = "what is p^3(0) for p = [0->1 1->2 2->0]?"  # subquestions are primitives: H alone
    hard = "what is p^4(0) for p = [0->1 1->2 2->0]?"  # needs the model's p^2
    amp = amplified_answers(task, Unsure(), [easy, hard], max_new=4, min_confidence=0.5)
    assert amp.answers[easy] == "0" and ida.failed(amp.answers[hard])
    assert set(amp.asked.values()) == {UNSURE}  # every subquestion put to the model was deferred
    amp = amplified_answers(task, Unsure(), [easy, hard], max_new=4, min_confidence=0.0)
    assert amp.answers[hard] == task.solve(hard)


class Scripted:
    """A stand-in H' that writes what H would (read off a run of H), with a fixed confidence."""

    def __init__(self, confidence: float, garble: bool = False, later: float | None = None):
        self.confidence, self.garble, self.prompts = confidence, garble, []
        self.later = confidence if later is None else later  # the confidence of the steps after the first
        task = get_task("permutation")
        self.table = {}
        for q in task_questions(task, 40, 4, 0):
            for node in ida.run(q, task.policy).nodes:
                for i, st in enumerate(node.steps):
                    self.table[node.workspace_at(i)] = st.action

    def generate_batch(self, prompts, max_new=None):
        self.prompts.extend(prompts)
        return [SimpleNamespace(text="ask [unclosed" if self.garble else self.table[p], finished=True,
                                confidence=self.later if "\n> " in p else self.confidence) for p in prompts]


def test_a_learned_decomposer_takes_the_roots_it_is_sure_of_and_h_the_rest():
    from ida.distill.decomposer import LearnedDecomposer

    class Oracle:
        def generate_batch(self, prompts, max_new):
            return [SimpleNamespace(text=get_task("permutation").solve(p), finished=True, confidence=1.0) for p in prompts]

    task = get_task("permutation")
    questions = task_questions(task, 40, 4, 0)
    sure = LearnedDecomposer(Scripted(0.95), task, min_confidence=0.7)
    amp = amplified_answers(task, Oracle(), questions, max_new=4, min_confidence=0.7, decomposer=sure)
    assert amp.answers == {q: task.solve(q) for q in questions}  # H' decomposes as H would: all right
    assert amp.h_roots == set() and amp.decomposer_defer_rate() == 0.0
    assert sure.model.prompts and all(p.startswith("question: ") for p in sure.model.prompts)
    unsure = LearnedDecomposer(Scripted(0.5), task, min_confidence=0.7)
    amp = amplified_answers(task, Oracle(), questions, max_new=4, min_confidence=0.7, decomposer=unsure)
    assert amp.h_roots == set(questions) and amp.answers == {q: task.solve(q) for q in questions}
    assert len(amp.h_pairs(task.family)) >= 2 * len(questions)  # H's decompositions: what H' will imitate
    halfway = LearnedDecomposer(Scripted(0.95, later=0.5), task, min_confidence=0.7)
    amp = amplified_answers(task, Oracle(), questions, max_new=4, min_confidence=0.7, decomposer=halfway)
    # sure of the first step, unsure of the next: every question is handed back and H does it over, rightly
    assert amp.h_roots == set(questions) == halfway.handed_back
    assert amp.answers == {q: task.solve(q) for q in questions}
    garbled = LearnedDecomposer(Scripted(0.95, garble=True), task, min_confidence=0.7)
    amp = amplified_answers(task, Oracle(), questions[:5], max_new=4, decomposer=garbled)
    assert all(ida.failed(a) for a in amp.answers.values())  # a bad command is a failure, never a crash


def test_task_questions_are_distinct():
    qs = task_questions(get_task("permutation"), 3000, 4, 0)
    assert len(qs) == len(set(qs)) and len(qs) <= 24 * 4 * 6  # setting A has 576 questions in all


def test_iterate_rounds_compare_with_supervised(tmp_path):
    res = iterate("permutation", tmp_path, rounds=2, questions=60, steps=25)
    assert [r.round for r in res.rows] == [1, 2] and [r.steps for r in res.rows] == [25, 50]
    first = res.rows[0]
    assert first.targets > 0 and first.h_calls >= res.train_questions and first.labels == res.train_questions
    # round 1: questions whose subquestions are primitives (k = 2, 3) get right targets without any model
    assert first.targets_correct > 0.2
    assert all(0 <= r.ida_exact_match <= 1 and r.supervised_exact_match is not None for r in res.rows)
    # each arm's own time is measured apart; together they fit in the run's wall time
    assert all(r.ida_seconds > 0 and r.supervised_seconds > 0 and r.ida_seconds + r.supervised_seconds <= r.seconds
               for r in res.rows)
    assert (tmp_path / "ida" / "config.json").exists() and (tmp_path / "supervised" / "config.json").exists()
    assert res.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_iterate_with_nothing_held_out_scores_the_training_questions(app, tmp_path):
    """held_out=0, the paper's protocol: every question trains, and the curves score the training questions."""
    r = invoke(app, "iterate", "permutation", "--rounds", 1, "--steps", 5, "--questions", 30, "--held-out", 0,
               "--out", tmp_path / "cli")
    flat = " ".join(r.output.split())
    assert r.exit_code == 0 and "training questions: IDA" in flat, r.output
    assert "by exponent (training questions)" in flat and "trivial answer" in flat
    page = (tmp_path / "cli" / "view.html").read_text()  # the curves drawn in the page, as inline SVG
    curves = json.loads(re.search(r'id="ida-data">(.*?)</script>', page, re.S).group(1))["curves"]
    assert curves["svg"].count("<polyline") == 3 and "IDA defers" in curves["svg"] and "model defers" in curves["columns"]
    res = iterate("permutation", tmp_path / "lib", rounds=1, questions=30, steps=5, held_out=0.0)
    assert res.heldout_questions == 0 and res.train_questions == len(task_questions(get_task("permutation"), 30, None, 0))
    row = res.rows[0]
    assert row.ida_exact_match is None and row.ida_score == row.ida_train_exact_match
    assert row.supervised_exact_match is None and row.supervised_score == row.supervised_train_exact_match
    with pytest.raises(IdaError, match="held_out"):
        iterate("permutation", tmp_path / "bad", rounds=1, questions=30, steps=5, held_out=1.0)


def test_evaluate_answer_model_directly_and_with_deferral(tmp_path):
    torch.manual_seed(0)
    from ida.distill import Transformer, model_config, train_codec

    model = Transformer(model_config("tiny"), train_codec(["what is p^3(1) for p = [0->1 1->0]?"]))
    policy = DistilledPolicy(model, mode="answer", max_new=4)
    direct = evaluate_task(policy, "permutation", questions=4)
    assert direct.questions == 4 and direct.actions_per_question == 1.0 and direct.defer_rate is None
    # Threshold above any confidence: H does all the work, and is right.
    deferred = evaluate_task(policy, "permutation", questions=4, threshold=1.01)
    assert deferred.accuracy == 1.0 and deferred.defer_rate == 1.0


def test_wired_into_the_ida_command():
    names = {c.name for c in ida_app.registered_commands}
    assert {"distill", "eval", "iterate"} <= names
    r = subprocess.run([sys.executable, "-m", "ida", "distill", str(ROOT / "no-such-folder"), "--out", "x"],
                       capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""}, cwd=ROOT)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no-such-folder" in r.stderr


def test_split_exact_holds_out_whole_families_in_exact_number():
    from ida.distill.data import Pair, split_exact

    task = get_task("permutation")
    qs = task_questions(task, 3000, 4, 0)
    train, held = split_exact([Pair(q, "", task.family(q)) for q in qs], 0.2, 0)
    held_families = {p.question for p in held}
    assert len(held_families) == 5  # 20% of the 24 permutations, rounded
    assert not held_families & {p.question for p in train}


def test_distill_a_decomposer_straight_from_a_tasks_h(app, tmp_path):
    r = invoke(app, "distill", "--task", "length", "--questions", 20, "--steps", 30, "--eval-every", 15,
               "--out", tmp_path / "hp", "--no-progress", "--threads", 1)
    assert r.exit_code == 0 and "policy pairs:" in r.output, r.output
    r = invoke(app, "eval", tmp_path / "hp", "length", "--n", 3, "--threads", 1)
    assert r.exit_code == 0 and "length by items" in " ".join(r.output.split()), r.output
    r = invoke(app, "distill", "--out", tmp_path / "none")
    assert r.exit_code != 0 and "give transcripts or --task" in str(r.exception or r.output)


def test_iterate_learn_decomposer_through_the_command(app, tmp_path):
    r = invoke(app, "iterate", "permutation", "--rounds", 2, "--steps", 5, "--questions", 30, "--held-out", 0,
               "--learn-decomposer", "--primitive-targets", "--no-supervised", "--out", tmp_path, "--threads", 1)
    flat = " ".join(r.output.split())
    assert r.exit_code == 0 and "H' left 100.0% of the roots to H" in flat and "model defers" in flat, r.output
    assert (tmp_path / "decomposer" / "tokenizer.json").exists()
    r = invoke(app, "eval", tmp_path / "decomposer", "permutation", "--n", 2, "--threads", 1)
    assert r.exit_code == 0 and "permutation by exponent" in " ".join(r.output.split()), r.output


def test_distill_refuses_an_earlier_run_without_resume_or_overwrite(perm_transcripts, tmp_path, cli):
    out = tmp_path / "run"
    args = ("distill", str(perm_transcripts), "--out", str(out), "--steps", "4", "--eval-every", "2")
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    # stderr is a pipe here: progress comes as plain lines, one at each evaluation at least
    assert re.search(r"^step 4/4  loss [0-9.]+  held-out [0-9.]+% \(best .*elapsed 0:\d\d$", first.stderr, re.M)
    again = invoke(ida_app, *args)
    assert isinstance(again.exception, IdaError), again.output
    assert ("holds an earlier run (last checkpoint at step 4); --resume continues it, --overwrite starts over"
            in str(again.exception))
    assert read_step(out) == 4
    done = invoke(ida_app, *args, "--resume")
    assert done.exit_code == 0 and read_step(out) == 4, done.output  # that run was done: nothing to add
    over = invoke(ida_app, *args[:-3], "2", "--eval-every", "2", "--overwrite")
    assert over.exit_code == 0 and read_step(out) == 2, over.output


def read_step(out: Path) -> int:
    return json.loads((out / "last" / "config.json").read_text())["step"]


def test_ctrl_c_saves_the_run_and_says_how_to_resume(perm_transcripts, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "ida", "distill", str(perm_transcripts), "--out", str(out), "--steps", "100000",
           "--eval-every", "3", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / "last" / "config.json").exists():  # training has begun: the handler is in place
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    said = re.search(r"^interrupted at step (\d+): saved (\S+); best so far: \S+ \([0-9.]+% at step \d+\)$", err, re.M)
    assert said and Path(said.group(2)) == out / "last", err
    step = int(said.group(1))
    assert read_step(out) == step and "Traceback" not in err
    again = re.search(r"^to continue: (.*)$", err, re.M).group(1)
    assert again.endswith("--steps 100000 --eval-every 3 --no-progress --resume") and str(out) in again
    # The saved step is where --resume picks up (a step between two evaluations included).
    r = CliRunner().invoke(ida_app, ["distill", str(perm_transcripts), "--out", str(out), "--steps", str(step + 2),
                                     "--eval-every", "3", "--resume", "--no-progress"])
    assert r.exit_code == 0 and f"(resumed from {step})" in r.output and read_step(out) == step + 2, r.output


def test_eval_counts_failed_questions_apart_from_bad_outputs(perm_transcripts, tmp_path):
    from ida.distill import policy_pairs, train

    # 40 steps: the model has begun to decompose, and writes nonsense in places, several times a question.
    r = train(policy_pairs([perm_transcripts]), [], tmp_path / "m", steps=40, eval_every=40, progress=False)
    s = evaluate_task(DistilledPolicy(r.best_dir), "permutation", questions=3, budget=30)
    assert s.failed_outputs > s.questions >= s.failures >= 1, s  # the old "model failures" was 8 of 3 questions
    out = invoke(ida_app, "eval", r.best_dir, "permutation", "--n", 3, "--budget", 30)
    flat = " ".join(out.output.split())
    assert out.exit_code == 0, out.output
    assert f"{s.failures} of 3" in flat and "bad outputs" in flat and "failed: questions where the model wrote" in flat
    assert "right: questions whose root answer is the task's answer" in flat

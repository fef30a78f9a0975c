"""`ida backward T --overseer ask` in a real pseudo-terminal: each node's blame is a question at the prompt.

The person reads each workspace panel, unlocks what a length node's blame needs and replies
with a blame; nothing is scripted by answer. Automation answers a context seen before, so a
second pass over the same tree asks nothing; a person who leaves resumes where they stopped.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ida.overseer import RuleOverseer, backward
from ida.overseer.faults import faulty_run
from ida.tasks import get

sys.path.insert(0, str(Path(__file__).parent))
from test_session_terminal import Screen, spawn  # noqa: E402

TOP = re.compile(r"blame: node (\$\d+) answered (\$\d+) should answer (\$\d+); saw (\$\d+)")


def length_blamer(parts) -> str:
    """A person blaming a node of a length tree: length = 1 + the tail's length."""
    _, answer, target, outline = TOP.fullmatch(parts.question).groups()
    if answer == target:
        return "reply ok"
    seen = dict(u.split(": ", 1) for u in parts.unlocked)
    for p in (outline, target):
        if p not in seen:
            return f"unlock {p}"
    steps = {int(n): rest for n, rest in (s.split(": ", 1) for s in seen[outline].split("; "))}
    reply = next(n for n, rest in steps.items() if rest.startswith("reply"))
    ask = next((n for n, rest in steps.items() if rest.startswith("ask")), None)
    t = int(seen[target])
    if ask is None:
        return f"reply correct {reply} reply 0" if t != 0 else "reply none nil has length 0"
    sub = steps[ask].split()[-1]
    if sub not in seen:
        return f"unlock {sub}"
    return f"reply target {ask} {t - 1}" if int(seen[sub]) + 1 != t else f"reply correct {reply} reply {t}"


def lying_length_tree(tmp_path):
    f = faulty_run(get("length"), 4, 4)
    path = f.tree.save(tmp_path / "l.jsonl")
    rules = backward(f.tree, f.truth, RuleOverseer(get("length").rules))
    return path, f.truth, rules


def report_of(tmp_path):
    saved = json.loads((tmp_path / "l.report.json").read_text())
    return saved, [(v["node"], v["targets"], v["correction"]) for v in saved["visits"]]


def rules_of(report):
    return [(v.node, {str(k): t for k, t in v.blame.targets.items()},
             None if v.blame.correction is None else {"node": v.node, "step": v.blame.correction.step,
                                                      "action": v.blame.correction.action})
            for v in report.visits]


def test_ask_puts_each_blame_at_the_prompt_and_never_asks_a_context_twice(tmp_path):
    path, truth, rules = lying_length_tree(tmp_path)
    s = Screen(spawn(tmp_path, "backward", path.name, "--target", truth, "--overseer", "ask")).play(length_blamer)
    s.finish()
    assert s.child.exitstatus == 0, s.tail
    saved, blames = report_of(tmp_path)
    assert blames == rules_of(rules) and len(rules.blamed) == 1  # the person found the liar, as the rules do
    assert saved["blame_trees"] == len(saved["visits"]) and saved["overseer"] == "policy:ask"
    assert all((tmp_path / v["blame_tree"]).exists() for v in saved["visits"])
    assert s.typed.count("unlock $4") == 1  # the outline, once: automation opened it for the later nodes
    assert f"workspaces shown to you: {s.shown}" in s.tail

    again = Screen(spawn(tmp_path, "backward", path.name, "--target", truth, "--overseer", "ask")).play(length_blamer)
    again.finish()
    assert again.shown == 0 and again.typed == [] and "workspaces shown to you: 0" in again.tail
    assert report_of(tmp_path)[1] == blames


def test_a_person_who_leaves_resumes_the_blame_where_they_stopped(tmp_path):
    whole_dir, left_dir = tmp_path / "whole", tmp_path / "left"
    whole_dir.mkdir()
    left_dir.mkdir()
    path, truth, rules = lying_length_tree(whole_dir)
    lying_length_tree(left_dir)
    args = ("backward", path.name, "--target", truth, "--overseer", "ask")
    whole = Screen(spawn(whole_dir, *args)).play(length_blamer)
    whole.finish()

    first = Screen(spawn(left_dir, *args)).play(length_blamer, stop_after=4)
    first.type("exit")
    assert first.prompt() is None  # the end: no prompt after exit
    first.finish()
    assert first.child.exitstatus == 130 and "so far is saved in l.report.json" in first.tail
    assert json.loads((left_dir / "l.report.json").read_text())["complete"] is False  # the blame so far

    resumed = Screen(spawn(left_dir, *args)).play(length_blamer)
    resumed.finish()
    assert resumed.child.exitstatus == 0 and "(resumed)" in "".join(resumed.screens)
    assert report_of(left_dir)[1] == report_of(whole_dir)[1] == rules_of(rules)
    # nothing typed before leaving is asked again: the two halves are the whole pass's commands
    assert first.typed[:4] + resumed.typed == whole.typed

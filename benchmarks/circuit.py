"""Guess and check on the black-box circuit: the fix loop against blind enumeration.

A hidden random 20-gate circuit over 5 inputs; the agent's beliefs have 3 gates one detail
wrong (each a mistake the box can show). Observations (input, true output) are fed one by
one into `fix` with `Counterfactual` over the task's rules: the linear pass says which gates
could be at fault and what each should give, and only their nearby definitions are tried,
each checked by forward runs against every earlier observation. Blind enumeration runs the
same loop, the same checks and budget, with no blame: every gate's nearby definitions, in a
random order. Also computed: how many joint changes of 3 gates by one detail a search that
knows only "3 gates are one detail off" would face (all of them, and half of them: the
expected cost with one consistent answer in a random order).

    python benchmarks/circuit.py [SEEDS]     writes benchmarks/results/circuit.json
"""

from __future__ import annotations

import json
import math
import random
import sys
import tempfile
from pathlib import Path

from ida.experience import ExperienceDB
from ida.overseer import Blame, Edit
from ida.overseer.policy_overseer import PolicyOverseer
from ida.overseer.scripts import for_task
from ida.tasks.circuit import beliefs_in, nearby, world
from ida.tasks.circuit_fix import Recovery, recover
from ida.tree import Node, Tree

GATES, INPUTS, WRONG, BUDGET = 20, 5, 3, 1000


class Blind:
    """No blame at all: at the root, every gate's nearby definitions as candidates, shuffled."""

    name = "blind"

    def __init__(self, db: ExperienceDB, seed: int) -> None:
        self.db, self.rng = db, random.Random(seed)

    def blame(self, node: Node, target: str, tree: Tree) -> Blame:
        if node.answer_text == target:
            return Blame(ok=True)
        if node.id != tree.root:
            return Blame(note="blind: not looked at")
        ids = {e.key: e.id for e in self.db.entries()}
        beliefs = beliefs_in([(e.key, e.text) for e in self.db.entries()], GATES)
        cands = [Blame(edits=[Edit("edit", entry_id=ids[name], text=f"{name} = {g.op}({g.a}, {g.b})")])
                 for name, gate in beliefs.items() if gate is not None
                 for g in nearby(int(name[1:]), INPUTS, gate)]
        self.rng.shuffle(cands)
        return Blame(note="blind: some gate is wrong", candidates=cands)


def joint_changes() -> int:
    """Ways to change exactly WRONG gates by one detail each (the same for every circuit: a
    gate's nearby definitions number 4 types + 2 x its other sources)."""
    _, beliefs = world(0, GATES, INPUTS, WRONG)
    sizes = [len(nearby(int(n[1:]), INPUTS, g)) for n, g in beliefs.items() if g is not None]
    e = [1] + [0] * WRONG  # elementary symmetric sums of the sizes, up to degree WRONG
    for s in sizes:
        for d in range(WRONG, 0, -1):
            e[d] += e[d - 1] * s
    return e[WRONG]


def row(r: Recovery) -> dict:
    return {k: getattr(r, k) for k in ("seed", "recovered", "agreed_at_start", "observations", "observations_to_agree",
                                       "fixed", "unfixed", "forward_runs", "guess_runs", "overseer_calls", "edits",
                                       "identified", "seconds")}


def summary(rows: list[dict]) -> dict:
    ok = [r for r in rows if r["recovered"]]
    med = lambda k: sorted(r[k] for r in ok)[len(ok) // 2] if ok else None  # noqa: E731
    return {"recovered": f"{len(ok)}/{len(rows)}", "median_forward_runs_recovered": med("forward_runs"),
            "median_seconds_recovered": med("seconds"), "median_observations_to_agree": med("observations_to_agree"),
            "total_forward_runs": sum(r["forward_runs"] for r in rows), "total_seconds": round(sum(r["seconds"] for r in rows), 1)}


def _path(r: dict) -> tuple:
    return tuple(v for k, v in r.items() if k != "seconds")


def main() -> None:
    seeds = range(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
    out = Path(__file__).parent / "results" / "circuit.json"
    guided, blind, trees = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        for s in seeds:
            guided.append(row(recover(Path(scratch) / f"g{s}.sqlite", s, GATES, INPUTS, WRONG, budget=BUDGET)))
            print("guided", guided[-1], flush=True)
            blind.append(row(recover(Path(scratch) / f"b{s}.sqlite", s, GATES, INPUTS, WRONG, budget=BUDGET,
                                     inner=lambda task, db, s=s: Blind(db, s))))
            print("blind ", blind[-1], flush=True)
            trees.append(row(recover(Path(scratch) / f"t{s}.sqlite", s, GATES, INPUTS, WRONG, budget=BUDGET,
                                     inner=lambda task, db: PolicyOverseer(for_task("circuit")))))
            print("trees ", trees[-1], flush=True)
    joint = joint_changes()
    result = {
        "setting": {"gates": GATES, "inputs": INPUTS, "wrong": WRONG, "budget_per_pass": BUDGET,
                    "sweeps": 3, "candidates": "definitions one detail from the current belief"},
        "guided": {"summary": summary(guided), "rows": guided},
        "blind_enumeration": {"summary": summary(blind), "rows": blind},
        # the same guesses over blame trees: the circuit's blame scripts answer each blame question, alternatives
        # included (`maybe`), so the rows equal the guided ones but for time
        "guided_by_blame_trees": {"summary": summary(trees), "rows": trees,
                                  "same_as_guided": [_path(a) == _path(b) for a, b in zip(guided, trees)]},
        "joint_enumeration": {"changes_of_3_gates_by_one_detail": joint, "log10": round(math.log10(joint), 2),
                              "expected_forward_runs_at_least": (joint + 1) // 2,
                              "note": "a search that knows only that 3 gates are one detail off: each change needs "
                                      "a forward run at least; with one consistent answer in a random order, half "
                                      "of them are tried on average"},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v["summary"] for k, v in result.items() if "summary" in v}, indent=2))


if __name__ == "__main__":
    main()

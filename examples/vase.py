"""The breakable vase through the Python API: run, judge, backward, apply, run again.

    python examples/vase.py
"""

import tempfile
from pathlib import Path

import ida
from ida.experience import ExperienceDB
from ida.overseer import apply, backward
from ida.scenarios import vase

# A room: the world knows the vase is fragile; the agent only sees names and positions.
room = vase.parse_room("lamp@2, rug@4, vase@6:fragile, chair@8")
db = ExperienceDB(Path(tempfile.mkdtemp()) / "lessons.sqlite")
question = vase.root_question(room)

# Run 1: the agent's plan comes from a meta-execution tree.
first = ida.run(question, vase.agent, db=db)
outcome = vase.execute(first.answer, room)
print("run 1 plan:", first.answer)
print("feedback:  ", outcome.feedback)  # the vase broke at step 3

# The overseer backward pass, from the feedback at the root down to the node to blame.
report = backward(first, outcome.feedback, vase.overseer())
for visit in report.visits:
    node = first.nodes[visit.node]
    print(f"visited #{node.id} {node.question.text()!r}: should be {visit.target!r}")
print("blamed:    ", [first.nodes[n].question.text() for n in report.blamed])

# Apply the edits: one transaction, with provenance (run, node, feedback).
applied = apply(report, db, corrections_dir=None)
for entry in applied.entries:
    print(f"lesson:     e{entry.id} {entry.key}: {entry.text} (run {entry.provenance.run_id}, node #{entry.provenance.node_id})")

# Run 2: the same tree up to the lookup, which now finds the lesson.
second = ida.run(question, vase.agent, db=db)
again = vase.execute(second.answer, room)
print("run 2 plan:", second.answer)
print("outcome:   ", again.feedback or "nothing broke")

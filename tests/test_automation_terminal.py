"""Issue 17 at a real terminal (pexpect): a person's correction reaches automation, and the
screen of a person answering a node shows nothing the node has not unlocked."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pexpect

sys.path.insert(0, str(Path(__file__).parent))
from test_automation import careless  # noqa: E402
from test_session import sorted_person, sorted_question  # noqa: E402
from test_session_terminal import PANEL, Screen, clean, last_panel, spawn  # noqa: E402

Q = sorted_question([1, 3, 2])


def test_a_correction_at_the_blame_prompt_is_what_the_next_session_does(tmp_path):
    sessions = str(tmp_path / "s.sqlite")
    wrong = Screen(spawn(tmp_path, "ask", "--sessions", sessions, Q)).play(careless)
    wrong.finish()
    assert wrong.answer == "yes"  # #3 judged the pair (3, 2) after seeing only the 3
    transcript = re.search(r"saved: (\S+\.jsonl)", wrong.tail).group(1)

    # The overseer at the blame> prompt: the tail is wrong, its pair is wrong, and there the
    # person should have looked at the second element.
    says = {0: "target 2 no", 2: "target 3 no", 3: "correct 1 unlock $2"}
    child = spawn(tmp_path, "backward", transcript, "--target", "no", "--overseer", "human", "--apply",
                  "--sessions", sessions)
    out = ""
    while child.expect([r"blame> ", pexpect.EOF]) == 0:
        out += clean(child.before)
        node = int(re.findall(r"node #(\d+)", out)[-1])
        child.sendline(says.pop(node, "done"))  # its command, then `done` at its next prompt
    out += clean(child.before)
    child.close()
    assert child.exitstatus == 0, out
    m = re.search(r"automation (a\d+) \(#3 step 1\): replays unlock \$2", out)
    assert m, out
    assert not says

    # The same question, the same sessions file: replayed up to the corrected step, whose
    # unlock opens a workspace nobody has seen: the person is asked there, then above it.
    again = Screen(spawn(tmp_path, "ask", "--sessions", sessions, Q))
    first = again.prompt()
    panel = last_panel(first)
    assert panel.question == "are the first two elements of $1 in order?"
    assert panel.unlocked == ["$1: 3 $2", "$2: 2 $3"]
    again.play(sorted_person, screen=first)
    again.finish()
    assert again.answer == "no" and again.shown == 3 and again.typed == ["reply no"] * 3
    assert re.search(r"actions: 3 yours, \d+ automated", again.tail)

    shown = spawn(tmp_path, "sessions", "memo", "show", m.group(1), "--sessions", sessions)
    shown.expect(pexpect.EOF)
    text = clean(shown.before)
    assert "author: overseer:human" in text and "unlock $2" in text and "reply yes, then $2" in text


ELEMENTS = (7101, 7303, 7202)


def test_the_screen_shows_nothing_a_workspace_keeps_locked(tmp_path):
    s = Screen(spawn(tmp_path, "ask", sorted_question(list(ELEMENTS))))
    typed_tree = False
    screen = s.prompt()
    assert "is the list $1 sorted from least to greatest?" in screen.split("\n")[0]  # the header
    while screen is not None:
        panel = last_panel(screen)
        visible = {int(n) for line in panel.unlocked for n in re.findall(r"\d+", line.split(":", 1)[1])}
        # Every element on the screen (header, `↳ subquestion of` line, `tree`, stored lines, the
        # panel) is one this workspace has unlocked; no list is written out anywhere.
        on_screen = {e for e in ELEMENTS if str(e) in screen}
        assert on_screen <= visible, (on_screen, visible, screen)
        assert "[" not in screen.replace("[…]", ""), screen
        depth = int(re.findall(r"· depth (\d+)", screen)[-1])
        if depth >= 2 and not typed_tree:
            s.type("tree")  # the tree so far, as this workspace sees it
            typed_tree = True
        else:
            s.type(sorted_person(panel))
        screen = s.prompt()
    s.finish()
    assert typed_tree and s.answer == "no"
    tree_screen = next(x for x in s.screens if "◀ you are here" in x)
    assert "[…]" in tree_screen and PANEL in tree_screen

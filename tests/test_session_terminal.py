"""`ida ask` in a real pseudo-terminal (pexpect): the person is played by reading the screen.

Each test spawns the real `python -m ida`. The person sees the workspace panel printed
before each `ida> ` prompt, cuts it into question / unlocked / subquestions, and types
what the people of test_session.py would type. Nothing is scripted by answer: the
people react to what is on screen.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import pexpect
import pytest

from ida.render import WorkspaceParts
from ida.session import SessionStore
from ida.transcript import read_transcript

sys.path.insert(0, str(Path(__file__).parent))
from test_session import (  # noqa: E402
    MULTIPLY_Q, SORTED_Q, length_person, length_question, multiply_person, sorted_person, sorted_question,
)

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]")
PANEL = "╭─ workspace #"


def spawn(cwd: Path, *args: str) -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if k not in ("IDA_SESSIONS", "IDA_DB")}
    env.update(TERM="dumb", COLUMNS="200", LINES="60", PYTHONPATH=str(ROOT))
    return pexpect.spawn(sys.executable, ["-m", "ida", *args], cwd=str(cwd), env=env, encoding="utf-8",
                         timeout=60, dimensions=(60, 200))


def clean(text: str) -> str:
    return ANSI.sub("", text).replace("\r", "")


def last_panel(screen: str) -> WorkspaceParts:
    """Read the last workspace panel on the screen, as a person would."""
    start = screen.rfind(PANEL)
    assert start >= 0, screen
    rows = []
    for line in screen[start:].split("\n")[1:]:
        if line.startswith("╰"):
            break
        line = line.rstrip()
        assert line.startswith("│") and line.endswith("│"), line
        rows.append(line[1:-1])
    col = re.match(r" \S+ +", rows[0]).end()  # where the content column starts
    fields: dict[str, list[str]] = {}
    label = ""
    for row in rows:
        label = row[:col].strip() or label
        fields.setdefault(label, []).append(row[col:].rstrip())
    subs: list[tuple[str, str | None]] = []
    for line in fields.get("subquestions", []):
        if m := re.match(r"\d+\. (.*)", line):
            subs.append((m.group(1), None))
        elif line.strip().startswith("answer: "):
            subs[-1] = (subs[-1][0], line.strip()[len("answer: "):])
    return WorkspaceParts(question=" ".join(fields["question"]), unlocked=fields.get("unlocked", []),
                          subquestions=subs)


class Screen:
    """A person at the terminal: reads each workspace, types a command, counts what was shown."""

    def __init__(self, child: pexpect.spawn) -> None:
        self.child = child
        self.shown = 0  # workspace panels seen
        self.typed: list[str] = []
        self.screens: list[str] = []
        self.tail = ""

    def prompt(self) -> str | None:
        """Wait for the next prompt; returns the screen since the last one, or None at the end."""
        # A real prompt starts a line; readline's redraws of the line (Ctrl-U, a default) start with \r.
        i = self.child.expect([r"\nida> ", pexpect.EOF])
        screen = clean(self.child.before)
        if i == 1:
            self.tail = screen
            return None
        self.shown += screen.count(PANEL)
        self.screens.append(screen)
        return screen

    def type(self, line: str) -> None:
        self.typed.append(line)
        self.child.sendline(line)

    def play(self, person, stop_after: int | None = None, screen: str | None = None) -> Screen:
        """Play `person` to the end (or `stop_after` commands); `screen`: a prompt already read."""
        while (screen := screen or self.prompt()) is not None:
            if stop_after is not None and len(self.typed) >= stop_after:
                return self
            self.type(person(last_panel(screen)))
            screen = None
        return self

    def finish(self) -> str:
        self.child.close()
        return self.tail

    @property
    def answer(self) -> str:
        m = re.search(r"^answer: (.*)$", self.tail, re.M)
        assert m, self.tail
        return m.group(1).strip()


def session_id(screen: Screen) -> str:
    m = re.search(r"(?:session|resuming) ([0-9a-f]{8})", screen.screens[0] if screen.screens else screen.tail)
    assert m
    return m.group(1)


def transcript_records(path: str | Path) -> list[dict]:
    return [r.model_dump() for r in read_transcript(path)[1]]


# ---- the three sessions -----------------------------------------------------------------


def test_patchwork_multiplication_session(tmp_path):
    s = Screen(spawn(tmp_path, "ask", MULTIPLY_Q)).play(multiply_person)
    s.finish()
    assert s.child.exitstatus == 0
    assert s.answer == "1761669"
    assert s.typed == ["ask What is 300 * 5019?", "reply 1505700", "ask What is 50 * 5019?", "reply 250950",
                       "ask What is 1505700 + 250950 + 5019?", "reply 1761669", "reply 1761669"]
    assert s.shown == 7 and "workspaces shown to you: 7" in s.tail
    for q in ("What is 300 * 5019?  → 1505700", "What is 50 * 5019?  → 250950",
              "What is 1505700 + 250950 + 5019?  → 1761669"):
        assert q in s.tail
    saved = re.search(r"saved: (\S+\.jsonl)", s.tail).group(1)
    assert Path(saved).parent == tmp_path / "transcripts" / "sessions"
    assert transcript_records(saved)[0]["answer"] == "1761669"


def test_affable_length_session(tmp_path):
    s = Screen(spawn(tmp_path, "ask", length_question(list("12345")))).play(length_person)
    s.finish()
    assert s.answer == "5"
    # The recursive step (unlock, ask the tail) once; automation runs it for the four shorter lists.
    assert s.typed == ["unlock $1", "ask What is the length of $3?", "reply 0", "reply 1", "reply 2", "reply 3",
                       "reply 4", "reply 5"]
    assert s.shown == 8 and "actions: 8 yours, 9 automated" in s.tail

    again = Screen(spawn(tmp_path, "ask", length_question(list("70392")))).play(length_person)
    again.finish()
    assert again.answer == "5" and again.shown == 0 and "actions: 0 yours, 17 automated" in again.tail


def test_patchwork_sorted_list_session(tmp_path):
    s = Screen(spawn(tmp_path, "ask", SORTED_Q)).play(sorted_person)
    s.finish()
    assert s.answer == "yes"
    saved = re.search(r"saved: (\S+\.jsonl)", s.tail).group(1)
    steps = [st["workspace"] for r in transcript_records(saved) for st in r["steps"]]
    # Every workspace the person saw was new; the 18 repeats were answered by automation.
    assert s.shown == len(set(steps)) == 17 and len(steps) == 35
    assert "actions: 17 yours, 18 automated" in s.tail
    assert s.typed.count("ask is the list $2 sorted from least to greatest?") == 1

    # A later session whose list has the first one as its tail: only the new head is shown.
    longer = Screen(spawn(tmp_path, "ask", sorted_question([0, 1, 2, 3, 4, 5, 6]))).play(sorted_person)
    longer.finish()
    assert longer.answer == "yes" and longer.shown == 2


# ---- kill and resume -----------------------------------------------------------------------


def test_killed_session_resumes_to_the_same_tree(tmp_path):
    whole_dir, killed_dir = tmp_path / "whole", tmp_path / "killed"
    whole_dir.mkdir()
    killed_dir.mkdir()
    whole = Screen(spawn(whole_dir, "ask", SORTED_Q)).play(sorted_person)
    whole.finish()

    first = Screen(spawn(killed_dir, "ask", SORTED_Q)).play(sorted_person, stop_after=7)
    sid = session_id(first)
    screen = first.screens[-1]
    first.type(sorted_person(last_panel(screen)))  # the eighth command, then the process dies
    first.child.kill(signal.SIGKILL)
    first.child.close(force=True)
    assert first.child.signalstatus == signal.SIGKILL

    with SessionStore(killed_dir / ".ida" / "sessions.sqlite") as store:
        kept = store.get(sid)
        assert not kept.done and kept.person in (7, 8)  # the eighth is kept if it was read before the kill

    resumed = Screen(spawn(killed_dir, "ask", "--resume"))
    first_screen = resumed.prompt()
    assert f"resuming {sid}" in first_screen
    resumed.play(sorted_person, screen=first_screen)
    resumed.finish()
    assert resumed.answer == whole.answer == "yes"
    assert kept.person + len(resumed.typed) == whole.shown == 17  # nothing typed and kept is asked again
    a = re.search(r"saved: (\S+\.jsonl)", whole.tail).group(1)
    b = re.search(r"saved: (\S+\.jsonl)", resumed.tail).group(1)
    assert transcript_records(a) == transcript_records(b)


def test_exit_ctrl_c_resume_by_id_and_list(tmp_path, cli):
    s = Screen(spawn(tmp_path, "ask", MULTIPLY_Q))
    s.prompt()
    s.type("ask What is 300 * 5019?")
    s.prompt()
    s.type("exit")
    s.prompt()
    s.finish()
    assert s.child.exitstatus == 0
    sid = session_id(s)
    assert f"ida ask --resume {sid}" in s.tail

    # Ctrl-C at the prompt: saved, exit status 130.
    s2 = Screen(spawn(tmp_path, "ask", "--resume", sid[:5]))
    screen = s2.prompt()
    assert "question What is 300 * 5019?" in screen  # back in the subquestion it left
    s2.type("reply 1505700")
    s2.prompt()
    s2.child.sendintr()
    s2.prompt()
    s2.finish()
    assert s2.child.exitstatus == 130 and "saved" in s2.tail

    listed = cli("sessions")
    assert listed.returncode == 0 and sid in listed.stdout and "open" in listed.stdout

    s3 = Screen(spawn(tmp_path, "ask", "--resume", sid)).play(multiply_person)
    s3.finish()
    assert s3.answer == "1761669" and s3.shown == 5
    listed = cli("sessions")
    assert "done" in listed.stdout and "1761669" in listed.stdout


def test_malformed_command_gets_one_line_and_the_same_prompt(tmp_path):
    s = Screen(spawn(tmp_path, "ask", MULTIPLY_Q))
    s.prompt()
    for bad, why in (("frobnicate $1", "error: unknown command 'frobnicate'"),
                     ("unlock $4", "error: unknown pointer $4"),
                     ("ask What is [300 * 5019?", "is never closed")):
        s.type(bad)
        screen = s.prompt()
        lines = [line for line in screen.split("\n") if line.strip()]
        assert lines[-1].startswith("error: ") and why in lines[-1], screen
        assert PANEL not in screen  # the same workspace, not shown again
    s.type("help")
    assert "unlock $n" in s.prompt()
    s.type("tree")
    screen = s.prompt()
    assert "◀ you are here" in screen
    s.play(multiply_person, screen=screen)
    s.finish()
    assert s.answer == "1761669" and "actions: 7 yours" in s.tail


def test_mistakes_on_the_command_line_are_one_line(cli):
    for args, words in ((("ask", "--resume", "nope"), "no session 'nope'"),
                        (("ask", "--resume"), "no unfinished session"),
                        (("ask",), "give a question"),
                        (("ask", "is [1 sorted?"), "not valid hypertext")):
        r = cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        err = r.stderr.strip()
        assert err.startswith("error: ") and "\n" not in err and words in err, err


# ---- a model's suggestions -----------------------------------------------------------------


def test_suggest_with_a_tiny_distilled_model(tmp_path):
    torch = pytest.importorskip("torch")
    distill = pytest.importorskip("ida.distill")
    torch.set_num_threads(1)
    from test_session import Player, play

    # One session played at the library level gives the training data.
    with SessionStore(tmp_path / "train.sqlite") as store:
        info = store.create(length_question(list("12345")), transcript=tmp_path / "len.jsonl")
        play(store, info, Player(length_person))
    pairs = distill.policy_pairs([tmp_path / "len.jsonl"])
    result = distill.train(pairs, [], tmp_path / "model", size="tiny", steps=300, eval_every=25, progress=False)
    assert result.best_exact_match == 1.0

    child = spawn(tmp_path, "ask", "--no-automate", "--suggest", str(result.best_dir), length_question(list("86420")))
    s = Screen(child)
    first = s.prompt()
    assert re.search(r"model suggests \(confidence [0-9.]+\): unlock \$1   Enter accepts", first)
    child.send("\x15help\r")  # Ctrl-U clears the suggested line; a meta command keeps the same workspace
    screen = s.prompt()
    assert "unlock $n" in screen and PANEL not in screen
    child.send("\r")  # the suggestion is back on the line: Enter accepts it
    s.typed.append("unlock $1")
    accepted = 1
    screen = s.prompt()
    while screen is not None:
        mine = length_person(last_panel(screen))
        m = re.search(r"model suggests \(confidence ([0-9.]+)\): (.*?)   Enter accepts", screen)
        if m and m.group(2) == mine:
            s.typed.append(mine)
            child.send("\r")  # the suggestion is already on the line: Enter accepts it
            accepted += 1
        else:
            child.send("\x15")
            s.type(mine)
        screen = s.prompt()
    s.finish()
    assert s.answer == "5" and s.shown == 17 and "actions: 17 yours, 0 automated" in s.tail
    # The model learnt these eight contexts exactly, so its suggestion is what the person wants.
    assert accepted == 17
    with SessionStore(tmp_path / ".ida" / "sessions.sqlite") as store:
        sid = store.sessions()[0].id
        assert [r.source for r in store.actions(sid)] == ["model"] * 17

"""Data never drives the terminal: escapes in questions or lessons are shown, not obeyed."""

import io

from hypothesis import given, strategies as st
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ida.terminal import Console, printable

EVIL = "a\x1b]0;pwned\x07b\x1b[2Jc\x9bd\u202eevil"


def test_printable_shows_every_control_character():
    shown = printable(EVIL)
    assert shown == "a\\x1b]0;pwned\\x07b\\x1b[2Jc\\x9bd\\u202eevil"
    assert printable("plain\ttext\nsecond line, ünïcode ✓") == "plain\ttext\nsecond line, ünïcode ✓"


@given(st.text())
def test_nothing_printable_leaves_is_a_control_character(s):
    out = printable(s)
    assert not any(ord(c) < 32 and c not in "\t\n" or 0x7F <= ord(c) < 0xA0 for c in out)


def test_the_console_escapes_data_in_any_renderable_but_keeps_its_own_colours():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, color_system="standard", width=200, highlight=False)
    tree = Tree(Text(EVIL, style="bold red"))
    tree.add(EVIL)
    table = Table()
    table.add_column("text")
    table.add_row(Text(EVIL))
    console.print(tree, table, EVIL, markup=False)
    out = buf.getvalue()
    assert "\x1b]0;" not in out and "\x1b[2J" not in out and "\x07" not in out and "\u202e" not in out
    assert out.count("\\x1b]0;pwned") == 4
    assert "\x1b[1;31m" in out  # rich's own style codes still reach the terminal

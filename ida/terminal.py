"""What reaches a terminal from data is shown, never obeyed.

Questions, answers, lesson texts and transcript fields can come from shared files. Raw, an
ESC sequence in them would set the window title or clear the screen. `printable` turns every
control character (C0 but tab and newline, DEL, C1) and the bidirectional overrides that can
reorder what a reader sees into visible escapes like `\\x1b`. `Console` applies it in one place,
to every segment of text it writes, so no view has to remember to.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console as RichConsole
from rich.segment import Segment

_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_UNSAFE = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)] if chr(c) not in "\t\n"}
_UNSAFE.update({c: f"\\u{c:04x}" for c in _BIDI})


def printable(text: str) -> str:
    """`text` with control characters shown as escapes; plain text comes back as it was."""
    return text.translate(_UNSAFE)


class Console(RichConsole):
    """A rich Console that writes data as text: every non-control segment goes through `printable`.

    Rich's own control segments (cursor moves for progress bars) and the style codes it adds
    around text are untouched: they are produced after this point.
    """

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            s if s.control else Segment(printable(s.text), s.style, s.control) for s in buffer
        )

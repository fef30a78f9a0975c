"""`ida tasks`: the built-in tasks and those installed packages add."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ida.cli.common import console
from ida.errors import IdaError


def tasks_cmd() -> None:
    """List the tasks commands take by name: built in, and added by installed packages.

    Packages add tasks through the `ida.tasks` entry points; any command also takes
    FILE.py:NAME or package.module:NAME.

    Example: ida tasks
    """
    from ida.tasks.load import builtin, installed, load

    table = Table(title="tasks (any command also takes FILE.py:NAME or module:NAME)", title_justify="left")
    for col in ("name", "from", "description", "size", "rules", "oracle", "facts"):
        table.add_column(col, overflow="fold", justify="right" if col in ("size", "rules", "facts") else "left")
    rows: list[tuple[str, str]] = [(name, "built in") for name in builtin()]
    rows += [(name, f"{ep.dist.name if ep.dist else '?'} ({ep.value})") for name, ep in sorted(installed().items())
             if name not in builtin()]
    for name, source in rows:
        try:
            t = load(name)
        except IdaError as e:  # one broken package does not hide the others
            table.add_row(Text(name), Text(source), Text(f"cannot load: {e}", style="red"), "", "", "", "")
            continue
        table.add_row(Text(t.name), Text(source), Text(t.description), str(t.default_size) if t.generate else "-",
                      str(len(t.rules)), "yes" if t.solve else "no", str(len(t.facts)))
    console.print(table)

"""Every file ida writes is written atomically: a temporary file in the same folder, flushed and
synced, then renamed over the target. A crash or a full disk leaves the old file whole, never half
of the new one.

The temporary name is short and fixed-length (`.ida-XXXXXXXX.tmp`), so a target whose own name is
at the file system's 255-byte limit still works, and it starts with a dot so a listing hides it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ida.errors import IdaError


class WriteError(IdaError):
    """A file could not be written; the previous content, if any, is untouched."""


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename is still atomic
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open `path` for writing (`"w"` text as UTF-8 with `\\n` newlines, or `"wb"`); commit on a clean exit.

    Any OSError (read-only target, a directory in the way, a full disk) becomes one `WriteError`
    line naming the path; the temporary file is removed and the target keeps its old content.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes only: mode {mode!r}")
    path = Path(path)
    tmp: str | None = None
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ida-", suffix=".tmp")
        f: IO
        with (os.fdopen(fd, "wb") if mode == "wb" else os.fdopen(fd, "w", encoding="utf-8", newline="\n")) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(path.parent)
    except OSError as e:
        raise WriteError(f"{path}: cannot write: {e.strerror or e}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def ensure_dir(path: str | Path) -> Path:
    """Make a folder (and its parents) for writing into; a file in the way is one line."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WriteError(f"{path}: cannot make a folder: {e.strerror or e}") from None
    return path


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write the whole of `data` to `path` atomically; returns the path."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return Path(path)

"""Atomic writes: the old file survives any failure, and errors are one line."""

import os
import subprocess

import pytest

from ida.files import WriteError, atomic_open, write_atomic


def test_a_write_replaces_the_whole_file(tmp_path):
    p = tmp_path / "out.txt"
    write_atomic(p, "old\n")
    write_atomic(p, "new\u2028text\n")
    assert p.read_text(encoding="utf-8") == "new\u2028text\n"
    assert [f.name for f in tmp_path.iterdir()] == ["out.txt"]  # no temporary left behind


def test_an_exception_mid_write_keeps_the_old_content(tmp_path):
    p = tmp_path / "out.txt"
    write_atomic(p, "old\n")
    with pytest.raises(RuntimeError), atomic_open(p) as f:
        f.write("half of the new")
        raise RuntimeError("crash")
    assert p.read_text() == "old\n"
    assert [f.name for f in tmp_path.iterdir()] == ["out.txt"]


def test_a_directory_in_the_way_is_one_line(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(WriteError, match="is a directory"):
        write_atomic(tmp_path / "d", "x")


def test_a_name_at_the_length_limit_still_writes(tmp_path):
    p = tmp_path / ("n" * 255)
    write_atomic(p, b"ok")
    assert p.read_bytes() == b"ok"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_one_line(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "f").write_text("old")
    ro.chmod(0o500)
    try:
        with pytest.raises(WriteError, match="cannot write"):
            write_atomic(ro / "f", "new")
        assert (ro / "f").read_text() == "old"
    finally:
        ro.chmod(0o700)


def _mount_tiny_tmpfs(where) -> bool:
    if os.geteuid() != 0:
        return False
    where.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)], capture_output=True)
    return r.returncode == 0


def test_a_full_disk_keeps_the_old_file(tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tiny_tmpfs(disk):
        pytest.skip("needs root to mount a 64 kB tmpfs (a full disk)")
    try:
        write_atomic(disk / "export.jsonl", "complete\n" * 10)
        with pytest.raises(WriteError, match="No space left"):
            write_atomic(disk / "export.jsonl", "x" * 200_000)
        assert (disk / "export.jsonl").read_text() == "complete\n" * 10
        assert [f.name for f in disk.iterdir()] == ["export.jsonl"]
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_a_file_where_a_folder_should_be_is_one_line(tmp_path):
    from ida.files import ensure_dir

    (tmp_path / "f").write_text("x")
    with pytest.raises(WriteError, match="cannot make a folder"):
        ensure_dir(tmp_path / "f" / "sub")

"""`atomic_write`: the file appears complete or not at all, with the mode the umask gives, and
its errors name the file asked for."""

from __future__ import annotations

import os
import shutil
import stat

import pytest

from harness.atomic import atomic_write, leftovers, new_file_mode


def test_writes_creating_missing_directories(tmp_path):
    target = tmp_path / "a" / "b" / "out.jsonl"
    with atomic_write(target) as f:
        f.write("one\n")
    assert target.read_text() == "one\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.jsonl"]


def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="crash"), atomic_write(target, binary=True) as f:
        f.write(b"half of the new")
        raise RuntimeError("crash")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=["umask-022", "umask-077"])
def test_the_file_gets_the_mode_the_umask_gives_a_new_file(tmp_path, umask):
    previous = os.umask(umask)
    try:
        assert new_file_mode() == 0o666 & ~umask
        with atomic_write(tmp_path / "out.json") as f:
            f.write("{}\n")
        with open(tmp_path / "plain.json", "w") as f:  # what a direct write gets
            f.write("{}\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == stat.S_IMODE(
        (tmp_path / "plain.json").stat().st_mode
    )


def test_a_failed_rename_leaves_no_temporary_and_names_the_target(tmp_path):
    target = tmp_path / "out.jsonl"
    target.mkdir()  # os.replace cannot put a file over a directory
    with pytest.raises(IsADirectoryError) as caught, atomic_write(target) as f:
        f.write("x" * 100_000)
    assert caught.value.filename == str(target) and ".tmp" not in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_a_directory_removed_while_writing_is_reported_by_the_target(tmp_path):
    target = tmp_path / "out" / "data.jsonl"
    with pytest.raises(FileNotFoundError) as caught, atomic_write(target) as f:
        f.write("line\n")
        shutil.rmtree(tmp_path / "out")
    assert caught.value.filename == str(target) and ".tmp" not in str(caught.value)


def test_leftovers_are_the_temporaries_of_that_target_only(tmp_path):
    names = [".out.jsonl.ab12cd34.tmp", ".out.jsonl.k_9x0qzz.tmp", ".out.jsonl.manifest.json.ab12cd34.tmp",
             ".other.jsonl.ab12cd34.tmp", "out.jsonl"]
    for name in names:
        (tmp_path / name).write_text("")
    assert [os.path.basename(p) for p in leftovers(tmp_path / "out.jsonl")] == names[:2]
    assert leftovers(tmp_path / "missing" / "x") == []

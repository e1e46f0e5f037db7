"""`atomic_write`: the file appears complete or not at all."""

from __future__ import annotations

import pytest

from harness.atomic import atomic_write


def test_writes_creating_missing_directories(tmp_path):
    target = tmp_path / "a" / "b" / "out.jsonl"
    with atomic_write(target) as f:
        f.write("one\n")
    assert target.read_text() == "one\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.jsonl"]


def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="crash"):
        with atomic_write(target, binary=True) as f:
            f.write(b"half of the new")
            raise RuntimeError("crash")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]

"""Atomic writes: a reader sees the whole file or none of it, never a half-written one."""

from __future__ import annotations

import pytest

from kinefake.fs import atomic_writer, write_atomic


def test_a_write_that_fails_leaves_nothing(tmp_path):
    target = tmp_path / "shard.tar"
    with pytest.raises(RuntimeError), atomic_writer(str(target)) as f:
        f.write(b"half of a shard")
        raise RuntimeError("worker lost")
    assert list(tmp_path.iterdir()) == []


def test_a_finished_write_replaces_the_old_file(tmp_path):
    target = tmp_path / "manifest.json"
    write_atomic(str(target), b"old")
    with atomic_writer(str(target)) as f:
        f.write(b"new")
        assert target.read_bytes() == b"old"  # not visible until complete
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]

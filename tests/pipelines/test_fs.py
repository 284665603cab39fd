"""Atomic writes: a reader sees the whole file or none of it, never a half-written one; a
script that reads a table exits cleanly."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
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


READERS = {
    "read_columns": "from kinefake.fs import read_columns; read_columns(sys.argv[1], ['uri'])",
    "read_input_manifest": (
        "from kinefake.synth.sharding import read_input_manifest; "
        "read_input_manifest(open(sys.argv[1], 'rb'), sys.argv[1])"
    ),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_script_that_reads_a_table_exits_cleanly(tmp_path, reader):
    # pyarrow's threaded read of a file object left work behind that aborted most such
    # exits with "terminate called without an active exception" (apache/arrow#33975).
    path = tmp_path / "videos.parquet"
    pq.write_table(pa.table({"uri": [f"/videos/{i}.mp4" for i in range(3000)], "n": list(range(3000))}), path)
    script = f"import sys; {READERS[reader]}"
    runs = [
        subprocess.Popen([sys.executable, "-c", script, str(path)], stderr=subprocess.PIPE, text=True) for _ in range(5)
    ]
    assert [(run.wait(timeout=120), run.stderr.read()) for run in runs] == [(0, "")] * 5

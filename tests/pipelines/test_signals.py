"""Ctrl-C, SIGTERM and a second writer: a run stops in one line and leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from kinefake.cli import main
from tests.conftest import REPO, WORKER_THREADS, face


def start_generate(folder, out, tmpdir, *flags):
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    argv = [sys.executable, "-m", "kinefake", "generate", "--input", str(folder), "--output", str(out), *flags]
    return subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, what: str, timeout: float = 90.0, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


@pytest.mark.parametrize(
    ("signum", "workers"),
    [
        (signal.SIGINT, []),
        (signal.SIGTERM, []),
        (signal.SIGINT, WORKER_THREADS),
        (signal.SIGTERM, WORKER_THREADS),
    ],
    ids=["ctrl-c", "sigterm", "ctrl-c-worker-threads", "sigterm-worker-threads"],
)
def test_a_signal_mid_run_stops_it_in_one_line_and_removes_what_it_wrote(faces, tmp_path, signum, workers):
    # On DirectRunner's worker threads the signal reaches the main thread only: they are
    # stopped before the cleanup (a late write would leave a part behind, an exit with them
    # inside MediaPipe a segmentation fault).
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    stale = tmpdir / "kinefake-progress-999999999-dead"  # a progress folder of a run killed outright
    stale.mkdir()
    (stale / "00000-00000.json").write_text("{}")
    out = tmp_path / "out"
    run = start_generate(next(iter(faces.values())).parent, out, tmpdir, "--max-clips-per-video", "6", *workers)
    # Mid-run: the workers have reported a finished donor group.
    progress = f"kinefake-progress-{run.pid}-*/*.json"
    wait_for(lambda: any(tmpdir.glob(progress)) or run.poll() is not None, "a finished group")
    assert run.poll() is None, run.communicate()
    run.send_signal(signum)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 128 + signum, err
    assert err.strip().splitlines()[-1] == "kinefake generate: interrupted; rerun the same command to start over"
    assert "Traceback" not in err and "Error" not in err, err
    assert [p for p in out.rglob("*") if p.is_file()] == []  # no shard-*.tar.part*, no lock, no table
    assert list(tmpdir.iterdir()) == []  # its own progress folder and the stale one are gone


def test_a_second_writer_is_refused_in_one_line_and_a_stale_lock_is_taken_over(faces, tmp_path, capsys):
    out = tmp_path / "out"
    first = start_generate(next(iter(faces.values())).parent, out, tmp_path, "--max-clips-per-video", "2", "-q")
    wait_for(lambda: (out / ".kinefake-lock").exists() or first.poll() is not None, "the first run's lock")
    video = str(face(faces, "first-order"))
    assert main(["generate", "--input", video, "--output", str(out), "--seed", "1", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kinefake generate: {out} is being written by another kinefake run (pid {first.pid} on ")
    assert len(err.splitlines()) == 1
    _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    assert (out / "manifest.json").exists() and not (out / ".kinefake-lock").exists()

    # The first run is gone: a lock it had left (killed with SIGKILL) is stale on this host.
    lock = {"pid": first.pid, "host": socket.gethostname(), "started": "then", "token": "x"}
    (out / ".kinefake-lock").write_text(json.dumps(lock))
    argv = ["generate", "--input", video, "--output", str(tmp_path / "mine"), "--max-clips-per-video", "1", "-q"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / ".kinefake-lock").write_text(json.dumps(lock))
    assert main(argv) == 0
    assert not (tmp_path / "mine" / ".kinefake-lock").exists()
    # A lock from another host cannot be checked: refused, naming the file to delete.
    (tmp_path / "mine" / ".kinefake-lock").write_text(json.dumps({**lock, "host": "elsewhere", "pid": 1}))
    assert main(argv) == 2
    assert f"delete {tmp_path / 'mine' / '.kinefake-lock'} if that run is gone" in capsys.readouterr().err

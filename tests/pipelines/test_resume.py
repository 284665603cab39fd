"""``generate --resume``: a run killed outright finishes to the bytes of one that never was."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal

import pytest

from kinefake.cli import main
from kinefake.pipelines.generate import run
from tests.conftest import face
from tests.pipelines.test_signals import start_generate, wait_for

VIDEOS = ("spectre__00002", "first-order", "LivePortrait__d3", "LivePortrait__d0")
#: One clip per shard, so a run has 12 donor groups and 12 tars to kill it between.
FLAGS = ["--max-clips-per-video", "3", "--clips-per-shard", "1", "--size", "64", "--clip-frames", "16"]


def digests(folder) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def videos(faces, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for prefix in VIDEOS:
        shutil.copyfile(face(faces, prefix), folder / face(faces, prefix).name)
    return folder


def test_a_run_killed_twice_resumes_to_the_bytes_of_an_uninterrupted_run(videos, tmp_path):
    whole = tmp_path / "whole"
    run(["--input", str(videos), "--output", str(whole), *FLAGS])
    out = tmp_path / "out"
    records = out / ".kinefake-groups"

    # Killed while donor groups are being made: two of twelve finished.
    first = start_generate(videos, out, tmp_path, *FLAGS, "-q")
    wait_for(lambda: len(list(records.rglob("done.json"))) >= 2 or first.poll() is not None, "two finished groups")
    first.send_signal(signal.SIGKILL)
    first.wait()
    kept = {p: p.stat().st_mtime_ns for p in records.rglob("done.json")}
    assert 2 <= len(kept) < 12 and not (out / "manifest.json").exists()

    # Resumed, and killed again once the shards are being joined (every group done by then).
    second = start_generate(videos, out, tmp_path, *FLAGS, "-q", "--resume")
    # The first tar comes 0.2 s before the manifest here: looked for every 10 ms, not 200.
    wait_for(lambda: any(out.glob("webdataset/*/*.tar")) or second.poll() is not None, "a joined shard", every=0.01)
    second.send_signal(signal.SIGKILL)
    second.wait()
    assert second.returncode == -signal.SIGKILL and not (out / "manifest.json").exists()
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # the first run's groups were not made again
    assert len(list(records.rglob("done.json"))) == 12

    counters: dict[str, int] = {}
    manifest = run(["--input", str(videos), "--output", str(out), *FLAGS, "--resume"], counters=counters)
    assert (counters["groups_made"], counters["groups_kept"]) == (0, 12)
    assert digests(out) == digests(whole)  # every file, its name and bytes; no record, lock or temporary left
    assert manifest == json.loads((whole / "manifest.json").read_text())


def test_resume_refuses_other_flags_and_says_when_there_is_nothing_left_to_do(videos, tmp_path, capsys):
    out = tmp_path / "out"
    first = start_generate(videos, out, tmp_path, *FLAGS, "-q")
    wait_for(lambda: any(out.rglob("done.json")) or first.poll() is not None, "a finished group")
    first.send_signal(signal.SIGKILL)
    first.wait()
    argv = ["generate", "--input", str(videos), "--output", str(out), *FLAGS, "--resume"]
    assert main([*argv, "--seed", "3"]) == 2
    err = capsys.readouterr().err
    assert "holds an unfinished run with a different configuration (differs in: seed)" in err
    assert len(err.splitlines()) == 1 and any(out.rglob("done.json"))  # refused: nothing deleted
    assert main(argv) == 0
    assert main(argv) == 0
    assert "was already finished; nothing to resume" in capsys.readouterr().out
    # Without --resume the same flags make the corpus again, to the same bytes.
    before = digests(out)
    assert main([*argv[:-1], "-q"]) == 0 and digests(out) == before

"""``kinefake generate`` itself on DirectRunner, one process: Beam, probing, tables and manifest included.

The ``generate`` stage runs the command as a user does (a fresh interpreter, the defaults,
free to use every core); the helpers here serve the ``ab``, ``parts`` and ``scaling`` stages too.
"""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kinefake.corpus.contents import read_manifest, read_table
from kinefake.pipelines.generate import run as generate

CLIPS_PER_VIDEO = 3


def input_frames(out: Path) -> int:
    """Input frames that became samples in the corpus at ``out``: those of every clip with a real sample."""
    table = read_table(str(out), "samples", ["label", "num_frames"]).to_pydict()
    return sum(n for label, n in zip(table["label"], table["num_frames"], strict=True) if label == 0)


def children_cpu() -> float:
    """CPU seconds of the finished child processes, their own waited-for children (Beam's
    workers) included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def all_cores() -> None:
    """Let the calling process (a child about to start) use every core, whatever the bench's pinning."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))


def timed_generate(argv: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """``(wall s, CPU s)`` of ``kinefake generate -q ARGV`` in a fresh interpreter free to use
    every core, as a user runs it (launcher and workers' CPU time)."""
    command = [sys.executable, "-m", "kinefake", "generate", "-q", *argv]
    start, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(command, env=env, cwd=cwd, preexec_fn=all_cores, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"kinefake generate {' '.join(argv)} exited {done.returncode}: {done.stderr[-2000:]}")
    return time.perf_counter() - start, children_cpu() - cpu


def listing(clips: list[Path], folder: Path) -> Path:
    """A ``videos.csv`` of ``clips`` (absolute paths) in ``folder``: a ``--input`` for them alone."""
    path = folder / "videos.csv"
    path.write_text("uri\n" + "".join(f"{p.resolve()}\n" for p in clips))
    return path


def generate_here(clips: list[Path], folder: Path, flags: list[str]) -> tuple[float, int]:
    """``(wall s, input frames)`` of ``kinefake generate FLAGS`` on ``clips`` run in this
    process (DirectRunner), writing ``folder/out``."""
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    out = folder / "out"
    start = time.perf_counter()
    generate(["--input", str(listing(clips, folder)), "--output", str(out), *flags])
    return time.perf_counter() - start, input_frames(out)


def run(clips: list[Path]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        flags = ["--max-clips-per-video", str(CLIPS_PER_VIDEO), "--clips-per-shard", "8"]
        seconds, cpu = timed_generate(["--input", str(listing(clips, Path(folder))), "--output", str(out), *flags])
        counts, frames = read_manifest(str(out))["counts"], input_frames(out)
    print(
        f"\nkinefake generate, defaults (DirectRunner, one process), free to use every core, "
        f"{CLIPS_PER_VIDEO} clips per shared video (spread), 1 fake"
    )
    print(
        f"  {counts['clips']} clips, {counts['real_samples']} with samples ({counts['samples']} samples), "
        f"{counts['rejects']} rejects; {seconds:.1f} s wall, {cpu:.1f} CPU s"
    )
    print(f"  {frames} input frames in samples: {frames / seconds:.1f} input frames/s end to end")

"""The whole ``kinefake generate`` command, this checkout against a baseline, side by side.

    python -m bench --stages ab --baseline SITE [--ab-args "--max-clips-per-video 2"]

``SITE`` is a folder holding an older kinefake package (``pip install --no-deps --target
SITE <old checkout>``), put first on ``PYTHONPATH`` for its runs. The two commands run in
turns, ``ROUNDS`` times each, the order swapped every round, on the same inputs and flags, in
fresh processes (start-up, probing, tables and manifest included), not pinned: one
process, the defaults, as a user runs it. Prints each run, the medians and their ratio, and
checks that both wrote the same bytes (every tar and table).
"""

from __future__ import annotations

import hashlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kinefake.fs import read_columns

ROUNDS = 3


def input_frames(out: Path) -> int:
    """Input frames of the clips that made samples (each clip's real sample)."""
    frames = 0
    for path in sorted(out.glob("parquet/samples/*/*.parquet")):
        for row in read_columns(str(path), ["label", "num_frames"]).to_pylist():
            frames += row["num_frames"] if row["label"] == 0 else 0
    return frames


def corpus_digest(out: Path) -> str:
    """One SHA-256 over every tar and table of a corpus, by relative path."""
    digest = hashlib.sha256()
    for path in sorted([*out.glob("webdataset/**/*.tar"), *out.glob("parquet/**/*.parquet")]):
        digest.update(str(path.relative_to(out)).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def timed_run(inputs: Path, out: Path, args: list[str], site: Path | None) -> tuple[float, float]:
    """``(wall s, CPU s)`` of one ``kinefake generate`` in a fresh interpreter."""
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    command = [sys.executable, "-m", "kinefake", "generate", "--input", str(inputs.resolve()), "--output", str(out)]
    command += ["-q", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # Run from the output's folder: from a checkout, ``python -m`` would import its kinefake first.
    subprocess.run(command, env=env, cwd=out.parent, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run(inputs: Path, baseline: Path, args: list[str]) -> None:
    pinned = os.sched_getaffinity(0) if hasattr(os, "sched_setaffinity") else None
    if pinned is not None:  # the commands run as a user runs them, free to use every core
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    try:
        _compare(inputs, baseline, args)
    finally:
        if pinned is not None:
            os.sched_setaffinity(0, pinned)


def _compare(inputs: Path, baseline: Path, args: list[str]) -> None:
    runs: dict[str, list[tuple[float, float]]] = {"baseline": [], "this checkout": []}
    digests: dict[str, set[str]] = {name: set() for name in runs}
    frames = 0
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(ROUNDS):
            order = list(runs) if round_ % 2 == 0 else list(reversed(runs))
            for name in order:
                out = Path(folder) / f"{round_}-{name.replace(' ', '-')}"
                runs[name].append(timed_run(inputs, out, args, baseline if name == "baseline" else None))
                frames = input_frames(out)
                digests[name].add(corpus_digest(out))
                subprocess.run(["rm", "-rf", str(out)], check=True)
    print(f"\nkinefake generate {' '.join(args)} on {inputs}: {frames} input frames in samples; baseline {baseline}")
    print(f"  {'':<14} {'wall s (each run)':<26} {'median s':>9} {'frames/s':>9} {'CPU s':>7} {'cores':>6}")
    medians = {}
    for name, times in runs.items():
        walls = [w for w, _ in times]
        medians[name] = statistics.median(walls)
        cpu = statistics.median(c for _, c in times)
        each = ", ".join(f"{w:.1f}" for w in walls)
        print(
            f"  {name:<14} {each:<26} {medians[name]:>9.2f} {frames / medians[name]:>9.1f} {cpu:>7.1f} "
            f"{cpu / medians[name]:>6.2f}"
        )
    ratio = medians["baseline"] / medians["this checkout"]
    same = len(digests["baseline"] | digests["this checkout"]) == 1
    print(f"  speed-up (median wall, baseline / this checkout): {ratio:.2f}x; corpora byte-identical: {same}")

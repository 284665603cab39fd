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
import shutil
import statistics
import tempfile
from pathlib import Path

from bench.generate import input_frames, timed_generate

ROUNDS = 3


def corpus_digest(out: Path) -> str:
    """One SHA-256 over every tar and table of a corpus, by relative path."""
    digest = hashlib.sha256()
    for path in sorted([*out.glob("webdataset/**/*.tar"), *out.glob("parquet/**/*.parquet")]):
        digest.update(str(path.relative_to(out)).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def timed_run(inputs: Path, out: Path, args: list[str], site: Path | None) -> tuple[float, float]:
    """``(wall s, CPU s)`` of one ``kinefake generate``, with ``site`` first on ``PYTHONPATH``."""
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    # Run from the output's folder: from a checkout, ``python -m`` would import its kinefake first.
    return timed_generate(["--input", str(inputs.resolve()), "--output", str(out), *args], env, out.parent)


def run(inputs: Path, baseline: Path, args: list[str]) -> None:
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
                shutil.rmtree(out)
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

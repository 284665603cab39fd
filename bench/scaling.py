"""``kinefake generate`` on 1 and on 2 DirectRunner workers, same run: wall time, input frames/s, speed-up;
with one thread of work per worker, then with the defaults.

Each run is a fresh ``kinefake generate`` process over every shared clip (all their clips,
one fake each) with ``--direct_running_mode=multi_processing --direct_num_workers=N``,
start-up, probing, tables and manifest included, on every core of the machine (the bench's
own one-core pinning is lifted for these processes). The two corpora must be the same bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipelines.corpus import read_table

WORKERS = (1, 2)
#: One thread of work per worker (how workers scale), then the defaults (decode ahead, two
#: sample threads: a worker alone already uses more than one core).
SETTINGS = (("one thread per worker", ["--decode-ahead", "0", "--sample-threads", "1"]), ("defaults", []))


def _all_cores() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))


def input_frames(out: Path) -> int:
    """Input frames that became samples: those of every clip with a real sample."""
    table = read_table(str(out), "samples", ["label", "num_frames"]).to_pydict()
    return sum(n for label, n in zip(table["label"], table["num_frames"], strict=True) if label == 0)


def run(clips: list[Path]) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "videos.csv"
        listing.write_text("uri\n" + "".join(f"{p.resolve()}\n" for p in clips))
        for label, flags in SETTINGS:
            for n in WORKERS:
                out = Path(folder) / f"out{len(rows)}"
                argv = ["generate", "--input", str(listing), "--output", str(out), "-q", *flags]
                argv += ["--direct_running_mode=multi_processing", f"--direct_num_workers={n}"]
                start = time.perf_counter()
                command = [sys.executable, "-m", "pipelines.cli", *argv]
                done = subprocess.run(command, preexec_fn=_all_cores, capture_output=True, text=True)
                if done.returncode:
                    raise RuntimeError(f"kinefake {' '.join(argv)} exited {done.returncode}: {done.stderr}")
                seconds = time.perf_counter() - start
                manifest = json.loads((out / "manifest.json").read_text())
                rows.append((label, n, seconds, input_frames(out), manifest))
    (_, _, base, frames, first), *_ = rows
    same = all(m["shards"] == first["shards"] for *_, m in rows)
    print(f"\nkinefake generate on DirectRunner multi_processing, {os.cpu_count()} cores, every clip of every video")
    print(f"  {first['counts']['clips']} clips, {first['counts']['samples']} samples, {frames} input frames in samples")
    print(f"  {'settings':<26} {'workers':>7} {'wall s':>8} {'input frames/s':>15} {'vs 1 worker':>12} {'vs first':>9}")
    one = {label: seconds for label, n, seconds, _, _ in rows if n == 1}
    for label, n, seconds, _, _ in rows:
        print(
            f"  {label:<26} {n:>7} {seconds:>8.1f} {frames / seconds:>15.1f} "
            f"{one[label] / seconds:>11.2f}x {base / seconds:>8.2f}x"
        )
    print(f"  corpora byte-identical across settings and worker counts: {'yes' if same else 'NO'}")

"""``kinefake generate`` on 1 and on 2 DirectRunner workers, same run: wall time, input frames/s, speed-up;
with one thread of work per worker, then with the defaults (``scaling``); with one thread of
work per worker on twice the corpus, the shared clips and a mirror image of each
(``scaling-mirrored``, opt-in: ~20 minutes), where Beam's fixed cost weighs half as much.

Each run is a fresh ``kinefake generate`` process over every shared clip (all their clips,
one fake each) with ``--direct_running_mode=multi_processing --direct_num_workers=N``,
start-up, probing, tables and manifest included, on every core of the machine (the bench's
own one-core pinning is lifted for these processes). Every corpus must be the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from bench.generate import input_frames, listing, timed_generate
from kinefake.synth.video import encode_mp4, iter_frames, probe

WORKERS = (1, 2)
#: One thread of work per worker (how workers scale), then the defaults (decode ahead, two
#: sample threads: a worker alone already uses more than one core).
SETTINGS = (("one thread per worker", ["--decode-ahead", "0", "--sample-threads", "1"]), ("defaults", []))
#: Runs of each (settings, workers), settings and worker counts interleaved so that the
#: machine's drift falls on all of them; figures are medians (single runs of one command
#: spread by +-10% here).
REPEATS = 3


def generate_seconds(videos: Path, out: Path, flags: list[str], workers: int) -> tuple[float, float, dict]:
    """Wall time and CPU time (launcher and workers) of one ``kinefake generate -q`` process,
    and the manifest it wrote."""
    argv = ["--input", str(videos), "--output", str(out), *flags]
    argv += ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
    wall, cpu = timed_generate(argv)
    return wall, cpu, json.loads((out / "manifest.json").read_text())


def mirrored(clips: list[Path], folder: Path) -> list[Path]:
    """Each clip flipped left to right and re-encoded (x264, CRF 18) into ``folder``: other
    videos of the same faces, with other content digests, so that ``generate`` keeps them
    (it drops copies of a video it already has)."""
    copies = []
    for clip in clips:
        frames = (frame[:, ::-1] for frame in iter_frames(str(clip)))
        copy = folder / f"mirror__{clip.name}.mp4"  # the whole name: a.mp4 and a.mpg stay two
        copy.write_bytes(encode_mp4(frames, probe(str(clip)).fps))
        copies.append(copy)
    return copies


def run_mirrored(clips: list[Path]) -> None:
    """The one-thread-per-worker runs on ``clips`` and a mirror image of each."""
    with tempfile.TemporaryDirectory() as folder:
        run(clips + mirrored(clips, Path(folder)), SETTINGS[:1], "every clip of every video and of its mirror image")


def run(clips: list[Path], settings: tuple = SETTINGS, corpus: str = "every clip of every video") -> None:
    seconds: dict[tuple[str, int], list[float]] = {}
    cpu: dict[tuple[str, int], list[float]] = {}
    shards = []
    with tempfile.TemporaryDirectory() as folder:
        videos = listing(clips, Path(folder))
        for _ in range(REPEATS):
            for label, flags in settings:
                for n in WORKERS:
                    out = Path(folder) / f"out{len(shards)}"
                    wall, used, manifest = generate_seconds(videos, out, flags, n)
                    seconds.setdefault((label, n), []).append(wall)
                    cpu.setdefault((label, n), []).append(used)
                    if not shards:
                        first, frames = manifest, input_frames(out)
                    shards.append(manifest["shards"])
                    shutil.rmtree(out)
    same = all(s == shards[0] for s in shards)
    base = statistics.median(seconds[settings[0][0], 1])
    print(f"\nkinefake generate on DirectRunner multi_processing, {os.cpu_count()} cores, {corpus}")
    print(f"  {first['counts']['clips']} clips, {first['counts']['samples']} samples, {frames} input frames in samples")
    print(f"  {REPEATS} runs each, interleaved: medians, and each 2-worker run's speed-up over")
    print("  the 1-worker run just before it ('per run'); CPU s: launcher and workers; cores: CPU s / wall s")
    print(
        f"  {'settings':<22} {'workers':>7} {'wall s':>7} {'range s':>11} {'input frames/s':>15} "
        f"{'vs 1 worker':>11} {'per run':>17} {'vs first':>8} {'CPU s':>6} {'cores':>5}"
    )
    for (label, n), walls in seconds.items():
        median = statistics.median(walls)
        one = seconds[label, 1]
        cores = statistics.median(u / w for u, w in zip(cpu[label, n], walls, strict=True))
        per_run = " ".join(f"{a / b:.2f}" for a, b in zip(one, walls, strict=True))
        print(
            f"  {label:<22} {n:>7} {median:>7.1f} {min(walls):>5.1f}-{max(walls):<5.1f} {frames / median:>15.1f} "
            f"{statistics.median(one) / median:>10.2f}x {per_run:>17} {base / median:>7.2f}x "
            f"{statistics.median(cpu[label, n]):>6.1f} {cores:>5.2f}"
        )
    print(f"  corpora byte-identical across settings, worker counts and runs: {'yes' if same else 'NO'}")

"""End to end, one process: donor groups of real clips, as a ``generate`` worker makes them.

What one Beam worker process does per donor group (without Beam's own overhead): decode
each clip, landmarks (MediaPipe), crops, then the real sample and one pseudo-fake of each
(perturb, render, encode, members), each group's samples made while the next group is
fitted (:class:`kinefake.synth.donor_group.SamplesBehind`). Each video's first
``CLIPS_PER_VIDEO`` consecutive clips are kept; clips the landmark gates reject are left out
by an untimed first pass; the rest, videos of one size in a row, are cut into donor groups
of at most ``DONOR_GROUP`` as ``generate`` cuts its shards. A row's figures are its groups':
a group's time runs from the start of its fit to the start of the next group's (its samples
overlap that one). Figures are per *input* frame of the clips that make samples.

Three runs: ``one core, decode inline`` (the process pinned to one core, ``--decode-ahead
0``): the cost of a frame on one core, what matters when every core runs a worker;
``per process`` (the defaults: decode ahead, two sample threads; the process free to use
the machine's cores): the rate of one worker process, with the cores it used; and the same
with FFmpeg choosing its decoder threads (``--decode-threads 0``).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import os
import time
from collections.abc import Iterator
from pathlib import Path

from kinefake.errors import Rejected
from kinefake.synth.bases.storage import load_bases
from kinefake.synth.clip_samples import SampleConfig
from kinefake.synth.donor_group import (
    DONOR_GROUP,
    Bases,
    DonorGroup,
    Failed,
    SamplesBehind,
    SynthConfig,
    VideoReader,
    synthesize_group,
)
from kinefake.synth.landmarks import make_backend
from kinefake.synth.sharding import ClipPlan, local_input
from kinefake.synth.video import probe

CLIP_FRAMES = 32
CLIPS_PER_VIDEO = 3
COLUMNS = ("decode wait", "landmark model", "rest")


class TimedReader(VideoReader):
    """A :class:`VideoReader` that adds the time the caller waits for frames to ``waited``."""

    waited = 0.0

    def decode(self, clips) -> Iterator:
        for clip, future in super().decode(clips):
            t0 = time.perf_counter()
            future.exception()  # blocks until the frames (or the rejection) are there
            self.waited += time.perf_counter() - t0
            yield clip, future


class TimedBackend:
    """A landmark backend whose model calls (detect, fit, reset) add their time to ``spent``."""

    def __init__(self, backend) -> None:
        self.backend, self.spent = backend, 0.0
        self.name, self.layout, self.version = backend.name, backend.layout, backend.version
        self.fit_checks_presence = backend.fit_checks_presence

    def _timed(self, method, *args):
        t0 = time.perf_counter()
        try:
            return method(*args)
        finally:
            self.spent += time.perf_counter() - t0

    def detect(self, frame):
        return self._timed(self.backend.detect, frame)

    def fit(self, frame, box):
        return self._timed(self.backend.fit, frame, box)

    def reset(self):
        return self._timed(self.backend.reset)


def run(clips: list[Path]) -> None:
    bases = Bases.of(*load_bases())
    config = SynthConfig(samples=SampleConfig(fakes=1))
    groups = _passing_groups(clips, bases, config)
    print("\nend to end per input frame: donor groups one behind, real + 1 fake sample per clip")
    one_core = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    _table("one core, decode inline", groups, bases, dataclasses.replace(config, decode_ahead=0), {one_core})
    cores = set(range(os.cpu_count() or 1))
    ahead = (
        f"per process (defaults: decode {config.decode_ahead} clip ahead, {config.sample_threads} sample threads), "
        f"free to use {len(cores)} cores"
    )
    _table(ahead, groups, bases, config, cores)
    _table(f"{ahead}, --decode-threads 0", groups, bases, dataclasses.replace(config, decode_threads=0), cores)


def _passing_groups(clips: list[Path], bases: Bases, config: SynthConfig) -> list[tuple[str, list]]:
    """``(size label, clips)`` donor groups: the first clips of each video less those the
    gates reject, videos of one size in a row, cut into groups of at most ``DONOR_GROUP``."""
    by_size: dict[str, list] = {}
    only = dataclasses.replace(config, landmarks_only=True)
    with contextlib.closing(make_backend("mediapipe")) as backend:
        for path in clips:
            video = probe(path)
            try:
                planned = ClipPlan(CLIP_FRAMES).clips(video, local_input(path))[:CLIPS_PER_VIDEO]
            except Rejected:
                continue
            with VideoReader() as reader:
                events = synthesize_group(planned, reader, backend, bases, only)
                failed = {e.clip.key for e in events if isinstance(e, Failed)}
            by_size.setdefault(f"{video.width}x{video.height}", []).extend(c for c in planned if c.key not in failed)
    return [
        (size, passing[i : i + DONOR_GROUP])
        for size, passing in by_size.items()
        for i in range(0, len(passing), DONOR_GROUP)
    ]


def _table(title: str, groups: list[tuple[str, list]], bases: Bases, config: SynthConfig, cores: set) -> None:
    pinned = os.sched_getaffinity(0) if hasattr(os, "sched_setaffinity") else None
    if pinned is not None and None not in cores:
        os.sched_setaffinity(0, cores)  # before the backend starts: its graph threads inherit the mask
    try:
        rows = {}  # size label -> [wait, model, wall, cpu, frames, clips]
        with contextlib.closing(make_backend("mediapipe")) as inner:
            backend = TimedBackend(inner)
            # The groups one after another, each group's samples made while the next is fitted
            # (SamplesBehind), as a generate worker takes its bundle's groups: a group's wall
            # and CPU time run from the start of its fit to the start of the next group's.
            marks = []  # (size, clips, wall, cpu) at the start of each group's fit
            with SamplesBehind() as behind:
                for size, clips in groups:
                    if not clips:
                        continue
                    marks.append((size, clips, time.perf_counter(), time.process_time()))
                    row = rows.setdefault(size, [0.0, 0.0, 0.0, 0.0, 0, 0])
                    group = DonorGroup(clips, backend, bases, config)
                    reader = TimedReader(None, config.decode_timeout, config.decode_threads, config.decode_ahead)
                    spent = backend.spent
                    with reader:
                        collections.deque(group.fit(reader), maxlen=0)
                    row[0] += reader.waited
                    row[1] += backend.spent - spent
                    behind.push(group, functools.partial(collections.deque, maxlen=0))
                behind.drain()
            ends = [mark[2:] for mark in marks[1:]] + [(time.perf_counter(), time.process_time())]
            for (size, clips, wall, cpu), (wall_end, cpu_end) in zip(marks, ends, strict=True):
                row = rows[size]
                row[2] += wall_end - wall
                row[3] += cpu_end - cpu
                row[4] += sum(c.num_frames for c in clips)
                row[5] += len(clips)
    finally:
        if pinned is not None:
            os.sched_setaffinity(0, pinned)
    print(f"\n  {title}")
    header = "".join(f"{c + ' ms':>18}" for c in COLUMNS)
    print(f"  {'clip size':<12} {'clips':>5} {'frames':>7}{header} {'total ms':>9} {'frames/s':>9} {'cores':>6}")
    total = [0.0] * 6
    for size, row in sorted(rows.items(), key=lambda kv: kv[1][4], reverse=True):
        _print_row(size, row)
        total = [a + b for a, b in zip(total, row, strict=True)]
    _print_row("all", total)


def _print_row(label: str, row: list) -> None:
    wait, model, wall, cpu, frames, clips = row
    cells = "".join(f"{1000 * s / frames:>18.2f}" for s in (wait, model, wall - wait - model))
    rate = f"{1000 * wall / frames:>9.2f} {frames / wall:>9.1f} {cpu / wall:>6.2f}"
    print(f"  {label:<12} {clips:>5} {frames:>7}{cells} {rate}")

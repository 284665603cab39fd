"""Timing and table printing shared by the stage benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from kinefake.errors import Rejected
from kinefake.synth.landmarks import extract_landmarks
from kinefake.synth.video import probe, read_frames


def timed(fn: Callable[[], int], repeat: int = 3) -> tuple[float, int]:
    """Best-of-``repeat`` wall time of ``fn`` (which returns its frame count): (seconds, frames)."""
    best = float("inf")
    frames = 0
    for _ in range(repeat):
        start = time.perf_counter()
        frames = fn()
        best = min(best, time.perf_counter() - start)
    return best, frames


def table(title: str, rows: list[tuple[str, float, int]]) -> None:
    """Print ``(label, seconds, frames)`` rows as ms/frame and frames/s."""
    print(f"\n{title}")
    print(f"  {'case':<48} {'frames':>7} {'ms/frame':>9} {'frames/s':>9}")
    for label, seconds, frames in rows:
        print(f"  {label:<48} {frames:>7} {1000 * seconds / frames:>9.2f} {frames / seconds:>9.0f}")


def tracked_clips(
    clips: list[Path], backend, frames: int, starts: int = 1
) -> Iterator[tuple[Path, int, float, np.ndarray, object]]:
    """``(path, start, fps, frames, ClipLandmarks)`` for up to ``starts`` consecutive clips of
    ``frames`` frames per video, skipping clips the landmark stage rejects."""
    for path in clips:
        info = probe(path)
        for k in range(max(1, min(starts, info.frame_count // frames))):
            clip = read_frames(path, k * frames, min(frames, info.frame_count))
            try:
                lm = extract_landmarks(clip, backend, float(info.fps))
            except Rejected:
                continue
            yield path, k, float(info.fps), clip, lm

"""Timing and table printing shared by the stage benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable


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

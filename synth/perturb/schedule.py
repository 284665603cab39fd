"""Temporal schedule: an active window with smooth (raised-cosine) onset and offset."""

from __future__ import annotations

import numpy as np


def envelope(frames: int, start: int, stop: int, ramp: int) -> np.ndarray:
    """``(frames,)`` float64 weights: 0 outside ``[start, stop)``, rising over ``ramp`` frames
    after ``start`` and falling over ``ramp`` frames before ``stop`` by a raised cosine, 1 between.

    Exactly 0 outside the window, so the perturbed target equals the source there.

    Raises:
        ValueError: the window is empty, outside the clip, or shorter than two ramps.
    """
    if not 0 <= start < stop <= frames:
        raise ValueError(f"expected 0 <= start < stop <= {frames}, got start={start}, stop={stop}")
    if ramp < 0 or stop - start < 2 * ramp:
        raise ValueError(f"expected 0 <= ramp <= (stop - start) / 2, got ramp={ramp} for a {stop - start}-frame window")
    w = np.zeros(frames)
    w[start:stop] = 1.0
    if ramp:
        rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(1, ramp + 1) / (ramp + 1))
        w[start : start + ramp] = rise
        w[stop - ramp : stop] = rise[::-1]
    return w

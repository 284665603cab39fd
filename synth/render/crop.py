"""Square face crops whose box is smoothed over the clip, so the crop itself does not jitter."""

from __future__ import annotations

import cv2
import numpy as np

from kinefake.synth.landmarks.smooth import savgol_time


def crop_boxes(points: np.ndarray, fps: float, margin: float = 1.3, smooth_seconds: float = 1.0) -> np.ndarray:
    """Per-frame square crop ``(T, 3)`` float64 ``cx, cy, side`` in frame pixels.

    The square is centred on the landmarks' bounding box, its side ``margin`` times the
    box's longer side; centre and side are smoothed over about ``smooth_seconds`` with a
    zero-phase quadratic filter (head motion is followed, detector jitter is not).

    Args:
        points: ``(T, N, 2)`` landmarks, x then y, pixels.
    """
    lo, hi = points.min(1), points.max(1)
    raw = np.concatenate([(lo + hi) / 2, margin * (hi - lo).max(1, keepdims=True)], 1).astype(np.float64)
    return savgol_time(raw, fps, smooth_seconds)


def crop_origin_scale(box: np.ndarray, size: int) -> tuple[np.ndarray, float, int]:
    """Integer top-left ``(2,)``, scale (crop px per frame px) and integer side of one box."""
    side = max(round(float(box[2])), 2)
    origin = np.round(box[:2] - side / 2).astype(int)
    return origin, size / side, side


def crop_frame(frame: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """The ``size``² crop of ``frame`` for ``box`` (``cx, cy, side``); outside the frame is black."""
    origin, _, side = crop_origin_scale(box, size)
    h, w = frame.shape[:2]
    x0, y0 = origin
    x1, y1 = x0 + side, y0 + side
    patch = frame[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)]
    pad = (max(-y0, 0), max(y1 - h, 0), max(-x0, 0), max(x1 - w, 0))
    if any(pad):
        patch = cv2.copyMakeBorder(patch, *pad, cv2.BORDER_CONSTANT, value=0)
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interpolation)


def to_crop(points: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """``(..., 2)`` frame-pixel points -> crop pixels for ``box``."""
    origin, scale, _ = crop_origin_scale(box, size)
    return ((points - origin) * scale).astype(np.float32)

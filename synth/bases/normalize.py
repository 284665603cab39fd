"""Pose normalisation: per-frame similarity alignment of iBUG-68 landmarks to a canonical shape.

Head pose (translation, scale, in-plane rotation) is taken out so that what is left is
expression. The similarity is fitted on expression-stable points only (nose, eye
corners, the top of the jaw contour by the ears), so an opening mouth stays an opening
mouth instead of dragging the whole frame down. Normalised shapes are in canonical
units: inter-ocular distance (IOD) 1, origin between the eyes, x right, y down.
"""

from __future__ import annotations

import functools

import numpy as np

from kinefake.synth.geometry import apply_similarity, invert_similarity, similarity_params
from kinefake.synth.landmarks.pose import layout_model
from kinefake.synth.landmarks.regions import IBUG68

#: iBUG points that decide the alignment: jaw tops (0, 16), nose (27-35), eye corners.
STABLE_IBUG68 = (0, 16, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45)


@functools.cache
def canonical_shape() -> np.ndarray:
    """The canonical face's iBUG-68 points seen from the front, ``(68, 2)`` float64, IOD units."""
    return layout_model(IBUG68)[:, :2].astype(np.float64)


def _check(points: np.ndarray) -> None:
    if points.ndim != 3 or points.shape[1:] != (68, 2):
        raise ValueError(f"expected (T, 68, 2) iBUG-68 landmarks, got {points.shape}")
    if not np.issubdtype(points.dtype, np.floating):
        raise ValueError(f"expected floating-point landmarks, got {points.dtype}")


def normalize(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Align each frame to the canonical shape.

    Args:
        points: ``(T, 68, 2)`` iBUG-68 landmarks, x then y, pixels.

    Returns:
        ``shapes`` ``(T, 68, 2)`` float64 in canonical units, and ``pose`` ``(T, 4)``
        float64 similarity params with ``points == denormalize(shapes, pose)``.

    Raises:
        ValueError: not ``(T, 68, 2)`` floats.
    """
    _check(points)
    pose = similarity_params(points, canonical_shape(), subset=list(STABLE_IBUG68))
    return invert_similarity(pose, points), pose


def denormalize(shapes: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Inverse of :func:`normalize`: ``(T, 68, 2)`` canonical shapes back to pixels (float64)."""
    _check(shapes)
    if pose.shape != (shapes.shape[0], 4):
        raise ValueError(f"expected pose ({shapes.shape[0]}, 4), got {pose.shape}")
    return apply_similarity(pose, shapes)

"""2D similarity transforms of landmark sets, batched over frames.

A similarity is stored as ``(a, b, tx, ty)``: it maps a point ``p`` to
``[[a, -b], [b, a]] @ p + (tx, ty)`` (scale ``hypot(a, b)``, angle ``atan2(b, a)``).
Computations are in float64 so that a transform and its inverse round-trip to well
under 1e-4 px.
"""

from __future__ import annotations

import numpy as np


def similarity_params(points: np.ndarray, reference: np.ndarray, subset=None) -> np.ndarray:
    """Least-squares 2D similarity of ``reference`` onto each frame: ``(T, 4)`` float64.

    Frame ``t`` is approximated by ``[[a, -b], [b, a]] @ reference + (tx, ty)``.

    Args:
        points: ``(T, N, 2)`` frames; reference: ``(N, 2)``; same units.
        subset: indices of the points that decide the fit (all when None); the
            transform still applies to every point.

    Raises:
        ValueError: shapes disagree, or the reference points are all identical.
    """
    points = np.asarray(points, np.float64)
    reference = np.asarray(reference, np.float64)
    if points.ndim != 3 or points.shape[1:] != reference.shape or reference.shape[-1] != 2:
        raise ValueError(f"expected points (T, N, 2) and reference (N, 2), got {points.shape} and {reference.shape}")
    if subset is not None:
        points, reference = points[:, subset], reference[subset]
    ref_mean = reference.mean(0)
    r = reference - ref_mean
    norm = (r**2).sum()
    if norm == 0:
        raise ValueError("the reference points coincide: no similarity is defined")
    frame_mean = points.mean(1)
    q = points - frame_mean[:, None]
    a = (q[..., 0] * r[:, 0] + q[..., 1] * r[:, 1]).sum(1) / norm
    b = (q[..., 1] * r[:, 0] - q[..., 0] * r[:, 1]).sum(1) / norm
    tx = frame_mean[:, 0] - (a * ref_mean[0] - b * ref_mean[1])
    ty = frame_mean[:, 1] - (b * ref_mean[0] + a * ref_mean[1])
    return np.stack([a, b, tx, ty], 1)


def apply_similarity(params: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """``(T, 4)`` params applied to ``(T, N, 2)`` shapes."""
    a, b, tx, ty = (np.asarray(params, np.float64)[:, i, None] for i in range(4))
    x, y = shapes[..., 0].astype(np.float64), shapes[..., 1].astype(np.float64)
    return np.stack([a * x - b * y + tx, b * x + a * y + ty], -1)


def turn_vectors(params: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``(T, 4)`` params applied to ``(T, N, 2)`` (or broadcastable) displacement vectors:
    rotation and scale only, no shift."""
    a, b = (np.asarray(params, np.float64)[:, i, None] for i in range(2))
    x, y = vectors[..., 0].astype(np.float64), vectors[..., 1].astype(np.float64)
    return np.stack([a * x - b * y, b * x + a * y], -1)


def invert_similarity(params: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Inverse of :func:`apply_similarity`: frame points back to the reference's frame."""
    a, b, tx, ty = (np.asarray(params, np.float64)[:, i, None] for i in range(4))
    x, y = points[..., 0].astype(np.float64) - tx, points[..., 1].astype(np.float64) - ty
    det = a * a + b * b
    return np.stack([(a * x + b * y) / det, (a * y - b * x) / det], -1)

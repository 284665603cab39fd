"""The render mesh: a fixed triangulation over the iBUG-68 landmarks plus a boundary ring.

The ring is an ellipse of points around the face (in canonical units, moving with the
head's similarity transform but never with expression), so that a warp that moves
landmarks fades to zero before the ring and nothing outside it moves. Triangles are a
Delaunay triangulation of the canonical face plus the ring, computed once; the same
index triples are used on every frame, so "a triangle flipped" has one meaning across
the perturbation and render stages.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.spatial import Delaunay

from synth.bases.normalize import canonical_shape

RING_POINTS = 24
#: Ring ellipse radii as multiples of the face's half-extent (x, y), around its centre.
RING_SCALE = (1.45, 1.35)


@functools.cache
def ring_canonical() -> np.ndarray:
    """``(RING_POINTS, 2)`` float64 ring points in canonical units."""
    face = canonical_shape()
    lo, hi = face.min(0), face.max(0)
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    angle = np.linspace(0, 2 * np.pi, RING_POINTS, endpoint=False)
    return centre + half * np.array(RING_SCALE) * np.stack([np.cos(angle), np.sin(angle)], 1)


@functools.cache
def triangles() -> np.ndarray:
    """``(M, 3)`` int64 vertex indices into ``[68 landmarks, RING_POINTS ring points]``,
    counter-clockwise on the canonical face (positive signed area, y down)."""
    points = np.concatenate([canonical_shape(), ring_canonical()])
    tri = Delaunay(points).simplices.astype(np.int64)
    area = signed_areas(points[None], tri)[0]
    tri[area < 0] = tri[area < 0][:, ::-1]
    return tri


def signed_areas(points: np.ndarray, tri: np.ndarray | None = None) -> np.ndarray:
    """Signed area of every triangle in every frame: ``(T, V, 2)`` -> ``(T, M)``."""
    tri = triangles() if tri is None else tri
    a, b, c = points[:, tri[:, 0]], points[:, tri[:, 1]], points[:, tri[:, 2]]
    ab, ac = b - a, c - a
    return 0.5 * (ab[..., 0] * ac[..., 1] - ab[..., 1] * ac[..., 0])


def with_ring(shapes: np.ndarray) -> np.ndarray:
    """``(T, 68, 2)`` canonical-unit shapes -> ``(T, 68 + RING_POINTS, 2)`` with the fixed ring."""
    ring = np.broadcast_to(ring_canonical(), (shapes.shape[0], RING_POINTS, 2))
    return np.concatenate([shapes, ring], 1)


def flipped(source: np.ndarray, target: np.ndarray, min_ratio: float = 0.2) -> np.ndarray:
    """Triangles that flip or collapse going from ``source`` to ``target`` (both ``(T, 68, 2)``,
    canonical units): ``(T, M)`` bool, True where the signed area changes sign or shrinks below
    ``min_ratio`` of the source's."""
    a0 = signed_areas(with_ring(source))
    a1 = signed_areas(with_ring(target))
    return (a1 * a0 <= 0) | (np.abs(a1) < min_ratio * np.abs(a0))

"""The render mesh: the iBUG-68 landmarks, companion vertices that carry each feature, and a boundary ring.

Vertices are ``[68 landmarks, K companions, RING_POINTS ring points]``, V in all (136).

* A *companion* sits at a fixed offset (canonical units, turned and scaled with the
  head) from one landmark and moves exactly with it. The band between a feature's
  landmarks and its companions is therefore carried rigidly: a lifted brow is a
  translated brow, not a brow stretched between its landmark row and the forehead, and
  the stretch happens in the skin beyond the companions. Without them a 3% IOD brow
  lift moved the brow's lower edge by ~70% of the edit and a second landmark model
  recovered a median 72% of it.
* The *ring* is an ellipse of points around the face, moving with the head's
  similarity transform but never with expression, so a warp fades to zero before it
  and nothing beyond it moves.

Triangles are a Delaunay triangulation of one clip's median pose-normalised vertices
(:func:`clip_triangles`): the same index triples on every frame of the clip (so the warp
field does not change topology from frame to frame and "a triangle flipped" has one
meaning across the perturbation and render stages), fitted to how this clip's face
actually looks. A fixed triangulation of the frontal canonical face left source
triangles inverted on turned heads (up to 26 per frame on the shared clips, 0.8 with
the clip's own); what stays inverted is the inner lips of a closed mouth and the far
jaw under strong yaw, where the face covers itself.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from kinefake.synth.bases.normalize import canonical_shape, normalize
from kinefake.synth.geometry import apply_similarity, turn_vectors
from kinefake.synth.landmarks.regions import IBUG68_REGIONS

RING_POINTS = 24
#: Ring ellipse radii as multiples of the face's half-extent (x, y), around its centre.
RING_SCALE = (1.6, 1.45)
#: Companion offsets (IOD): brows get one row above and one below, towards the eye's
#: centre (the iBUG brow points trace the brow's upper edge, its body lies below them;
#: straight down, the inner brow's companion fell on the line to the eye corner and its
#: triangle inverted on a lowered brow); eyes and outer lips one point outward from the
#: region's centre. The jaw has none: under yaw its companions
#: crossed the ring and inverted triangles.
BROW_ABOVE, BROW_BELOW, OUTWARD = 0.06, 0.1, 0.06
OUTWARD_REGIONS = ("eye_right", "eye_left", "mouth_outer")


@functools.cache
def _companions() -> tuple[np.ndarray, np.ndarray]:
    """``(K,)`` int64 parent landmark of each companion and ``(K, 2)`` float64 canonical offsets."""
    face = canonical_shape()
    parents, offsets = [], []
    for brow, eye in (("brow_right", "eye_right"), ("brow_left", "eye_left")):
        eye_centre = face[list(IBUG68_REGIONS[eye])].mean(0)
        for i in IBUG68_REGIONS[brow]:
            down = (eye_centre - face[i]) / np.linalg.norm(eye_centre - face[i])
            parents += [i, i]
            offsets += [(0.0, -BROW_ABOVE), tuple(BROW_BELOW * down)]
    for region in OUTWARD_REGIONS:
        idx = list(IBUG68_REGIONS[region])
        centre = face[idx].mean(0)
        for i in idx:
            direction = face[i] - centre
            parents.append(i)
            offsets.append(tuple(OUTWARD * direction / np.linalg.norm(direction)))
    return np.array(parents, np.int64), np.array(offsets, np.float64)


@functools.cache
def ring_canonical() -> np.ndarray:
    """``(RING_POINTS, 2)`` float64 ring points in canonical units."""
    face = canonical_shape()
    lo, hi = face.min(0), face.max(0)
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    angle = np.linspace(0, 2 * np.pi, RING_POINTS, endpoint=False)
    return centre + half * np.array(RING_SCALE) * np.stack([np.cos(angle), np.sin(angle)], 1)


def canonical_vertices(shapes: np.ndarray) -> np.ndarray:
    """``(T, 68, 2)`` canonical-unit shapes -> ``(T, V, 2)`` float64 mesh vertices."""
    parents, offsets = _companions()
    ring = np.broadcast_to(ring_canonical(), (shapes.shape[0], RING_POINTS, 2))
    return np.concatenate([shapes, shapes[:, parents] + offsets, ring], 1).astype(np.float64)


def clip_triangles(shapes: np.ndarray) -> np.ndarray:
    """The clip's triangulation: ``(T, 68, 2)`` canonical-unit source shapes -> ``(M, 3)`` int64
    vertex indices, counter-clockwise (positive signed area, y down) on the median vertices."""
    from scipy.spatial import Delaunay  # 0.3 s to import: paid by workers, not by every CLI start

    points = np.median(canonical_vertices(shapes), 0)
    tri = Delaunay(points).simplices.astype(np.int64)
    area = signed_areas(points[None], tri)[0]
    tri[area < 0] = tri[area < 0][:, ::-1]
    return tri


def signed_areas(points: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Signed area of every triangle in every frame: ``(T, V, 2)`` and ``(M, 3)`` -> ``(T, M)``."""
    a, b, c = points[:, tri[:, 0]], points[:, tri[:, 1]], points[:, tri[:, 2]]
    ab, ac = b - a, c - a
    return 0.5 * (ab[..., 0] * ac[..., 1] - ab[..., 1] * ac[..., 0])


@dataclass(frozen=True)
class Mesh:
    """A clip's render mesh in pixels.

    Attributes:
        source, target: ``(T, V, 2)`` vertices (landmarks, companions, ring) before
            and after the edit, x then y.
        triangles: ``(M, 3)`` int64 vertex indices, the same on every frame.
    """

    source: np.ndarray
    target: np.ndarray
    triangles: np.ndarray

    def map(self, fn) -> Mesh:
        """The mesh with ``fn(t, vertices)`` applied to both vertex sets of every frame ``t``."""
        return Mesh(
            np.stack([fn(t, v) for t, v in enumerate(self.source)]),
            np.stack([fn(t, v) for t, v in enumerate(self.target)]),
            self.triangles,
        )


def pixel_mesh(source: np.ndarray, target: np.ndarray) -> Mesh:
    """The render mesh in frame pixels for landmarks moving from ``source`` to ``target``.

    Companions and ring are placed with the head pose of ``source`` (a similarity fitted
    on expression-stable points), so they do not depend on the edit: a companion keeps
    its pixel offset from its landmark, the ring stays put.

    Args:
        source, target: ``(T, 68, 2)`` iBUG-68 landmarks, x then y, pixels.

    Returns:
        :class:`Mesh` with float64 vertices.
    """
    shapes, pose = normalize(source.astype(np.float64))
    parents, offsets = _companions()
    frames = len(source)
    ring_px = apply_similarity(pose, np.broadcast_to(ring_canonical(), (frames, RING_POINTS, 2)))
    offset_px = turn_vectors(pose, np.broadcast_to(offsets, (frames, *offsets.shape)))
    src = source.astype(np.float64)
    dst = target.astype(np.float64)
    return Mesh(
        np.concatenate([src, src[:, parents] + offset_px, ring_px], 1),
        np.concatenate([dst, dst[:, parents] + offset_px, ring_px], 1),
        clip_triangles(shapes),
    )


def flipped(
    source: np.ndarray, target: np.ndarray, tri: np.ndarray | None = None, min_ratio: float = 0.2
) -> np.ndarray:
    """Triangles that flip or collapse going from ``source`` to ``target`` (both ``(T, 68, 2)``,
    canonical units): ``(T, M)`` bool, True where the signed area changes sign or shrinks below
    ``min_ratio`` of the source's. ``tri`` is :func:`clip_triangles` of ``source`` (computed
    when not given)."""
    tri = clip_triangles(source) if tri is None else tri
    a0 = signed_areas(canonical_vertices(source), tri)
    a1 = signed_areas(canonical_vertices(target), tri)
    return (a1 * a0 <= 0) | (np.abs(a1) < min_ratio * np.abs(a0))

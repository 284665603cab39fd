"""Piecewise-affine backward warp of one frame, re-rasterising only the triangles that move.

For the triangles with at least one moved vertex, the target triangles are rasterised
into a triangle-index map over their bounding box (``cv2.fillConvexPoly`` with sub-pixel
vertices), each triangle's affine map from target to source is solved in one batched
call, and the box is resampled with one ``cv2.remap``. Every pixel outside the moved
triangles is copied, so it is unchanged bit for bit; inside, the map is continuous
across triangle edges (adjacent triangles share their edge's vertices), so there is no
seam, and it is the identity on the fixed boundary ring, so nothing beyond it moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Sub-pixel bits for rasterising triangle vertices (1/16 px).
SHIFT = 4
INTERPOLATION = {"bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}


class DegenerateMesh(ValueError):
    """Target triangles that flip or collapse; ``triangles`` holds their indices."""

    def __init__(self, message: str, triangles: np.ndarray) -> None:
        super().__init__(message)
        self.triangles = triangles


@dataclass(frozen=True)
class Warped:
    """A warped frame and its displacement field.

    Attributes:
        image: ``(H, W, C)`` uint8, the warped frame.
        box: ``(x0, y0, x1, y1)`` of the region that was resampled (empty when nothing moved).
        displacement: ``(y1 - y0, x1 - x0)`` float32 length of the backward map's
            displacement in pixels inside ``box`` (0 where nothing moved).
    """

    image: np.ndarray
    box: tuple[int, int, int, int]
    displacement: np.ndarray


def _signed_area(tri: np.ndarray) -> np.ndarray:
    ab, ac = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    return 0.5 * (ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0])


def warp_frame(
    frame: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    triangles: np.ndarray,
    interpolation: str = "bilinear",
    min_area: float = 1e-3,
) -> Warped:
    """Move the pixels at ``source`` vertices to ``target`` vertices, piecewise affinely.

    Args:
        frame: ``(H, W, 3)`` uint8.
        source: ``(V, 2)`` vertex positions in ``frame``, x then y, pixels.
        target: ``(V, 2)`` where those vertices go (same units).
        triangles: ``(M, 3)`` vertex indices, counter-clockwise in ``source``.
        interpolation: ``bilinear`` (default) or ``bicubic``.
        min_area: target triangles smaller than this (px²) count as collapsed.

    Returns:
        :class:`Warped`; ``image`` is ``frame`` itself (not a copy) when no vertex moved.

    Raises:
        ValueError: shapes or interpolation not as documented.
        DegenerateMesh: a moved triangle flips orientation or collapses in ``target``.
    """
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2:
        raise ValueError(f"expected source and target (V, 2), got {source.shape} and {target.shape}")
    if interpolation not in INTERPOLATION:
        raise ValueError(f"expected interpolation in {sorted(INTERPOLATION)}, got {interpolation!r}")
    height, width = frame.shape[:2]
    moved_vertex = np.any(source != target, axis=1)
    moved = np.flatnonzero(moved_vertex[triangles].any(1))
    if moved.size == 0:
        return Warped(frame, (0, 0, 0, 0), np.zeros((0, 0), np.float32))
    dst = target[triangles[moved]].astype(np.float64)
    src = source[triangles[moved]].astype(np.float64)
    area_src, area_dst = _signed_area(src), _signed_area(dst)
    bad = (area_dst * np.sign(area_src) <= 0) | (np.abs(area_dst) < min_area)
    if bad.any():
        raise DegenerateMesh(
            f"{int(bad.sum())} target triangles flip or collapse (indices {moved[bad][:8].tolist()})", moved[bad]
        )
    lo = np.floor(dst.reshape(-1, 2).min(0)).astype(int)
    hi = np.ceil(dst.reshape(-1, 2).max(0)).astype(int) + 1
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0], width), min(hi[1], height)
    if x0 >= x1 or y0 >= y1:
        return Warped(frame, (0, 0, 0, 0), np.zeros((0, 0), np.float32))
    index = np.full((y1 - y0, x1 - x0), -1, np.int32)
    corners = np.round((dst - (x0, y0)) * (1 << SHIFT)).astype(np.int32)
    for k, pts in enumerate(corners):
        cv2.fillConvexPoly(index, pts, k, lineType=cv2.LINE_8, shift=SHIFT)
    # Affine map of each moved triangle, target -> source: [x, y, 1] @ A = source point.
    homogeneous = np.concatenate([dst, np.ones((len(dst), 3, 1))], 2)
    affine = np.linalg.solve(homogeneous, src)  # (m, 3, 2)
    # Over the whole box, pixels outside the moved triangles (index -1) take the last row, the
    # identity: x * 1 + y * 0 + 0 is x exactly, so they sample themselves and move by 0.
    a00, a01, a10, a11, a20, a21 = np.concatenate([affine, [[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]]]).reshape(-1, 6).T
    px = np.arange(x0, x1, dtype=np.float64)[None, :]
    py = np.arange(y0, y1, dtype=np.float64)[:, None]
    sx = (px * a00.take(index) + py * a10.take(index) + a20.take(index)).astype(np.float32)
    sy = (px * a01.take(index) + py * a11.take(index) + a21.take(index)).astype(np.float32)
    resampled = cv2.remap(frame, sx, sy, INTERPOLATION[interpolation], borderMode=cv2.BORDER_REFLECT_101)
    out = frame.copy()
    np.copyto(out[y0:y1, x0:x1], resampled, where=(index >= 0)[..., None])
    displacement = np.hypot(sx - px, sy - py).astype(np.float32)
    return Warped(out, (int(x0), int(y0), int(x1), int(y1)), displacement)


def forward_points(points: np.ndarray, source: np.ndarray, target: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Where the warp from ``source`` to ``target`` vertices carries arbitrary ``points``.

    Each point is expressed in barycentric coordinates of the source triangle containing
    it and re-composed from that triangle's target vertices; points outside every
    triangle do not move. This is the warp's intended displacement field, evaluated where
    a validating detector put its landmarks.

    Args:
        points: ``(N, 2)``; source, target: ``(V, 2)``; triangles: ``(M, 3)``; pixels.

    Returns:
        ``(N, 2)`` float64.
    """
    tri_src = source[triangles].astype(np.float64)  # (M, 3, 2)
    a, b, c = tri_src[:, 0], tri_src[:, 1], tri_src[:, 2]
    v0, v1 = b - a, c - a
    det = v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]  # (M,)
    rel = points[:, None, :].astype(np.float64) - a[None]  # (N, M, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (rel[..., 0] * v1[:, 1] - rel[..., 1] * v1[:, 0]) / det
        v = (v0[:, 0] * rel[..., 1] - v0[:, 1] * rel[..., 0]) / det
    inside = (u >= -1e-9) & (v >= -1e-9) & (u + v <= 1 + 1e-9) & (det != 0)
    out = points.astype(np.float64).copy()
    for i in np.flatnonzero(inside.any(1)):
        k = int(np.argmax(inside[i]))
        t = target[triangles[k]].astype(np.float64)
        out[i] = t[0] + u[i, k] * (t[1] - t[0]) + v[i, k] * (t[2] - t[0])
    return out

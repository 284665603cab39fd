"""Render a pseudo-fake clip: crop, warp every frame onto the perturbed landmarks, masks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.landmarks.layout import inter_ocular
from synth.render.crop import crop_boxes, crop_frame, to_crop
from synth.render.masks import patch_mask, pixel_mask
from synth.render.mesh import Mesh, pixel_mesh
from synth.render.warp import warp_frame


@dataclass(frozen=True)
class RenderedClip:
    """Real and fake frames of one clip, in crop (or frame) pixels, with masks.

    Attributes:
        real, fake: ``(T, S, S, 3)`` uint8 (``(T, H, W, 3)`` with ``full_frame``).
        source, target: ``(T, 68, 2)`` float32 landmarks in output pixels.
        pixel: ``(T, S, S)`` uint8 soft mask of displacement magnitude.
        patch: ``(T, 14, 14)`` float16 pixel mask pooled per patch.
        boxes: ``(T, 3)`` float64 crop ``cx, cy, side`` in frame pixels (empty with ``full_frame``).
        mesh: the render :class:`~synth.render.mesh.Mesh`, float32 vertices in output pixels.
    """

    real: np.ndarray
    fake: np.ndarray
    source: np.ndarray
    target: np.ndarray
    pixel: np.ndarray
    patch: np.ndarray
    boxes: np.ndarray
    mesh: Mesh


def render_clip(
    frames: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    fps: float,
    size: int = 256,
    margin: float = 1.3,
    full_frame: bool = False,
    interpolation: str = "bilinear",
) -> RenderedClip:
    """Warp ``frames`` so that the landmarks at ``source`` move to ``target``.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB pristine frames.
        source: ``(T, 68, 2)`` iBUG-68 landmarks of ``frames``, x then y, frame pixels.
        target: ``(T, 68, 2)`` where they should be (a perturbation's target).
        fps: frame rate (the crop box is smoothed over about a second).
        size: crop side in pixels; margin: crop side over the landmarks' box side.
        full_frame: warp the full frames instead of crops.
        interpolation: ``bilinear`` or ``bicubic``.

    Raises:
        ValueError: shapes disagree.
        DegenerateMesh: a triangle would flip (perturbations are checked against this).
    """
    if source.shape != target.shape or source.shape != (len(frames), 68, 2):
        raise ValueError(f"expected source and target ({len(frames)}, 68, 2), got {source.shape}, {target.shape}")
    mesh = pixel_mesh(source, target)
    if full_frame:
        boxes = np.empty((0, 3))
        real = frames
        mesh = mesh.map(lambda _, v: v.astype(np.float32))
    else:
        boxes = crop_boxes(source, fps, margin)
        real = np.stack([crop_frame(f, b, size) for f, b in zip(frames, boxes, strict=True)])
        mesh = mesh.map(lambda t, v: to_crop(v, boxes[t], size))
    iod = inter_ocular(mesh.source[:, :68])
    fake = np.empty_like(real)
    pixel = np.zeros(real.shape[:3], np.uint8)
    for t in range(len(real)):
        warped = warp_frame(real[t], mesh.source[t], mesh.target[t], mesh.triangles, interpolation)
        fake[t] = warped.image
        x0, y0, x1, y1 = warped.box
        pixel[t, y0:y1, x0:x1] = pixel_mask(warped.displacement, float(iod[t]))
    return RenderedClip(real, fake, mesh.source[:, :68], mesh.target[:, :68], pixel, patch_mask(pixel), boxes, mesh)

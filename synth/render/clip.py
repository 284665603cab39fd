"""Render a pseudo-fake clip: crop, warp every frame onto the perturbed landmarks, masks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kinefake.synth.landmarks.regions import inter_ocular
from kinefake.synth.render.blend import BlendParams, blend_frames
from kinefake.synth.render.crop import crop_boxes, crop_frame, to_crop
from kinefake.synth.render.masks import patch_mask, pixel_mask
from kinefake.synth.render.mesh import Mesh, pixel_mesh
from kinefake.synth.render.warp import warp_frame


@dataclass(frozen=True)
class RenderedClip:
    """Real and fake frames of one clip, in crop (or frame) pixels, with masks.

    Attributes:
        real, fake: ``(T, S, S, 3)`` uint8 (``(T, H, W, 3)`` with ``full_frame``).
        source, target: ``(T, 68, 2)`` float32 landmarks in output pixels.
        pixel: ``(T, S, S)`` uint8 soft mask of displacement magnitude.
        patch: ``(T, 14, 14)`` float16 pixel mask pooled per patch.
        boxes: ``(T, 3)`` float64 crop ``cx, cy, side`` in frame pixels (empty with ``full_frame``).
        mesh: the render :class:`~kinefake.synth.render.mesh.Mesh`, float32 vertices in output pixels
            (None for an appearance blend, which moves nothing).
    """

    real: np.ndarray
    fake: np.ndarray
    source: np.ndarray
    target: np.ndarray
    pixel: np.ndarray
    patch: np.ndarray
    boxes: np.ndarray
    mesh: Mesh | None


@dataclass(frozen=True)
class Crops:
    """A clip's pristine output frames and where they came from, shared by all its variants.

    Attributes:
        frames: ``(T, S, S, 3)`` uint8 crops (``(T, H, W, 3)``, the input itself, with ``full_frame``).
        boxes: ``(T, 3)`` float64 crop ``cx, cy, side`` in frame pixels (empty with ``full_frame``).
        size: crop side in pixels (0 with ``full_frame``).
    """

    frames: np.ndarray
    boxes: np.ndarray
    size: int

    @property
    def full_frame(self) -> bool:
        return self.size == 0

    def frame_points(self, t: int, points: np.ndarray) -> np.ndarray:
        """``(..., 2)`` frame-pixel points of frame ``t`` -> output pixels, float32."""
        if self.full_frame:
            return points.astype(np.float32)
        return to_crop(points, self.boxes[t], self.size)

    def points(self, points: np.ndarray) -> np.ndarray:
        """``(T, ..., 2)`` frame-pixel points -> output pixels, float32."""
        return np.stack([self.frame_points(t, p) for t, p in enumerate(points)])


def crop_clip(
    frames: np.ndarray, source: np.ndarray, fps: float, size: int = 256, margin: float = 1.3, full_frame: bool = False
) -> Crops:
    """Square face crops of ``frames`` ``(T, H, W, 3)`` around ``source`` ``(T, N, 2)`` landmarks
    (frame pixels), the box smoothed over about a second; or the frames themselves with ``full_frame``."""
    if full_frame:
        return Crops(frames, np.empty((0, 3)), 0)
    boxes = crop_boxes(source, fps, margin)
    return Crops(np.stack([crop_frame(f, b, size) for f, b in zip(frames, boxes, strict=True)]), boxes, size)


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
    return render_crops(crop_clip(frames, source, fps, size, margin, full_frame), source, target, interpolation)


def render_crops(crops: Crops, source: np.ndarray, target: np.ndarray, interpolation: str = "bilinear") -> RenderedClip:
    """:func:`render_clip` on crops already made (one clip's variants share them).

    Args:
        crops: from :func:`crop_clip` with the same ``source``.
        source, target: ``(T, 68, 2)`` iBUG-68 landmarks, frame pixels.
    """
    frames = crops.frames
    if source.shape != target.shape or source.shape != (len(frames), 68, 2):
        raise ValueError(f"expected source and target ({len(frames)}, 68, 2), got {source.shape}, {target.shape}")
    mesh = pixel_mesh(source, target).map(crops.frame_points)
    iod = inter_ocular(mesh.source[:, :68])
    fake = np.empty_like(frames)
    pixel = np.zeros(frames.shape[:3], np.uint8)
    for t in range(len(frames)):
        warped = warp_frame(frames[t], mesh.source[t], mesh.target[t], mesh.triangles, interpolation)
        fake[t] = warped.image
        x0, y0, x1, y1 = warped.box
        pixel[t, y0:y1, x0:x1] = pixel_mask(warped.displacement, float(iod[t]))
    return RenderedClip(
        frames, fake, mesh.source[:, :68], mesh.target[:, :68], pixel, patch_mask(pixel), crops.boxes, mesh
    )


def paint_crops(
    crops: Crops, source: np.ndarray, paint: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
) -> RenderedClip:
    """The render of a family that moves no landmark: the self-blend or a control
    (:mod:`kinefake.synth.render.blend`) painted on the crops.

    Args:
        crops: from :func:`crop_clip` with the same ``source``.
        source: ``(T, 68, 2)`` iBUG-68 landmarks, frame pixels.
        paint: ``(frames (T, S, S, 3) uint8, points (T, 68, 2) crop pixels) -> (fake frames, (T, S, S)
            float32 weight in [0, 1], 0 where untouched)``, e.g. ``partial(blend_frames, params=...)``.

    Returns:
        A :class:`RenderedClip` whose ``pixel`` mask is the weight (255 = replaced, 0 =
        untouched), ``target`` equal to ``source``, and no mesh.
    """
    points = crops.points(source)
    fake, weights = paint(crops.frames, points)
    pixel = np.ceil(255 * weights).astype(np.uint8)
    return RenderedClip(crops.frames, fake, points, points, pixel, patch_mask(pixel), crops.boxes, None)


def hybrid_crops(
    crops: Crops, source: np.ndarray, target: np.ndarray, params: BlendParams, interpolation: str = "bilinear"
) -> RenderedClip:
    """A hybrid's render: the morph onto ``target`` (:func:`render_crops`), then the self-blend on
    the morphed frames, its mask following the moved landmarks; ``pixel`` is the larger of the
    two masks, so the fake equals the real wherever it is 0.

    Raises:
        DegenerateMesh: the kinematic edit would fold the mesh.
    """
    morphed = render_crops(crops, source, target, interpolation)
    fake, weights = blend_frames(morphed.fake, morphed.target, params)
    pixel = np.maximum(morphed.pixel, np.ceil(255 * weights).astype(np.uint8))
    return RenderedClip(
        crops.frames, fake, morphed.source, morphed.target, pixel, patch_mask(pixel), crops.boxes, morphed.mesh
    )

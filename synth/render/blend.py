"""The appearance family: a video-level self-blend of the face (as in SBI and FakeSTormer).

Most real deepfakes are appearance manipulations: a generated face is pasted into the
frame, and what betrays it is the paste, a boundary, a colour or sharpness that does not
match the rest of the head. A self-blend reproduces that cue with the subject's own
face: each frame is blended with a transformed copy of itself (colour shifted, resampled
at a lower resolution, slightly scaled and shifted) inside a soft mask on the landmarks'
convex hull. The transformation is drawn once per clip and held over every frame, so
the artifact is consistent in time (FakeSTormer's point) and only the face region moves
with the head. Landmarks do not move: this family is labelled ``appearance`` and never
mixes with the kinematic operators' motion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import cv2
import numpy as np

from schemas.sample import PARAM_FIELDS
from synth.bases.model import REGION_NAMES
from synth.landmarks.layout import IBUG68_REGIONS, inter_ocular

#: Operator name of the family's one operator.
BLEND = "blend"


@dataclass(frozen=True)
class BlendParams:
    """One clip's self-blend.

    Attributes:
        ratio: blend weight inside the mask (0 keeps the frame, 1 pastes the copy).
        shrink: the hull is scaled by this about its centroid before feathering.
        feather_iod: Gaussian softening of the mask edge, IOD.
        colour: ``(3,)`` RGB offsets of the copy, grey levels.
        resample: the copy is downscaled by this factor and back up (a resolution mismatch).
        scale: the copy's scale about the hull centroid.
        shift_iod: ``(2,)`` the copy's shift, IOD.
    """

    ratio: float
    shrink: float
    feather_iod: float
    colour: tuple[float, float, float]
    resample: float
    scale: float
    shift_iod: tuple[float, float]

    def to_label(self) -> dict:
        """The label's ``params`` (every field of :data:`schemas.sample.PARAM_FIELDS`, null where unused)."""
        own = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        return {k: own.get(k) for k in PARAM_FIELDS}

    @classmethod
    def from_label(cls, params: dict) -> BlendParams:
        """The blend a label's ``params`` describe (other operators' keys are ignored)."""
        return cls(**{f.name: tuple(v) if isinstance(v := params[f.name], list) else v for f in fields(cls)})


def draw_blend(rng: np.random.Generator, ratio: tuple[float, float]) -> BlendParams:
    """Random :class:`BlendParams` with the blend weight drawn from ``ratio``."""
    return BlendParams(
        ratio=float(rng.uniform(*ratio)),
        shrink=float(rng.uniform(0.85, 1.0)),
        feather_iod=float(rng.uniform(0.04, 0.12)),
        colour=tuple(float(c) for c in rng.uniform(-8, 8, 3)),
        resample=float(rng.uniform(0.4, 0.8)),
        scale=float(rng.uniform(0.98, 1.03)),
        shift_iod=tuple(float(c) for c in rng.uniform(-0.02, 0.02, 2)),
    )


def blend_mask(points: np.ndarray, shape: tuple[int, int], shrink: float, feather_px: float) -> np.ndarray:
    """``(H, W)`` float32 in [0, 1]: the convex hull of ``(68, 2)`` pixel ``points``, scaled by
    ``shrink`` about its centroid, softened by a Gaussian of ``feather_px``."""
    centre = points.mean(0)
    hull = cv2.convexHull(((points - centre) * shrink + centre).astype(np.float32)).astype(np.int32)
    mask = np.zeros(shape, np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0, lineType=cv2.LINE_AA)
    if feather_px > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), feather_px)
    return mask


def blend_frames(frames: np.ndarray, points: np.ndarray, params: BlendParams) -> tuple[np.ndarray, np.ndarray]:
    """Self-blend every frame.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB (face crops).
        points: ``(T, 68, 2)`` iBUG-68 landmarks of ``frames``, pixels.

    Returns:
        The blended ``(T, H, W, 3)`` uint8 frames and the ``(T, H, W)`` float32 blend weight
        (0 where the frame is untouched, bit for bit).

    Raises:
        ValueError: shapes disagree.
    """
    if points.shape != (len(frames), 68, 2):
        raise ValueError(f"expected points ({len(frames)}, 68, 2), got {points.shape}")
    h, w = frames.shape[1:3]
    fake = frames.copy()
    weights = np.zeros(frames.shape[:3], np.float32)
    small = (max(1, round(w * params.resample)), max(1, round(h * params.resample)))
    for t, (frame, pts) in enumerate(zip(frames, points, strict=True)):
        iod = float(inter_ocular(pts))
        weight = params.ratio * blend_mask(pts, (h, w), params.shrink, params.feather_iod * iod)
        weight[weight < 1 / 512] = 0.0  # below half a grey level: leave the pixel as it is
        centre = pts.mean(0)
        warp = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), 0.0, params.scale)
        warp[:, 2] += np.array(params.shift_iod) * iod
        copy = cv2.warpAffine(frame, warp, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        copy = cv2.resize(cv2.resize(copy, small, interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_LINEAR)
        copy = copy.astype(np.float32) + np.array(params.colour, np.float32)
        mixed = frame + weight[..., None] * (copy - frame)
        moved = weight > 0
        fake[t][moved] = np.clip(np.rint(mixed[moved]), 0, 255).astype(np.uint8)
        weights[t] = weight
    return fake, weights


def region_weights(weights: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(T, H, W)`` blend weights sampled at ``(T, 68, 2)`` pixel landmarks -> ``(T, R)`` float32 mean
    weight per region (``REGION_NAMES`` order)."""
    h, w = weights.shape[1:]
    x = np.clip(np.rint(points[..., 0]).astype(int), 0, w - 1)
    y = np.clip(np.rint(points[..., 1]).astype(int), 0, h - 1)
    at = weights[np.arange(len(weights))[:, None], y, x]  # (T, 68)
    return np.stack([at[:, list(IBUG68_REGIONS[name])].mean(1) for name in REGION_NAMES], 1).astype(np.float32)

"""The appearance family: a video-level self-blend of the face at SBI's strength, and the controls.

Most real deepfakes are appearance manipulations: a generated face is pasted into the
frame, and what betrays it is the paste, a boundary, a colour or sharpness that does not
match the rest of the head. A self-blend (SBI, Shiohara & Yamasaki 2022) reproduces that
cue with the subject's own face: each frame is blended with a transformed copy of itself
inside a deformed mask on the landmarks' hull. The copy's transformation follows SBI's
source transform: an RGB shift of up to ±20 grey levels (with probability 0.3),
brightness and contrast ±10%, then either a 2x or 4x down-and-up resample (nearest down,
linear up) or a sharpen, and an affine of ±3% / ±1.5% of the crop in x / y and a scale of
0.95-1/0.95; the blend weight is drawn from {0.25, 0.5, 0.75, 1, 1, 1} (a full paste half
of the time). Everything is drawn once per clip and held over every frame, so the
artifact is consistent in time (FakeSTormer's point) and the mask moves with the face.
Landmarks do not move.

The ``control`` family (:func:`control_frames`) applies known artifacts inside the same
hull, to calibrate a detector before it judges a corpus: a Gaussian blur of a given sigma,
or a flicker of ±a grey levels on alternate frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import cv2
import numpy as np

from kinefake.schemas.members import PARAM_FIELDS
from kinefake.synth.bases.model import REGION_NAMES
from kinefake.synth.landmarks.regions import IBUG68_REGIONS, inter_ocular

#: Operator name of the appearance family's one operator.
BLEND = "blend"
#: The control family's operators: a blur of ``blur_sigma_px`` and a flicker of ``flicker_grey``.
BLUR, FLICKER = "blur", "flicker"
#: SBI's blend weights (a full paste half of the time).
SBI_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
#: SBI's resample factors (2x or 4x down and up).
SBI_RESAMPLES = (0.5, 0.25)
#: The hulls a mask can follow: the whole face, the face below the eyes, the inner face (no jaw line).
HULLS = {
    "face": tuple(range(68)),
    "lower": tuple(range(0, 17)) + tuple(range(28, 36)),
    "inner": tuple(range(17, 68)),
}
#: Harmonics of the hull's smooth deformation.
DEFORM_HARMONICS = 3


def _listed(value):
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class MaskParams:
    """The blend or control mask of one clip: a deformed, feathered hull of the landmarks.

    Attributes:
        hull: which landmarks' hull (a key of :data:`HULLS`).
        shrink: the hull is scaled by this about its centroid.
        deform: amplitude of a smooth random change of the hull's radius, a fraction of it.
        deform_seed: seed of the deformation's harmonics (held over the clip).
        feather_iod: Gaussian softening of the mask edge, IOD.
    """

    hull: str
    shrink: float
    deform: float
    deform_seed: int
    feather_iod: float


@dataclass(frozen=True)
class BlendParams:
    """One clip's self-blend (see the module's description for the ranges).

    Attributes:
        mask: the blend mask.
        ratio: blend weight inside the mask (0 keeps the frame, 1 pastes the copy).
        colour: ``(3,)`` RGB offsets of the copy, grey levels.
        brightness: offset of the copy, a fraction of 255; contrast: the copy is scaled by ``1 + contrast``.
        resample: the copy is downscaled by this factor and back up (1: not resampled).
        sharpen: strength of a 3x3 sharpen of the copy (null when resampled instead);
            lightness: the sharpen kernel's centre is ``8 + lightness``.
        scale: the copy's scale about the hull centroid.
        shift_iod: ``(2,)`` the copy's shift, IOD.
    """

    mask: MaskParams
    ratio: float
    colour: tuple[float, float, float]
    brightness: float
    contrast: float
    resample: float
    sharpen: float | None
    lightness: float | None
    scale: float
    shift_iod: tuple[float, float]

    def to_label(self) -> dict:
        """The label's ``params`` (every field of :data:`kinefake.schemas.members.PARAM_FIELDS`, null where unused)."""
        own = {k: _listed(v) for k, v in asdict(self).items() if k != "mask"}
        own.update(asdict(self.mask))
        return {k: own.get(k) for k in PARAM_FIELDS}

    @classmethod
    def from_label(cls, params: dict) -> BlendParams:
        """The blend a label's ``params`` describe (other operators' keys are ignored)."""
        own = {
            f.name: tuple(v) if isinstance(v := params[f.name], list) else v for f in fields(cls) if f.name != "mask"
        }
        return cls(mask=MaskParams(**{f.name: params[f.name] for f in fields(MaskParams)}), **own)


@dataclass(frozen=True)
class ControlParams:
    """One clip's known artifact inside the face hull.

    Attributes:
        mask: where (a plain, lightly feathered face hull).
        blur_sigma_px: Gaussian blur inside the mask, pixels (null for a flicker).
        flicker_grey: ``+a`` on even frames, ``-a`` on odd ones inside the mask, grey levels (null for a blur).
    """

    mask: MaskParams
    blur_sigma_px: float | None
    flicker_grey: float | None

    def to_label(self) -> dict:
        own = {"blur_sigma_px": self.blur_sigma_px, "flicker_grey": self.flicker_grey, **asdict(self.mask)}
        return {k: own.get(k) for k in PARAM_FIELDS}

    @classmethod
    def from_label(cls, params: dict) -> ControlParams:
        return cls(
            MaskParams(**{f.name: params[f.name] for f in fields(MaskParams)}),
            params["blur_sigma_px"],
            params["flicker_grey"],
        )


def _from_set(rng: np.random.Generator, values: tuple[float, ...], low: float, high: float) -> float:
    """A draw from ``values`` inside ``[low, high]`` (uniform in the range when none is)."""
    inside = [v for v in values if low <= v <= high]
    return float(inside[int(rng.integers(len(inside)))]) if inside else float(rng.uniform(low, high))


def draw_mask(rng: np.random.Generator) -> MaskParams:
    """A random SBI-style deformed hull."""
    names = sorted(HULLS)
    return MaskParams(
        hull=names[int(rng.integers(len(names)))],
        shrink=float(rng.uniform(0.9, 1.05)),
        deform=float(rng.uniform(0.0, 0.08)),
        deform_seed=int(rng.integers(2**31)),
        feather_iod=float(rng.uniform(0.02, 0.1)),
    )


def draw_blend(rng: np.random.Generator, ratio: tuple[float, float]) -> BlendParams:
    """Random :class:`BlendParams` at SBI's strength, the blend weight drawn from :data:`SBI_RATIOS`
    inside ``ratio`` (uniform in ``ratio`` when no SBI weight lies in it)."""
    mask = draw_mask(rng)
    colour = tuple(float(c) for c in rng.uniform(-20, 20, 3)) if rng.random() < 0.3 else (0.0, 0.0, 0.0)
    brightness, contrast = (float(v) for v in rng.uniform(-0.1, 0.1, 2))
    if rng.random() < 0.5:
        resample, sharpen, lightness = float(SBI_RESAMPLES[int(rng.integers(2))]), None, None
    else:
        resample, sharpen, lightness = 1.0, float(rng.uniform(0.2, 0.5)), float(rng.uniform(0.5, 1.0))
    return BlendParams(
        mask=mask,
        ratio=_from_set(rng, SBI_RATIOS, *ratio),
        colour=colour,
        brightness=brightness,
        contrast=contrast,
        resample=resample,
        sharpen=sharpen,
        lightness=lightness,
        scale=float(np.exp(rng.uniform(np.log(0.95), -np.log(0.95)))),
        shift_iod=(float(rng.uniform(-0.09, 0.09)), float(rng.uniform(-0.045, 0.045))),
    )


def control_mask() -> MaskParams:
    """The controls' mask: the whole face's hull, undeformed, feathered by 0.02 IOD."""
    return MaskParams(hull="face", shrink=1.0, deform=0.0, deform_seed=0, feather_iod=0.02)


def _hull_points(points: np.ndarray, mask: MaskParams) -> np.ndarray:
    """``(68, 2)`` pixel landmarks -> the deformed hull polygon ``(M, 2)`` float32."""
    chosen = points[list(HULLS[mask.hull])]
    centre = chosen.mean(0)
    hull = cv2.convexHull(chosen.astype(np.float32))[:, 0].astype(np.float64)
    offset = (hull - centre) * mask.shrink
    if mask.deform > 0:
        harmonics = np.random.default_rng(mask.deform_seed).normal(0, 1, (DEFORM_HARMONICS, 2))
        angle = np.arctan2(offset[:, 1], offset[:, 0])
        k = np.arange(1, DEFORM_HARMONICS + 1)[:, None]
        wave = (harmonics[:, :1] * np.cos(k * angle) + harmonics[:, 1:] * np.sin(k * angle)).sum(0)
        offset *= 1 + mask.deform * np.clip(wave / np.sqrt(DEFORM_HARMONICS), -2, 2)[:, None]
    return (centre + offset).astype(np.float32)


def hull_mask(points: np.ndarray, shape: tuple[int, int], mask: MaskParams) -> np.ndarray:
    """``(H, W)`` float32 in [0, 1]: the deformed hull of ``(68, 2)`` pixel ``points``, feathered
    by ``mask.feather_iod`` x the IOD; exactly 0 below half a grey level of weight."""
    out = np.zeros(shape, np.float32)
    cv2.fillPoly(out, [np.rint(_hull_points(points, mask) * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
    feather = mask.feather_iod * float(inter_ocular(points))
    if feather > 0:
        out = np.clip(cv2.GaussianBlur(out, (0, 0), feather), 0, 1)  # the blur's rounding can pass 1
    out[out < 1 / 512] = 0.0
    return out


def _copy(frame: np.ndarray, centre: np.ndarray, iod: float, params: BlendParams) -> np.ndarray:
    """``(H, W, 3)`` uint8 frame -> its SBI-transformed copy, float32."""
    h, w = frame.shape[:2]
    copy = frame.astype(np.float32) * (1 + params.contrast) + (params.brightness * 255 + np.array(params.colour))
    copy = np.clip(copy, 0, 255)
    if params.sharpen is not None:
        kernel = np.full((3, 3), -1.0, np.float32)
        kernel[1, 1] = 8 + params.lightness
        identity = np.zeros((3, 3), np.float32)
        identity[1, 1] = 1
        copy = cv2.filter2D(copy, -1, (1 - params.sharpen) * identity + params.sharpen * kernel)
    elif params.resample < 1:
        small = (max(1, round(w * params.resample)), max(1, round(h * params.resample)))
        copy = cv2.resize(
            cv2.resize(copy, small, interpolation=cv2.INTER_NEAREST), (w, h), interpolation=cv2.INTER_LINEAR
        )
    warp = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), 0.0, params.scale)
    warp[:, 2] += np.array(params.shift_iod) * iod
    return cv2.warpAffine(copy, warp, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _mix(frame: np.ndarray, other: np.ndarray, weight: np.ndarray, out: np.ndarray) -> None:
    """``out`` = ``frame`` where ``weight`` is 0 (bit for bit), else the rounded mix toward ``other``."""
    moved = weight > 0
    mixed = frame[moved] + weight[moved][:, None] * (other[moved] - frame[moved])
    out[moved] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def _check(frames: np.ndarray, points: np.ndarray) -> None:
    if points.shape != (len(frames), 68, 2):
        raise ValueError(f"expected points ({len(frames)}, 68, 2), got {points.shape}")


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
    _check(frames, points)
    fake = frames.copy()
    weights = np.zeros(frames.shape[:3], np.float32)
    for t, (frame, pts) in enumerate(zip(frames, points, strict=True)):
        weights[t] = params.ratio * hull_mask(pts, frame.shape[:2], params.mask)
        weights[t][weights[t] < 1 / 512] = 0.0
        copy = _copy(frame, pts[list(HULLS[params.mask.hull])].mean(0), float(inter_ocular(pts)), params)
        _mix(frame, copy, weights[t], fake[t])
    return fake, weights


def control_frames(frames: np.ndarray, points: np.ndarray, params: ControlParams) -> tuple[np.ndarray, np.ndarray]:
    """Apply a control artifact inside the face hull of every frame.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB (face crops).
        points: ``(T, 68, 2)`` iBUG-68 landmarks of ``frames``, pixels.

    Returns:
        The ``(T, H, W, 3)`` uint8 frames and the ``(T, H, W)`` float32 mask weight (0 where
        the frame is untouched, bit for bit).

    Raises:
        ValueError: shapes disagree, or neither (or both) of blur and flicker is set.
    """
    _check(frames, points)
    if (params.blur_sigma_px is None) == (params.flicker_grey is None):
        raise ValueError(f"expected one of blur_sigma_px and flicker_grey, got {params}")
    fake = frames.copy()
    weights = np.zeros(frames.shape[:3], np.float32)
    for t, (frame, pts) in enumerate(zip(frames, points, strict=True)):
        weights[t] = hull_mask(pts, frame.shape[:2], params.mask)
        if params.blur_sigma_px is not None:
            other = cv2.GaussianBlur(frame.astype(np.float32), (0, 0), params.blur_sigma_px)
        else:
            other = frame.astype(np.float32) + (params.flicker_grey if t % 2 == 0 else -params.flicker_grey)
        _mix(frame, other, weights[t], fake[t])
    return fake, weights


def region_weights(weights: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(T, H, W)`` blend weights sampled at ``(T, 68, 2)`` pixel landmarks -> ``(T, R)`` float32 mean
    weight per region (``REGION_NAMES`` order)."""
    h, w = weights.shape[1:]
    x = np.clip(np.rint(points[..., 0]).astype(int), 0, w - 1)
    y = np.clip(np.rint(points[..., 1]).astype(int), 0, h - 1)
    at = weights[np.arange(len(weights))[:, None], y, x]  # (T, 68)
    return np.stack([at[:, list(IBUG68_REGIONS[name])].mean(1) for name in REGION_NAMES], 1).astype(np.float32)

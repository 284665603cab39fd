"""Stage 6's content: one clip's real and pseudo-fake samples as WebDataset members.

A sample is one variant of one clip, keyed ``{video_id}_{clip:04d}_{variant}`` with
variant ``real`` or ``fakeN``; its members and label fields are the contract in
:mod:`kinefake.schemas.members` (``mp4``, ``json``, ``landmarks.npy``, ``mask.npz``).

Everything here is a pure function of its inputs: the same clip, landmarks, model,
policy and seed give byte-identical members.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from kinefake import __version__
from kinefake.errors import Rejected
from kinefake.schemas.clips import ClipRecord
from kinefake.schemas.common import SCHEMA_VERSION
from kinefake.schemas.landmarks import ClipLandmarks
from kinefake.schemas.members import FAKE_PREFIX, LABEL, LANDMARKS, MASKS, MP4, PATCH_GRID, REAL
from kinefake.synth.bases.model import REGION_NAMES
from kinefake.synth.perturb.apply import Perturbation
from kinefake.synth.perturb.motion import ClipMotion
from kinefake.synth.perturb.policy import (
    APPEARANCE,
    CONTROL,
    HYBRID,
    PerturbPolicy,
    sample_perturbation,
    sample_seed,
    unusable_reason,
)
from kinefake.synth.render.blend import BlendParams, ControlParams, blend_frames, control_frames, region_weights
from kinefake.synth.render.clip import Crops, RenderedClip, crop_clip, hybrid_crops, paint_crops, render_crops
from kinefake.synth.render.warp import DegenerateMesh
from kinefake.synth.video import encode_mp4

#: Largest crop side, pixels: a detector input, and a 32-frame clip's masks stay in memory.
MAX_SIZE = 1024
#: Resampling of the warp.
INTERPOLATIONS = ("bilinear", "bicubic")
#: libx264 presets, fastest first.
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass(frozen=True)
class SampleConfig:
    """How a clip becomes samples.

    Attributes:
        fakes: pseudo-fake variants per clip (``fake0`` .. ``fake{fakes-1}``).
        size: crop side in pixels; margin: crop side over the landmarks' box side.
        interpolation: ``bilinear`` or ``bicubic`` resampling in the warp.
        crf, preset: libx264 settings of the ``mp4`` member.
    """

    fakes: int = 1
    size: int = 256
    margin: float = 1.3
    interpolation: str = "bilinear"
    crf: int = 18
    preset: str = "veryfast"

    def __post_init__(self) -> None:
        if self.fakes < 0:
            raise ValueError(f"expected fakes >= 0, got {self.fakes}")
        if not 16 <= self.size <= MAX_SIZE:
            raise ValueError(f"expected a crop size of 16 to {MAX_SIZE} px, got {self.size}")
        if not 1 <= self.margin <= 4:  # NaN fails too
            raise ValueError(f"expected 1 <= margin <= 4, got {self.margin}")
        if not 0 <= self.crf <= 51:
            raise ValueError(f"expected crf in 0..51, got {self.crf}")
        if self.interpolation not in INTERPOLATIONS or self.preset not in PRESETS:
            raise ValueError(
                f"expected interpolation in {INTERPOLATIONS} and preset in {PRESETS}, "
                f"got {self.interpolation!r}, {self.preset!r}"
            )


@dataclass(frozen=True)
class Sample:
    """One variant of one clip.

    Attributes:
        key: ``{video_id}_{clip:04d}_{variant}``.
        label: the ``json`` member as a dict.
        members: WebDataset members by extension: ``mp4``, ``json``, ``landmarks.npy``, ``mask.npz``.
    """

    key: str
    label: dict
    members: dict[str, bytes] = field(repr=False)


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


@functools.lru_cache(maxsize=16)
def _real_masks(frames: int, size: int) -> bytes:
    """The ``mask.npz`` member of a real sample: every mask 0 (same bytes for every real
    clip of a size, compressed once; 2 MB of zeros cost 5 ms to deflate)."""
    return _npz(
        pixel=np.zeros((frames, size, size), np.uint8),  # the keys of kinefake.schemas.members.MASK_ARRAYS
        region=np.zeros((frames, len(REGION_NAMES)), np.float16),
        patch=np.zeros((frames, PATCH_GRID, PATCH_GRID), np.float16),
    )


def _sample(key: str, label: dict, clip: np.ndarray, fps: Fraction, landmarks: np.ndarray, masks: bytes, config):
    """A :class:`Sample`; ``masks`` is its ``mask.npz`` member, encoded."""
    return Sample(
        key,
        label,
        {
            MP4: encode_mp4(clip, fps, crf=config.crf, preset=config.preset),
            LABEL: json.dumps(label, sort_keys=True, separators=(",", ":")).encode(),
            LANDMARKS: _npy(landmarks.astype(np.float32)),
            MASKS: masks,
        },
    )


def crop_for_samples(clip: ClipRecord, frames: np.ndarray, lm: ClipLandmarks, config: SampleConfig) -> Crops:
    """The clip's face crops that all its samples share (``config.size``, ``config.margin``).

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB decoded frames of the clip.
        lm: the clip's landmarks.
    """
    return crop_clip(frames, lm.ibug68, clip.fps_num / clip.fps_den, config.size, config.margin)


def render_fake(
    crops: Crops, source: np.ndarray, fake: Perturbation, interpolation: str = "bilinear"
) -> tuple[RenderedClip, np.ndarray]:
    """Render one drawn fake on a clip's crops, by its family: the morph for kinematic
    operators, the self-blend for the appearance one, both for a hybrid, a known artifact
    for a control.

    Args:
        source: ``(T, 68, 2)`` the clip's iBUG-68 landmarks, frame pixels.

    Returns:
        The rendered clip and its ``(T, R)`` float32 ``region`` mask: the perturbation's
        per-region displacement (IOD; a hybrid's too), or per-region blend (control) weight.

    Raises:
        DegenerateMesh: a kinematic edit would fold the mesh.
    """
    family, params = fake.label["family"], fake.label["params"]
    if family in (APPEARANCE, CONTROL):
        paint = (
            functools.partial(blend_frames, params=BlendParams.from_label(params))
            if family == APPEARANCE
            else functools.partial(control_frames, params=ControlParams.from_label(params))
        )
        rendered = paint_crops(crops, source, paint)
        return rendered, region_weights(rendered.pixel.astype(np.float32) / 255, rendered.source)
    if family == HYBRID:
        return hybrid_crops(crops, source, fake.target, BlendParams.from_label(params), interpolation), (
            fake.region_displacement
        )
    return render_crops(crops, source, fake.target, interpolation), fake.region_displacement


def make_fake(
    key: str,
    seed: int,
    crops: Crops,
    source: np.ndarray,
    motion: ClipMotion,
    policy: PerturbPolicy,
    donors: Sequence[tuple[str, np.ndarray]] = (),
    interpolation: str = "bilinear",
) -> tuple[Perturbation, RenderedClip, np.ndarray]:
    """Fake ``key``: its perturbation drawn and rendered, before any encoding. The one path
    from a clip to a fake's pixels: :func:`make_samples` encodes what it returns, and
    ``kinefake validate`` rebuilds a stored fake with it.

    Args:
        source: ``(T, 68, 2)`` the clip's iBUG-68 landmarks, frame pixels.

    Returns:
        The perturbation, the rendered clip and its ``(T, R)`` ``region`` mask (see
        :func:`render_fake`).

    Raises:
        Rejected: "no usable perturbation" after the policy's draws, or "mesh would fold".
    """
    fake = sample_perturbation(key, seed, motion, policy, donors)
    if fake is None:
        raise Rejected("no usable perturbation", unusable_reason(motion, policy, donors))
    try:
        rendered, region = render_fake(crops, source, fake, interpolation)
    except DegenerateMesh as exc:
        raise Rejected("mesh would fold", str(exc)) from None
    return fake, rendered, region


def make_samples(
    clip: ClipRecord,
    crops: Crops,
    lm: ClipLandmarks,
    motion: ClipMotion,
    bases_info: dict,
    policy: PerturbPolicy,
    seed: int,
    config: SampleConfig | None = None,
    donors: Sequence[tuple[str, np.ndarray]] = (),
) -> tuple[list[Sample], list[tuple[str, Rejected]]]:
    """The real sample and ``config.fakes`` pseudo-fakes of one clip
    (:func:`real_sample`, then :func:`fake_samples`).

    Args:
        clip: the clip (its key, source URI, frame range, frame rate).
        crops: the clip's crops from :func:`crop_for_samples` (frames are not needed
            beyond them, so a caller can keep several clips' crops instead of their frames).
        lm: the clip's landmarks (``lm.ibug68`` ``(T, 68, 2)`` frame pixels).
        motion: the clip's motion, ``ClipMotion.from_points(lm.ibug68, bases)`` (the caller
            has it anyway: its coefficients are other clips' transplant donors).
        bases_info: the motion-bases model's summary for the label (``kind``, ``k``, ``data_sha256``).
        policy, seed: the perturbation policy and the job's seed.
        config: how (default :class:`SampleConfig`).
        donors: ``(key, (T', k) coefficients)`` of other clips, for ``transplant``.

    Returns:
        The samples (real first), and ``(variant, Rejected)`` for each fake that could
        not be made (no usable perturbation after the policy's draws, or a mesh that
        would fold), so the caller can account for it.
    """
    fakes, failed = fake_samples(clip, crops, lm, motion, bases_info, policy, seed, config, donors)
    return [real_sample(clip, crops, lm, bases_info, seed, config), *fakes], failed


def _label(key: str, variant: str, perturbation: dict | None, seed: int, base: dict) -> dict:
    """A sample's ``json`` member: its own fields (label 1 exactly when it has a perturbation)
    and ``base``, the fields every sample of its clip shares (:func:`_label_base`)."""
    return {
        "key": key,
        "variant": variant,
        "label": int(perturbation is not None),
        "sample_seed": sample_seed(seed, key),
        "perturbation": perturbation,
        **base,
    }


def _label_base(clip: ClipRecord, crops: Crops, lm: ClipLandmarks, bases_info: dict, seed: int, config) -> dict:
    """The label fields every sample of a clip shares: source, crop, seed, versions."""
    return {
        "source": {
            "uri": clip.uri,
            "video_id": clip.video_id,
            "clip": clip.clip,
            "split": clip.split,
            "start_frame": clip.start_frame,
            "num_frames": clip.num_frames,
            "fps_num": clip.fps_num,
            "fps_den": clip.fps_den,
        },
        "crop": {
            "size": crops.size,
            "margin": config.margin,
            "boxes": [dict(zip(("cx", "cy", "side"), box, strict=True)) for box in np.round(crops.boxes, 3).tolist()],
        },
        "seed": seed,
        "versions": {
            "kinefake": __version__,
            "schema": SCHEMA_VERSION,
            "landmarks": lm.model_version,
            "bases": {k: bases_info.get(k) for k in ("kind", "k", "data_sha256")},
        },
    }


def real_sample(
    clip: ClipRecord, crops: Crops, lm: ClipLandmarks, bases_info: dict, seed: int, config: SampleConfig | None = None
) -> Sample:
    """The clip's real sample: its crops encoded, every mask 0. It needs no other clip, so
    a caller can make it while the landmarks of the next clips are fitted.

    Args: as :func:`make_samples`.
    """
    config = SampleConfig() if config is None else config
    key = f"{clip.key}_{REAL}"
    label = _label(key, REAL, None, seed, _label_base(clip, crops, lm, bases_info, seed, config))
    t, s = crops.frames.shape[:2]
    fps = Fraction(clip.fps_num, clip.fps_den)
    return _sample(key, label, crops.frames, fps, crops.points(lm.ibug68), _real_masks(t, s), config)


def fake_samples(
    clip: ClipRecord,
    crops: Crops,
    lm: ClipLandmarks,
    motion: ClipMotion,
    bases_info: dict,
    policy: PerturbPolicy,
    seed: int,
    config: SampleConfig | None = None,
    donors: Sequence[tuple[str, np.ndarray]] = (),
) -> tuple[list[Sample], list[tuple[str, Rejected]]]:
    """The clip's ``config.fakes`` pseudo-fakes, and ``(variant, Rejected)`` for each not made.

    Args: as :func:`make_samples`.
    """
    config = SampleConfig() if config is None else config
    fps = Fraction(clip.fps_num, clip.fps_den)
    base = _label_base(clip, crops, lm, bases_info, seed, config)
    samples, failed = [], []
    for n in range(config.fakes):
        variant = f"{FAKE_PREFIX}{n}"
        key = f"{clip.key}_{variant}"
        try:
            fake, rendered, region = make_fake(
                key, seed, crops, lm.ibug68, motion, policy, donors, config.interpolation
            )
        except Rejected as exc:
            failed.append((variant, exc))
            continue
        label = _label(key, variant, fake.label, seed, base)
        masks = _npz(pixel=rendered.pixel, region=region.astype(np.float16), patch=rendered.patch)
        samples.append(_sample(key, label, rendered.fake, fps, rendered.target, masks, config))
    return samples, failed

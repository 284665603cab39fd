"""Landmark trajectories of one clip: track, smooth, pose, visibility, quality gates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinefake.errors import Rejected
from kinefake.schemas.landmarks import ClipLandmarks
from kinefake.synth.landmarks.backends import LandmarkBackend
from kinefake.synth.landmarks.pose import camera_matrix, euler_degrees, solve_poses, visibility
from kinefake.synth.landmarks.regions import inter_ocular, to_ibug68
from kinefake.synth.landmarks.smooth import rigid_jitter, smooth_points
from kinefake.synth.landmarks.track import Track, TrackConfig, points_box, track_clip


@dataclass(frozen=True)
class GateConfig:
    """Quality gates; a clip failing one is rejected with the measured value.

    Attributes:
        min_iod_px: smallest median inter-ocular distance, pixels (tiny faces).
        max_abs_yaw: largest |yaw| on any frame, degrees (profile views).
        min_confidence: smallest mean detector score of the subject.
        max_jitter: largest rigid-point jitter left after smoothing, IOD per frame.
    """

    min_iod_px: float = 20.0
    max_abs_yaw: float = 45.0
    min_confidence: float = 0.5
    max_jitter: float = 0.02

    def __post_init__(self) -> None:
        if not (
            self.min_iod_px >= 0 and self.max_abs_yaw >= 0 and 0 <= self.min_confidence <= 1 and self.max_jitter >= 0
        ):
            raise ValueError(  # NaN fails every comparison, so it lands here too
                "expected min_iod_px >= 0, max_abs_yaw >= 0, 0 <= min_confidence <= 1 and max_jitter >= 0, got "
                f"{self.min_iod_px}, {self.max_abs_yaw}, {self.min_confidence}, {self.max_jitter}"
            )


def extract_landmarks(
    frames: np.ndarray,
    backend: LandmarkBackend,
    fps: float,
    track: TrackConfig | None = None,
    gates: GateConfig | None = None,
) -> ClipLandmarks:
    """Track the subject through ``frames`` ``(T, H, W, 3)`` uint8 RGB and describe every frame.

    Raises:
        Rejected: from tracking ("no face", "competing faces", "face lost") or a gate
            ("face too small", "head turned too far", "low confidence", "too much jitter"),
            or "no pose" when PnP fails on degenerate landmarks.
    """
    return describe_track(track_clip(frames, backend, track), backend, fps, frames.shape[2], frames.shape[1], gates)


def describe_track(
    raw: Track, backend: LandmarkBackend, fps: float, width: int, height: int, gates: GateConfig | None = None
) -> ClipLandmarks:
    """Smooth a raw :class:`Track` of a ``width`` x ``height`` clip, add pose and visibility, apply the gates.

    Raises:
        Rejected: "no pose", or a gate (as :func:`extract_landmarks`).
    """
    gates = gates or GateConfig()
    points = smooth_points(raw.points, fps)
    ibug = to_ibug68(points, backend.layout)
    iod = inter_ocular(ibug).astype(np.float32)
    camera = camera_matrix(width, height)
    try:
        rotation, translation, _ = solve_poses(points, backend.layout, camera)
    except ValueError as exc:
        raise Rejected("no pose", f"head pose could not be solved: {exc}") from None
    euler = euler_degrees(rotation)
    result = ClipLandmarks(
        layout=backend.layout,
        backend=backend.name,
        model_version=backend.version,
        points=points,
        ibug68=ibug,
        confidence=raw.confidence,
        visibility=visibility(backend.layout, rotation, translation),
        rotation=rotation,
        translation=translation,
        euler=euler,
        bbox=points_box(points),
        iod=iod,
        interpolated=raw.lost,
        raw_jitter=rigid_jitter(to_ibug68(raw.points, backend.layout)),
        jitter=rigid_jitter(ibug),
    )
    check_gates(result, gates)
    return result


def check_gates(lm: ClipLandmarks, gates: GateConfig) -> None:
    """Raise :class:`Rejected` for the first gate ``lm`` fails (naming gate, value, threshold)."""
    iod = float(np.median(lm.iod))
    if iod < gates.min_iod_px:
        raise Rejected(
            "face too small",
            f"median inter-ocular distance {iod:.1f} px < min_iod_px {gates.min_iod_px:g}",
            iod,
            gates.min_iod_px,
        )
    yaw = float(np.abs(lm.euler[:, 0]).max())
    if yaw > gates.max_abs_yaw:
        raise Rejected(
            "head turned too far",
            f"|yaw| reaches {yaw:.1f}° > max_abs_yaw {gates.max_abs_yaw:g}°",
            yaw,
            gates.max_abs_yaw,
        )
    fitted = lm.confidence[~lm.interpolated]
    confidence = float(fitted.mean()) if fitted.size else 0.0
    if confidence < gates.min_confidence:
        raise Rejected(
            "low confidence",
            f"mean detector score {confidence:.2f} < min_confidence {gates.min_confidence:g}",
            confidence,
            gates.min_confidence,
        )
    if lm.jitter > gates.max_jitter:
        raise Rejected(
            "too much jitter",
            f"rigid-point jitter after smoothing {lm.jitter:.4f} IOD/frame > max_jitter {gates.max_jitter:g}",
            lm.jitter,
            gates.max_jitter,
        )

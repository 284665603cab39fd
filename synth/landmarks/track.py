"""Track the primary face through a clip: choose it, follow it, re-detect, reject the unusable.

The subject is the face with the best ``sqrt(area) * centrality * score`` on the first
frame where any face is found; afterwards the detector runs every ``detect_every`` frames
(and after any frame where the fit failed) and the subject is the detection overlapping
the tracked box most. A clip is rejected when no face is found, when another face of
comparable size competes with the subject (crowds, audiences, two-shots), or when the
subject is lost for more than ``max_lost_frames`` frames in a row. Shorter gaps are
filled by linear interpolation and flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinefake.errors import Rejected
from kinefake.synth.landmarks.backends import Detection, LandmarkBackend


@dataclass(frozen=True)
class TrackConfig:
    """Tracking settings.

    Attributes:
        detect_every: run the detector every this many frames (and after a lost frame).
        max_lost_frames: the longest run of frames without a fit that is interpolated.
        compete_ratio: another face whose box area is at least this fraction of the
            subject's competes with it, and the clip is rejected.
        match_iou: a detection overlapping the tracked box at least this much is the subject.
    """

    detect_every: int = 8
    max_lost_frames: int = 3
    compete_ratio: float = 0.35
    match_iou: float = 0.3

    def __post_init__(self) -> None:
        if self.detect_every < 1 or self.max_lost_frames < 0:
            raise ValueError(
                f"expected detect_every >= 1 and max_lost_frames >= 0, got {self.detect_every}, {self.max_lost_frames}"
            )
        if not (self.compete_ratio >= 0 and 0 < self.match_iou <= 1):  # NaN fails too
            raise ValueError(
                f"expected compete_ratio >= 0 and 0 < match_iou <= 1, got {self.compete_ratio}, {self.match_iou}"
            )


@dataclass
class Track:
    """The subject's raw landmarks through a clip.

    Attributes:
        points: ``(T, N, 2)`` float32, x then y, frame pixels; lost frames interpolated.
        confidence: ``(T,)`` float32, the detector's score of the subject at the most
            recent detection, 0 on frames where the fit failed.
        lost: ``(T,)`` bool, frames whose points were interpolated.
    """

    points: np.ndarray
    confidence: np.ndarray
    lost: np.ndarray


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``(4,)`` boxes ``x0, y0, x1, y1``."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _area(box: np.ndarray) -> float:
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))


def choose_primary(detections: list[Detection], width: int, height: int) -> Detection:
    """The detection with the best ``sqrt(area) * centrality * score``."""

    def merit(d: Detection) -> float:
        cx, cy = (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2
        off = np.hypot((cx - width / 2) / width, (cy - height / 2) / height) / np.hypot(0.5, 0.5)
        return np.sqrt(_area(d.box)) * (1.0 - 0.5 * off) * d.score

    return max(detections, key=merit)


def _check_competition(subject: Detection, detections: list[Detection], config: TrackConfig, frame: int) -> None:
    for d in detections:
        if d is subject or iou(d.box, subject.box) >= config.match_iou:
            continue
        ratio = _area(d.box) / max(_area(subject.box), 1.0)
        if ratio >= config.compete_ratio:
            raise Rejected(
                "competing faces",
                f"frame {frame}: another face is {ratio:.2f} of the subject's area "
                f"(compete_ratio {config.compete_ratio})",
                measured=ratio,
                threshold=config.compete_ratio,
            )


def points_box(points: np.ndarray) -> np.ndarray:
    """``(..., N, 2)`` points -> their bounding boxes ``(..., 4)`` float32 (x0, y0, x1, y1)."""
    return np.concatenate([points.min(-2), points.max(-2)], -1).astype(np.float32)


def follow_box(anchor_box: np.ndarray, anchor_points: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Move ``anchor_box`` the way the landmarks moved from ``anchor_points`` to ``points``.

    Keeps the box in the detector's own convention (what the landmark model was trained
    on) instead of re-deriving it from landmark extents, which drifts frame by frame.
    All ``(N, 2)`` points and ``(4,)`` boxes in pixels.
    """
    c0, c1 = anchor_points.mean(0), points.mean(0)
    s0 = np.sqrt(((anchor_points - c0) ** 2).sum(1).mean())
    s1 = np.sqrt(((points - c1) ** 2).sum(1).mean())
    scale = s1 / max(s0, 1e-6)
    centre = (anchor_box[:2] + anchor_box[2:]) / 2
    half = (anchor_box[2:] - anchor_box[:2]) / 2 * scale
    new_centre = c1 + (centre - c0) * scale
    return np.concatenate([new_centre - half, new_centre + half]).astype(np.float32)


def track_clip(frames: np.ndarray, backend: LandmarkBackend, config: TrackConfig | None = None) -> Track:
    """Follow the primary face through ``frames`` ``(T, H, W, 3)`` uint8 RGB.

    Raises:
        Rejected: "no face", "competing faces", "face lost".
    """
    config = config or TrackConfig()
    n_frames, height, width = frames.shape[:3]
    backend.reset()
    points: list[np.ndarray | None] = []
    confidence = np.zeros(n_frames, np.float32)
    box: np.ndarray | None = None
    anchor: tuple[np.ndarray, np.ndarray] | None = None  # (detection box, points fitted in it)
    score = 0.0
    lost_run = 0
    redetect = True
    for t, frame in enumerate(frames):
        confirmed = True
        if redetect or t % config.detect_every == 0:
            detections = backend.detect(frame)
            subject = None
            if box is None and detections:
                subject = choose_primary(detections, width, height)
            elif box is not None:
                matches = [d for d in detections if iou(d.box, box) >= config.match_iou]
                subject = max(matches, key=lambda d: iou(d.box, box)) if matches else None
            if subject is not None:
                _check_competition(subject, detections, config, t)
                score = subject.score
                box = subject.box
                anchor = None
            confirmed = subject is not None or backend.fit_checks_presence
        fitted = backend.fit(frame, box) if box is not None else None
        if fitted is None or not confirmed or not np.isfinite(fitted).all():
            # A backend whose fit cannot tell "no face here" (dlib's predictor always
            # returns 68 points) is trusted only where the detector confirms the subject.
            points.append(None)
            lost_run += 1
            redetect = True
            if lost_run > config.max_lost_frames:
                if all(p is None for p in points):
                    raise Rejected("no face", f"no face found in the first {t + 1} frames")
                raise Rejected(
                    "face lost",
                    f"the subject was lost for {lost_run} frames in a row at frame {t} "
                    f"(max_lost_frames {config.max_lost_frames})",
                    measured=float(lost_run),
                    threshold=float(config.max_lost_frames),
                )
            continue
        points.append(fitted)
        confidence[t] = score
        if anchor is None:
            anchor = (box, fitted)
        box = follow_box(anchor[0], anchor[1], fitted)
        lost_run = 0
        redetect = False
    lost = np.array([p is None for p in points])
    return Track(points=fill_gaps(points), confidence=confidence, lost=lost)


def fill_gaps(points: list[np.ndarray | None]) -> np.ndarray:
    """Fill ``None`` frames linearly in time (nearest at the ends): ``(T, N, 2)`` float32."""
    known = [t for t, p in enumerate(points) if p is not None]
    if not known:
        raise Rejected("no face", "no face found in the clip")
    stack = np.stack([points[t] for t in known])
    if len(known) == len(points):
        return stack
    times = np.arange(len(points))
    flat = stack.reshape(len(known), -1)
    filled = np.empty((len(points), flat.shape[1]), np.float32)
    for j in range(flat.shape[1]):
        filled[:, j] = np.interp(times, known, flat[:, j])
    return filled.reshape(len(points), *stack.shape[1:])

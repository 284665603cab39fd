"""Re-detect landmarks on a face-crop clip, as a detector sees a corpus sample.

A sample's ``mp4`` is already a face crop: the face is centred and its landmark box is
``size / margin`` pixels wide. Running the full-frame detector first (the tracker's
way) fails on such tight crops (MediaPipe's BlazeFace missed 20 of 350 samples of a
corpus), so the landmark model is fitted inside the known box instead, frame after
frame, in the backend's tracking mode. Real and fake samples, and a user's test videos
cropped the same way, all go through this one function: a detector trained on its
output sees the same noise at training and test time.
"""

from __future__ import annotations

import numpy as np

from kinefake.errors import Rejected
from kinefake.synth.landmarks.backends import LandmarkBackend
from kinefake.synth.landmarks.regions import to_ibug68
from kinefake.synth.landmarks.smooth import smooth_points
from kinefake.synth.landmarks.track import fill_gaps

#: A crop whose fit fails on more than this share of frames is not scored.
MAX_LOST_SHARE = 0.25


def crop_face_box(size: int, margin: float) -> np.ndarray:
    """``(4,)`` float32 ``x0, y0, x1, y1``: the centred square a ``size``² crop with ``margin`` holds the face in."""
    half = size / margin / 2
    c = size / 2
    return np.array([c - half, c - half, c + half, c + half], np.float32)


def redetect_crops(
    frames: np.ndarray, backend: LandmarkBackend, margin: float, fps: float, smooth: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """iBUG-68 landmarks of the face in every frame of a face-crop clip.

    Args:
        frames: ``(T, S, S, 3)`` uint8 RGB crops, the face centred (a sample's ``mp4``).
        backend: landmark backend (its tracking state is reset first).
        margin: crop side over the face's landmark box side (the corpus's ``--margin``).
        fps: frame rate, for the zero-phase smoothing every kinefake trajectory gets.
        smooth: apply :func:`kinefake.synth.landmarks.smooth.smooth_points` (as the generator does).

    Returns:
        ``(T, 68, 2)`` float32 landmarks, x then y, crop pixels (lost frames interpolated),
        and ``(T,)`` bool, the frames where the fit failed.

    Raises:
        Rejected: "no face" when the fit fails on more than ``MAX_LOST_SHARE`` of the frames.
        ValueError: ``frames`` is not ``(T, S, S, 3)``.
    """
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.shape[1] != frames.shape[2]:
        raise ValueError(f"expected (T, S, S, 3) square crops, got {frames.shape}")
    box = crop_face_box(frames.shape[1], margin)
    backend.reset()
    fitted = []
    for frame in frames:
        points = backend.fit(frame, box)
        fitted.append(points if points is not None and np.isfinite(points).all() else None)
    lost = np.array([p is None for p in fitted])
    if lost.mean() > MAX_LOST_SHARE:
        raise Rejected(
            "no face",
            f"the landmark fit failed on {int(lost.sum())} of {len(lost)} frames of the crop",
            measured=float(lost.mean()),
            threshold=MAX_LOST_SHARE,
        )
    points = fill_gaps(fitted)
    if smooth:
        points = smooth_points(points, fps)
    return to_ibug68(points, backend.layout).astype(np.float32), lost

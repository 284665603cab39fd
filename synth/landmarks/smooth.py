"""Zero-phase temporal smoothing of landmark trajectories, and the jitter and lag measures.

Detector jitter on a real video is itself a temporal artifact: left in, detectors trained
on our data would learn that "real" means "jittery". Clips are processed whole, so the
filter may look ahead, and every filter here is symmetric in time: no lag by construction.

:func:`smooth_points` separates head motion from expression first. Each frame's
similarity transform onto the clip's mean shape (head translation, scale, in-plane
rotation) is smoothed lightly, so head motion keeps its timing. The pose-normalised
shape is smoothed adaptively, per point and frame, between a light and a strong
Savitzky-Golay filter (local quadratic fits, :func:`scipy.signal.savgol_filter`): where
the light and strong versions disagree by more than ``motion_k`` times the face's noise
level the point is really moving (a blink, a mouth opening) and keeps the light version;
where it is still it takes the strong one. The blend weight is computed from symmetric
filters, so the result stays zero-phase. Measured on the first 64 frames of the 18
tracked shared clips (``make bench``): 43-85% of rigid-point jitter removed, every moving
mouth kept its timing (lag 0) and at least 85% of its opening range.
"""

from __future__ import annotations

import numpy as np

from kinefake.synth.geometry import apply_similarity, invert_similarity, similarity_params
from kinefake.synth.landmarks.regions import inter_ocular

#: Inner eye corners and nose bridge (iBUG indices): points that move least with expression.
JITTER_POINTS = (39, 42, 27, 28, 29, 30)
#: Inner-lip midpoints (iBUG): their distance is the mouth-opening signal.
MOUTH_OPENING = (62, 66)


def savgol_time(x: np.ndarray, fps: float, seconds: float, order: int = 2) -> np.ndarray:
    """Savitzky-Golay along axis 0, odd window of about ``seconds``: at least 5 frames, at
    most the clip's length (a clip shorter than 5 frames comes back unchanged)."""
    window = min(max(5, round(fps * seconds)), x.shape[0])
    window -= 1 - window % 2
    if window < 5:
        return x.copy()
    from scipy.signal import savgol_filter  # 1.3 s to import: paid by workers, not by every CLI start

    return savgol_filter(x, window, order, axis=0, mode="interp")


def smooth_points(
    points: np.ndarray,
    fps: float,
    light_seconds: float = 0.1,
    strong_seconds: float = 0.6,
    motion_k: float = 10.0,
) -> np.ndarray:
    """Smooth ``(T, N, 2)`` landmarks along time, zero phase (see the module docstring).

    Args:
        points: ``(T, N, 2)`` landmarks, x then y, pixels.
        fps: the clip's frame rate; windows are set in seconds.
        light_seconds: window of the head-motion filter and of moving points (at least
            5 frames, so 5 at 25-30 fps).
        strong_seconds: window for points that hold still.
        motion_k: how many noise levels of light-vs-strong disagreement count as motion.

    Returns:
        ``(T, N, 2)`` float32. Windows shrink to the clip's length; clips shorter than
        5 frames come back unchanged.

    Raises:
        ValueError: ``points`` is not ``(T, N, 2)``.
    """
    if points.ndim != 3 or points.shape[2] != 2:
        raise ValueError(f"expected (T, N, 2) landmarks, got {points.shape}")
    p = points.astype(np.float64)
    params = similarity_params(p, p.mean(0))
    shapes = invert_similarity(params, p)
    light = savgol_time(shapes, fps, light_seconds)
    strong = savgol_time(shapes, fps, strong_seconds)
    # One noise level for the whole face: a per-point estimate would count a talking
    # mouth's fast motion as noise and smooth it away.
    noise = np.median(np.linalg.norm(shapes - light, axis=-1)) + 1e-9
    motion = np.linalg.norm(light - strong, axis=-1) / (motion_k * noise)
    weight = np.clip(motion**2, 0.0, 1.0)[..., None]
    blended = strong + weight * (light - strong)
    return apply_similarity(savgol_time(params, fps, light_seconds), blended).astype(np.float32)


def _similarity_residual(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Per-point residual ``(K,)`` after the least-squares 2D similarity of ``src`` onto ``dst``."""
    params = similarity_params(dst[None], src)
    return np.linalg.norm(apply_similarity(params, src[None])[0] - dst, axis=1)


def rigid_jitter(ibug: np.ndarray) -> float:
    """Mean frame-to-frame motion of the rigid points after removing the similarity, in IOD.

    For each consecutive pair of frames the inner eye corners and nose bridge of frame
    ``t`` are aligned to frame ``t - 1`` by a 2D similarity (head motion), and what is left
    is measured: on a rigid face that is detector jitter.

    Args:
        ibug: ``(T, 68, 2)`` landmarks, x then y, pixels.
    """
    pts = ibug[:, JITTER_POINTS].astype(np.float64)
    iod = inter_ocular(ibug.astype(np.float64))
    per_frame = [_similarity_residual(pts[t], pts[t - 1]).mean() / iod[t] for t in range(1, len(pts))]
    return float(np.mean(per_frame)) if per_frame else 0.0


def mouth_opening(ibug: np.ndarray) -> np.ndarray:
    """Inner-lip gap per frame in IOD, ``(T,)``, from ``(T, 68, 2)`` landmarks."""
    gap = np.linalg.norm(ibug[:, MOUTH_OPENING[0]] - ibug[:, MOUTH_OPENING[1]], axis=1)
    return gap / inter_ocular(ibug)


def lag_frames(reference: np.ndarray, signal: np.ndarray, max_lag: int = 5) -> int:
    """The shift (frames) of ``signal`` against ``reference`` maximising their cross-correlation.

    Positive means ``signal`` lags behind ``reference``. Both are ``(T,)``.
    """
    a = reference - reference.mean()
    b = signal - signal.mean()
    best, best_lag = -np.inf, 0
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[: len(a) - lag], b[lag:]) if lag >= 0 else (a[-lag:], b[: len(b) + lag])
        c = float(np.dot(x, y) / max(len(x), 1))
        if c > best:
            best, best_lag = c, lag
    return best_lag

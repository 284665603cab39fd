"""Check a render by re-detecting landmarks: did what was meant to move, move?

Landmarks are fitted on the pristine and the rendered frames with the *same* boxes (the
detector's box on the pristine frame), so differences come from the pixels alone. Use
the backend that did not produce the source landmarks: a model whose points were edited
is not an independent judge.

What "was meant to move" at a detected point is the warp's displacement field *at that
point* (:func:`synth.render.warp.forward_points`), not the edit of the nearest source
landmark: the two models place some points differently (dlib's brow points sit 5-9% IOD
from MediaPipe's), and beyond a feature's companion vertices the field fades towards the
fixed ring, so comparing with the landmark edit would mis-count what the detector should see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.landmarks.backends import LandmarkBackend
from synth.landmarks.layout import IBUG68_REGIONS, inter_ocular, to_ibug68
from synth.landmarks.track import choose_primary
from synth.render.mesh import Mesh
from synth.render.warp import forward_points

#: Points whose intended displacement is below this many pixels count as "not moved".
MOVED_PX = 0.5


def brow_lift(points: np.ndarray, fraction: float = 0.03) -> np.ndarray:
    """The reference edit for validating renders: the subject's right brow lifted by
    ``fraction`` of the IOD on every frame. ``(T, 68, 2)`` pixels in and out."""
    target = points.copy()
    target[:, list(IBUG68_REGIONS["brow_right"]), 1] -= fraction * inter_ocular(points)[:, None]
    return target


@dataclass(frozen=True)
class RenderCheck:
    """Figures of one clip's re-detection.

    Attributes:
        recovered: share of the intended displacement the detector saw, ``sum(d_det . d_int) /
            sum(|d_int|^2)`` over moved points and frames (1 = all of it).
        error_pristine: detector's mean error against the source landmarks on pristine
            frames, moved points, pixels.
        error_fake: its mean error against the target landmarks on rendered frames, pixels.
        excess: ``error_fake - error_pristine``, pixels.
        still_drift: mean re-detected motion of points that were not meant to move, pixels.
        iod: median inter-ocular distance of the source landmarks, pixels.
        frames: frames where the detector found the face.
    """

    recovered: float
    error_pristine: float
    error_fake: float
    excess: float
    still_drift: float
    iod: float
    frames: int

    def passes(self, min_recovered: float = 0.7, max_excess_px: float = 0.5, max_excess_iod: float = 0.01) -> bool:
        """The bar: enough displacement recovered, and error above pristine within tolerance."""
        return self.recovered >= min_recovered and self.excess <= max(max_excess_px, max_excess_iod * self.iod)


def check_render(
    real: np.ndarray,
    fake: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    backend: LandmarkBackend,
    mesh: Mesh | None = None,
) -> RenderCheck:
    """Re-detect on ``real`` and ``fake`` ``(T, H, W, 3)`` frames and compare with the edit.

    Args:
        source, target: ``(T, 68, 2)`` iBUG-68 landmarks before and after the edit, in the
            frames' pixels (the error bar is measured against these).
        backend: the independent landmark backend.
        mesh: the render's mesh in the frames' pixels; when given, the intended
            displacement of each detected point is the warp's field there, else the edit
            of the same-numbered source landmark.

    Raises:
        ValueError: the detector found the face on no frame.
    """
    found, det_real, det_fake = [], [], []
    for t, (a, b) in enumerate(zip(real, fake, strict=True)):
        detections = backend.detect(a)
        if not detections:
            continue
        box = choose_primary(detections, a.shape[1], a.shape[0]).box
        backend.reset()  # a tracking backend must not carry state from one image to the other
        fit_a = backend.fit(a, box)
        backend.reset()
        fit_b = backend.fit(b, box)
        if fit_a is None or fit_b is None:
            continue
        found.append(t)
        det_real.append(to_ibug68(fit_a, backend.layout))
        det_fake.append(to_ibug68(fit_b, backend.layout))
    if not found:
        raise ValueError("the validating detector found no face on any frame")
    det_real, det_fake = np.stack(det_real), np.stack(det_fake)
    src, dst = source[found].astype(np.float64), target[found].astype(np.float64)
    if mesh is None:
        intended = dst - src
    else:
        intended = np.stack(
            [
                forward_points(p, mesh.source[t], mesh.target[t], mesh.triangles) - p
                for p, t in zip(det_real, found, strict=True)
            ]
        )
    detected = det_fake - det_real
    moved = np.linalg.norm(intended, axis=-1) >= MOVED_PX
    edited = np.linalg.norm(dst - src, axis=-1) >= MOVED_PX
    if moved.any():
        recovered = float((detected[moved] * intended[moved]).sum() / (intended[moved] ** 2).sum())
        error_pristine = float(np.linalg.norm(det_real - src, axis=-1)[edited].mean())
        error_fake = float(np.linalg.norm(det_fake - dst, axis=-1)[edited].mean())
    else:
        recovered, error_pristine, error_fake = 1.0, 0.0, 0.0
    still = np.linalg.norm(intended, axis=-1) < 1e-6
    return RenderCheck(
        recovered=recovered,
        error_pristine=error_pristine,
        error_fake=error_fake,
        excess=error_fake - error_pristine,
        still_drift=float(np.linalg.norm(detected, axis=-1)[still].mean()) if still.any() else 0.0,
        iod=float(np.median(inter_ocular(src))),
        frames=len(found),
    )


@dataclass(frozen=True)
class FlowCheck:
    """Dense optical flow (OpenCV DIS) from pristine to rendered frames against the intended field.

    Attributes:
        recovered: ``sum(flow . intended) / sum(|intended|^2)`` over textured, clearly moved pixels.
        median_error_px: median endpoint error of the flow against the intended field there.
        pixels: how many pixels were compared.
    """

    recovered: float
    median_error_px: float
    pixels: int


def check_flow(real: np.ndarray, fake: np.ndarray, mesh: Mesh, pixel: np.ndarray) -> FlowCheck:
    """Measure the render with an independent motion estimator instead of a landmark model.

    A landmark detector can only judge what it can localise (blurred or low-contrast
    brows defeat both backends); optical flow measures the pixels' motion wherever there
    is texture. Pixels compared: mask above half (``pixel > 128``) and image gradient
    above 8 grey levels per pixel.

    Args:
        real, fake: ``(T, H, W, 3)`` uint8 frames.
        mesh: the render's mesh in the frames' pixels.
        pixel: ``(T, H, W)`` uint8 pixel mask of the render.
    """
    import cv2

    flow_estimator = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dot = norm = 0.0
    errors = []
    for t in range(len(real)):
        a = cv2.cvtColor(real[t], cv2.COLOR_RGB2GRAY)
        b = cv2.cvtColor(fake[t], cv2.COLOR_RGB2GRAY)
        gy, gx = np.gradient(a.astype(np.float64))
        ys, xs = np.nonzero((pixel[t] > 128) & (np.hypot(gx, gy) > 8))
        if ys.size == 0:
            continue
        flow = flow_estimator.calc(a, b, None)[ys, xs].astype(np.float64)
        points = np.stack([xs, ys], 1).astype(np.float64)
        intended = forward_points(points, mesh.source[t], mesh.target[t], mesh.triangles) - points
        dot += float((flow * intended).sum())
        norm += float((intended**2).sum())
        errors.append(np.linalg.norm(flow - intended, axis=1))
    if not errors:
        return FlowCheck(1.0, 0.0, 0)
    errors = np.concatenate(errors)
    return FlowCheck(dot / norm if norm else 1.0, float(np.median(errors)), int(errors.size))

"""Check a render by re-detecting landmarks: did what was meant to move, move?

Landmarks are fitted on the pristine and the rendered frames with the *same* boxes (the
detector's box on the pristine frame), so differences come from the pixels alone. Use
the backend that did not produce the source landmarks: a model whose points were edited
is not an independent judge.

What "was meant to move" at a detected point is the warp's displacement field *at that
point* (:func:`kinefake.synth.render.warp.forward_points`), not the edit of the nearest source
landmark: the two models place some points differently (dlib's brow points sit 5-9% IOD
from MediaPipe's), and beyond a feature's companion vertices the field fades towards the
fixed ring, so comparing with the landmark edit would mis-count what the detector should see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinefake.synth.landmarks.backends import LandmarkBackend
from kinefake.synth.landmarks.regions import IBUG68_REGIONS, inter_ocular, to_ibug68
from kinefake.synth.landmarks.track import choose_primary
from kinefake.synth.render.mesh import Mesh
from kinefake.synth.render.warp import forward_points

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
    box: np.ndarray | None = None,
) -> RenderCheck:
    """Re-detect on ``real`` and ``fake`` ``(T, H, W, 3)`` frames and compare with the edit.

    Args:
        source, target: ``(T, 68, 2)`` iBUG-68 landmarks before and after the edit, in the
            frames' pixels (the error bar is measured against these).
        backend: the independent landmark backend.
        mesh: the render's mesh in the frames' pixels; when given, the intended
            displacement of each detected point is the warp's field there, else the edit
            of the same-numbered source landmark.
        box: ``(4,)`` ``x0, y0, x1, y1`` of the face when the frames are face crops
            (:func:`kinefake.synth.landmarks.redetect.crop_face_box`): the landmark model is fitted
            there instead of behind a full-frame face detector, which misses tight crops.

    Raises:
        ValueError: the detector found the face on no frame.
    """
    found, det_real, det_fake = [], [], []
    for t, (a, b) in enumerate(zip(real, fake, strict=True)):
        face = box
        if face is None:
            detections = backend.detect(a)
            if not detections:
                continue
            face = choose_primary(detections, a.shape[1], a.shape[0]).box
        backend.reset()  # a tracking backend must not carry state from one image to the other
        fit_a = backend.fit(a, face)
        backend.reset()
        fit_b = backend.fit(b, face)
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


@dataclass(frozen=True)
class OutsideMaskCheck:
    """How much a fake differs from its real clip where its mask says nothing moved.

    Attributes:
        outside: mean |fake - real| (grey levels, 0-255) over pixels the mask leaves at 0
            and at least ``OUTSIDE_MARGIN`` pixels from any masked one.
        worst_frame: the largest per-frame mean of the same.
        worst_block: the largest mean of the same over any ``BLOCK`` x ``BLOCK`` window of
            any frame (at least half of it outside the mask): a local change, a corner
            repainted, that a whole-frame mean dilutes.
        inside: mean |fake - real| where the mask is saturated (moved >= 1% IOD).
        unmoved_changed: pixels (all frames, all channels) at mask 0 that differ at all;
            0 before encoding by construction, which is what a regenerated sample checks.
    """

    outside: float
    worst_frame: float
    worst_block: float
    inside: float
    unmoved_changed: int

    def passes(self, max_worst_frame: float, max_worst_block: float) -> bool:
        return self.worst_frame <= max_worst_frame and self.worst_block <= max_worst_block


#: Pixels next to the mask are left out of the encoded check: H.264 codes 16x16 blocks,
#: so a moved pixel changes its unmoved neighbours' coding noise a few pixels away.
OUTSIDE_MARGIN = 8
#: Side of the window of :attr:`OutsideMaskCheck.worst_block`, pixels.
BLOCK = 32


def check_outside_mask(real: np.ndarray, fake: np.ndarray, pixel: np.ndarray) -> OutsideMaskCheck:
    """Compare ``(T, S, S, 3)`` uint8 ``real`` and ``fake`` frames where the ``(T, S, S)`` uint8
    ``pixel`` mask is 0 (:class:`OutsideMaskCheck`).

    Before encoding the fake equals the real there bit for bit; after H.264 the two
    encodes differ by coding noise only (about 1 grey level on average), so a sample
    whose frames changed outside its mask, or whose mask misses what moved, stands out.

    Raises:
        ValueError: shapes disagree.
    """
    import cv2

    if real.shape != fake.shape or real.shape[:3] != pixel.shape:
        raise ValueError(
            f"expected real, fake (T, S, S, 3) and pixel (T, S, S), got {real.shape}, {fake.shape}, {pixel.shape}"
        )
    diff = np.abs(fake.astype(np.int16) - real.astype(np.int16))
    unmoved = pixel == 0
    kernel = np.ones((2 * OUTSIDE_MARGIN + 1, 2 * OUTSIDE_MARGIN + 1), np.uint8)
    far = np.stack([cv2.erode(m.astype(np.uint8), kernel) > 0 for m in unmoved])
    grey = diff.mean(-1)
    per_frame = [float(g[f].mean()) for g, f in zip(grey, far, strict=True) if f.any()]
    worst_block = 0.0
    for g, f in zip(grey.astype(np.float32), far.astype(np.float32), strict=True):
        total = cv2.boxFilter(g * f, -1, (BLOCK, BLOCK), normalize=False)
        count = cv2.boxFilter(f, -1, (BLOCK, BLOCK), normalize=False)
        enough = count >= BLOCK * BLOCK / 2
        if enough.any():
            worst_block = max(worst_block, float((total[enough] / count[enough]).max()))
    saturated = pixel == 255
    return OutsideMaskCheck(
        outside=float(grey[far].mean()) if far.any() else 0.0,
        worst_frame=max(per_frame, default=0.0),
        worst_block=worst_block,
        inside=float(grey[saturated].mean()) if saturated.any() else 0.0,
        unmoved_changed=int((diff[unmoved] > 0).sum()),
    )

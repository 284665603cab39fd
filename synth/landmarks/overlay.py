"""Draw tracked landmarks and head-pose axes on frames, so a person can check the tracking."""

from __future__ import annotations

import cv2
import numpy as np

from kinefake.schemas.landmarks import ClipLandmarks
from kinefake.synth.landmarks.pose import camera_matrix, layout_model
from kinefake.synth.landmarks.regions import IBUG68, MESH_TO_IBUG68, REGIONS

#: RGB colour per region; points outside every region are grey.
REGION_COLOURS = {
    "jaw": (255, 255, 255),
    "brow_right": (255, 170, 0),
    "brow_left": (255, 170, 0),
    "nose": (0, 200, 255),
    "eye_right": (0, 255, 0),
    "eye_left": (0, 255, 0),
    "mouth_outer": (255, 60, 60),
    "mouth_inner": (255, 0, 200),
    "cheek_right": (200, 200, 0),
    "cheek_left": (200, 200, 0),
    "iris_right": (0, 255, 255),
    "iris_left": (0, 255, 255),
}


def draw_frame(frame: np.ndarray, lm: ClipLandmarks, t: int, banner: str | None = None) -> np.ndarray:
    """Frame ``t`` with ``lm``'s points (coloured by region), pose axes and yaw/pitch/roll.

    Args:
        frame: ``(H, W, 3)`` uint8 RGB, the clip's frame ``t``.
        lm: the clip's landmarks (frame pixels).
        banner: text written across the top (e.g. a gate failure), or None.

    Returns:
        A new ``(H, W, 3)`` uint8 RGB image.
    """
    out = frame.copy()
    h, w = out.shape[:2]
    scale = max(1, round(max(h, w) / 512))
    colours = np.full((lm.points.shape[1], 3), 140, np.uint8)
    for name, idx in REGIONS[lm.layout].items():
        colours[list(idx)] = REGION_COLOURS.get(name, (140, 140, 140))
    for (x, y), colour in zip(lm.points[t], colours, strict=True):
        cv2.circle(out, (round(float(x)), round(float(y))), scale, tuple(int(c) for c in colour), -1, cv2.LINE_AA)
    x0, y0, x1, y1 = (round(float(v)) for v in lm.bbox[t])
    cv2.rectangle(out, (x0, y0), (x1, y1), (255, 255, 0), scale)
    # Pose axes: 1 IOD long from the nose bridge, x red, y green, z (towards the face's back) blue.
    model = layout_model(lm.layout)
    origin = model[27 if lm.layout == IBUG68 else MESH_TO_IBUG68[27]]
    axes = np.vstack([origin, origin + np.eye(3)]).astype(np.float64)
    rvec = cv2.Rodrigues(lm.rotation[t].astype(np.float64))[0]
    pts, _ = cv2.projectPoints(axes, rvec, lm.translation[t].astype(np.float64), camera_matrix(w, h), None)
    pts = pts[:, 0].round().astype(int)
    for end, colour in zip(pts[1:], ((255, 0, 0), (0, 255, 0), (0, 0, 255)), strict=True):
        cv2.arrowedLine(out, tuple(pts[0]), tuple(end), colour, 2 * scale, cv2.LINE_AA, tipLength=0.15)
    yaw, pitch, roll = lm.euler[t]
    label = f"{lm.backend} t={t} yaw {yaw:+.0f} pitch {pitch:+.0f} roll {roll:+.0f}"
    if lm.interpolated[t]:
        label += " (filled)"
    cv2.putText(out, label, (6, h - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale, (255, 255, 255), scale, cv2.LINE_AA)
    if banner:
        cv2.putText(out, banner, (6, 20 * scale), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (255, 80, 80), scale)
    return out

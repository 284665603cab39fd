"""Head-pose inconsistency (Yang, Li, Lyu, ICASSP 2019): pose of the whole face vs its centre.

A face spliced or warped into a frame carries its central features (brows, nose, mouth
corners) somewhere slightly different from where the face contour puts them. Solving
the head pose by PnP twice, from the whole face and from the central region alone,
exposes it: on real faces the two poses agree. Per frame the features are the cosine
distance between the two facing directions, ``R_a - R_c`` (row-major, 9 numbers) and
``t_a - t_c`` (IOD units, since the canonical 3D face is).

Landmark sets as in the paper (iBUG-68, 0-based here): the whole face is the contour,
brows and nose (0-35) plus the mouth corners (48, 54); the central region drops the
contour (17-35, 48, 54).
"""

from __future__ import annotations

import numpy as np

from kinefake.synth.landmarks.pose import camera_matrix, layout_model, pnp
from kinefake.synth.landmarks.regions import IBUG68

WHOLE_FACE = (*range(36), 48, 54)
CENTRAL_FACE = (*range(17, 36), 48, 54)
FEATURE_NAMES = ("cosine_distance", *(f"dR{i}{j}" for i in range(3) for j in range(3)), "dtx", "dty", "dtz")


def headpose_features(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """``(T, 13)`` float64 features (``FEATURE_NAMES``) of ``(T, 68, 2)`` iBUG-68 landmarks in
    the pixels of a ``width`` x ``height`` image (a face crop: the camera is
    :func:`kinefake.synth.landmarks.pose.camera_matrix` of that size).

    Raises:
        ValueError: not ``(T, 68, 2)``, or PnP fails on a frame (degenerate landmarks).
    """
    if points.ndim != 3 or points.shape[1:] != (68, 2):
        raise ValueError(f"expected (T, 68, 2) landmarks, got {points.shape}")
    model = layout_model(IBUG68)
    camera = camera_matrix(width, height)
    whole, central = list(WHOLE_FACE), list(CENTRAL_FACE)
    r_a, t_a, _ = pnp(model[whole], points[:, whole], camera)
    r_c, t_c, _ = pnp(model[central], points[:, central], camera)
    # The face's facing direction is where the canonical face's +z axis points.
    cosine = np.sum(r_a[:, :, 2].astype(np.float64) * r_c[:, :, 2], axis=1)
    return np.concatenate([1.0 - cosine[:, None], (r_a - r_c).reshape(-1, 9), t_a - t_c], axis=1, dtype=np.float64)

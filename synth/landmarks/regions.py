"""Landmark layouts and named facial regions, defined here and nowhere else.

Two layouts:
- ``ibug68``: the 68-point iBUG/Multi-PIE layout dlib predicts. Left/right are the
  *subject's*: points 36-41 are the subject's right eye (on the image's left side).
- ``mesh478``: MediaPipe face mesh with iris refinement (468 face vertices + 10 iris).

``MESH_TO_IBUG68[j]`` is the mesh vertex standing in for iBUG point ``j``. It was derived
by ``tools/derive_landmark_constants.py``: for each dlib point, the mesh vertex with the
smallest mean distance to it (in inter-ocular distances) over 348 frames of the shared
clips where both backends found the face. Jaw and brow points sit 5-13% IOD from dlib's
on average (the two models define the contour differently), eyes, nose and mouth 2-6%.
"""

from __future__ import annotations

import numpy as np

IBUG68 = "ibug68"
MESH478 = "mesh478"
NUM_POINTS = {IBUG68: 68, MESH478: 478}

MESH_TO_IBUG68 = np.array(
    [127, 234, 93, 215, 172, 136, 149, 176, 152, 377, 378, 365, 367, 435, 323, 454, 356,  # jaw
     70, 63, 105, 66, 55, 285, 296, 334, 293, 300,  # brows
     168, 197, 5, 4, 240, 99, 2, 326, 305,  # nose
     7, 160, 158, 155, 153, 144, 362, 385, 386, 249, 373, 380,  # eyes
     61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,  # outer mouth
     62, 38, 13, 312, 308, 317, 14, 87],  # inner mouth
    dtype=np.int64,
)  # fmt: skip

#: Regions of the iBUG-68 layout, point indices.
IBUG68_REGIONS: dict[str, tuple[int, ...]] = {
    "jaw": tuple(range(0, 17)),
    "brow_right": tuple(range(17, 22)),
    "brow_left": tuple(range(22, 27)),
    "nose": tuple(range(27, 36)),
    "eye_right": tuple(range(36, 42)),
    "eye_left": tuple(range(42, 48)),
    "mouth_outer": tuple(range(48, 60)),
    "mouth_inner": tuple(range(60, 68)),
}

#: Region pairs that move together in real faces (both orders are used): the eyes in a
#: blink, the brows, each brow with its eye, the outer and inner lips, the lips and the jaw.
PARTNER_REGIONS = (
    ("eye_left", "eye_right"),
    ("brow_left", "brow_right"),
    ("brow_left", "eye_left"),
    ("brow_right", "eye_right"),
    ("mouth_outer", "mouth_inner"),
    ("mouth_outer", "jaw"),
    ("mouth_inner", "jaw"),
)

#: Cheek vertices of the mesh (see tools/derive_landmark_constants.py for the rule).
CHEEK_RIGHT = (36, 47, 48, 49, 50, 64, 100, 101, 102, 111, 116, 117, 118, 119, 120, 121, 123, 129, 142, 147,
               165, 187, 192, 203, 205, 206, 207, 228, 229, 230, 231)  # fmt: skip
CHEEK_LEFT = (266, 277, 278, 279, 280, 294, 329, 330, 331, 340, 345, 346, 347, 348, 349, 350, 352, 358, 371,
              376, 391, 411, 416, 423, 425, 426, 427, 448, 449, 450, 451)  # fmt: skip

#: Regions of the mesh layout: the iBUG regions through the mapping, plus the cheeks and irises.
MESH478_REGIONS: dict[str, tuple[int, ...]] = {
    **{name: tuple(int(MESH_TO_IBUG68[i]) for i in idx) for name, idx in IBUG68_REGIONS.items()},
    "cheek_right": CHEEK_RIGHT,
    "cheek_left": CHEEK_LEFT,
    "iris_right": tuple(range(468, 473)),
    "iris_left": tuple(range(473, 478)),
}

REGIONS = {IBUG68: IBUG68_REGIONS, MESH478: MESH478_REGIONS}

#: iBUG points that move least with expression: inner eye corners and the nose bridge.
RIGID_IBUG68 = (39, 42, 27, 28)

#: Eye contours (iBUG indices) whose centres define the inter-ocular distance (IOD).
EYE_RIGHT_IBUG68 = IBUG68_REGIONS["eye_right"]
EYE_LEFT_IBUG68 = IBUG68_REGIONS["eye_left"]


def to_ibug68(points: np.ndarray, layout: str) -> np.ndarray:
    """``(..., N, D)`` landmarks in ``layout`` -> ``(..., 68, D)`` in the iBUG layout.

    Raises:
        ValueError: unknown layout, or ``N`` does not match it.
    """
    if layout not in NUM_POINTS:
        raise ValueError(f"expected layout in {sorted(NUM_POINTS)}, got {layout!r}")
    if points.shape[-2] != NUM_POINTS[layout]:
        raise ValueError(f"expected (..., {NUM_POINTS[layout]}, D) for {layout}, got {points.shape}")
    return points if layout == IBUG68 else points[..., MESH_TO_IBUG68, :]


def inter_ocular(ibug: np.ndarray) -> np.ndarray:
    """Distance between eye-contour centres: ``(..., 68, 2)`` -> ``(...,)``, same units."""
    right = ibug[..., EYE_RIGHT_IBUG68, :].mean(-2)
    left = ibug[..., EYE_LEFT_IBUG68, :].mean(-2)
    return np.linalg.norm(left - right, axis=-1)

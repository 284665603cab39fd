"""Head pose by PnP against a canonical 3D face, and per-landmark self-occlusion.

The canonical face (``synth/models/canonical_face.npy``, 468 x 3 float32) is MediaPipe's
mesh averaged over the shared clips (``tools/derive_landmark_constants.py``): x right,
y down, z away from the camera, in inter-ocular distances (IOD), origin between the eyes.
So ``t`` is in IOD units too. Plain iterative ``cv2.solvePnP`` flipped 180° on up to 94%
of frames of some clips here; ``SOLVEPNP_SQPNP`` then ``solvePnPRefineLM`` is stable.
"""

from __future__ import annotations

import functools
from importlib import resources

import cv2
import numpy as np

from kinefake.synth.landmarks.regions import IBUG68, IBUG68_REGIONS, MESH478, MESH_TO_IBUG68

#: iBUG points used for PnP: everything but the jaw contour, which is a silhouette that
#: slides over the 3D face as the head turns rather than a fixed point on it.
PNP_IBUG68 = tuple(i for i in range(68) if i not in IBUG68_REGIONS["jaw"])
#: SQPnP starts the refinement at the optimum's doorstep: stopping at a 1e-4 change instead
#: of OpenCV's 1e-10 default changes angles by about 0.001° and halves the pose cost
#: (0.84 -> 0.46 ms per frame for 468 points).
REFINE_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 1e-4)
#: Centre of the sphere-like head model whose radii give landmark normals (IOD units).
HEAD_CENTRE = np.array([0.0, 0.6, 1.3], np.float32)


@functools.cache
def canonical_face() -> np.ndarray:
    """The canonical 3D mesh, ``(468, 3)`` float32, IOD units."""
    with resources.files("kinefake.synth.models").joinpath("canonical_face.npy").open("rb") as f:
        return np.load(f)


def canonical_points(layout: str) -> tuple[np.ndarray, np.ndarray]:
    """(indices into the layout used for PnP ``(K,)``, their 3D model points ``(K, 3)``).

    The mesh layout uses its 468 face vertices (not the irises); iBUG uses ``PNP_IBUG68``.
    """
    face = canonical_face()
    if layout == MESH478:
        return np.arange(468), face
    if layout == IBUG68:
        idx = np.array(PNP_IBUG68)
        return idx, face[MESH_TO_IBUG68[idx]]
    raise ValueError(f"expected layout in ['ibug68', 'mesh478'], got {layout!r}")


def layout_model(layout: str) -> np.ndarray:
    """3D model point for every landmark of ``layout``: ``(N, 3)``; irises at their eye's centre."""
    face = canonical_face()
    if layout == IBUG68:
        return face[MESH_TO_IBUG68]
    eyes = [face[[int(MESH_TO_IBUG68[i]) for i in IBUG68_REGIONS[e]]].mean(0) for e in ("eye_right", "eye_left")]
    return np.concatenate([face, np.repeat(eyes[0][None], 5, 0), np.repeat(eyes[1][None], 5, 0)]).astype(np.float32)


def camera_matrix(width: int, height: int) -> np.ndarray:
    """Pinhole intrinsics ``(3, 3)``: focal length = the longer side (about 53° field of view)."""
    f = float(max(width, height))
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], np.float64)


def solve_pose(points: np.ndarray, layout: str, camera: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Head pose of one frame.

    Args:
        points: ``(N, 2)`` landmarks in ``layout``, x then y, pixels.
        layout: ``mesh478`` or ``ibug68``.
        camera: ``(3, 3)`` intrinsics from :func:`camera_matrix`.

    Returns:
        ``R`` ``(3, 3)`` float32 (canonical face -> camera), ``t`` ``(3,)`` float32 in IOD
        units, and the RMS reprojection error in pixels.
    """
    idx, model = canonical_points(layout)
    return pnp(model, points[idx], camera)


def pnp(model: np.ndarray, image: np.ndarray, camera: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Pose of ``(K, 3)`` model points (IOD units) seen at ``(K, 2)`` image points (pixels):
    ``SOLVEPNP_SQPNP`` then ``solvePnPRefineLM``. Returns ``R`` ``(3, 3)`` float32, ``t``
    ``(3,)`` float32 (IOD units) and the RMS reprojection error in pixels.

    Raises:
        ValueError: PnP finds no pose (degenerate points).
    """
    model = np.asarray(model, np.float64)
    image = np.asarray(image, np.float64)
    ok, rvec, tvec = cv2.solvePnP(model, image, camera, None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        raise ValueError("PnP found no pose for these landmarks (degenerate configuration)")
    rvec, tvec = cv2.solvePnPRefineLM(model, image, camera, None, rvec, tvec, REFINE_CRITERIA)
    projected, _ = cv2.projectPoints(model, rvec, tvec, camera, None)
    rms = float(np.sqrt(np.mean(np.sum((projected[:, 0] - image) ** 2, axis=1))))
    return cv2.Rodrigues(rvec)[0].astype(np.float32), tvec[:, 0].astype(np.float32), rms


def euler_degrees(rotation: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` rotations -> ``(..., 3)`` yaw, pitch, roll in degrees.

    ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)``; yaw turns about the vertical (y) axis,
    positive when the subject turns to their right (nose towards the image's left); pitch
    about x; roll about the view axis.
    """
    r = np.asarray(rotation, np.float64)
    yaw = np.degrees(np.arcsin(np.clip(-r[..., 2, 0], -1.0, 1.0)))
    pitch = np.degrees(np.arctan2(r[..., 2, 1], r[..., 2, 2]))
    roll = np.degrees(np.arctan2(r[..., 1, 0], r[..., 0, 0]))
    return np.stack([yaw, pitch, roll], -1).astype(np.float32)


def visibility(layout: str, rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """Per-landmark self-occlusion score from head pose, ``(T, N)`` float32 in [0, 1].

    Each landmark's outward normal is taken from a sphere-like head model (the direction
    from ``HEAD_CENTRE`` to the point); the score is the cosine between the rotated normal
    and the direction to the camera, clipped at 0: 1 faces the camera, 0 is turned away
    (hidden behind the head).

    Args:
        rotation: ``(T, 3, 3)``; translation: ``(T, 3)`` IOD units.
    """
    model = layout_model(layout)
    normals = model - HEAD_CENTRE
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    world = np.einsum("tij,nj->tni", rotation, model) + translation[:, None, :]
    to_camera = -world / np.linalg.norm(world, axis=2, keepdims=True)
    facing = np.einsum("tij,nj->tni", rotation, normals)
    return np.clip(np.sum(facing * to_camera, axis=2), 0.0, 1.0).astype(np.float32)

"""Head pose by PnP against a canonical 3D face, and per-landmark self-occlusion.

The canonical face (``synth/models/canonical_face.npy``, 468 x 3 float32) is MediaPipe's
mesh averaged over the shared clips (``tools/derive_landmark_constants.py``): x right,
y down, z away from the camera, in inter-ocular distances (IOD), origin between the eyes.
So ``t`` is in IOD units too. Plain iterative ``cv2.solvePnP`` flipped 180° on up to 94%
of frames of some clips here; ``SOLVEPNP_SQPNP`` is stable, and its pose is refined to the
least reprojection error by a few Gauss-Newton steps taken for every frame of a clip at once.
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
#: Gauss-Newton steps from SQPnP's pose to the least reprojection error. SQPnP starts at
#: the optimum's doorstep and each step divides the distance left by about five: after four,
#: 468-point poses of the shared clips are within 0.005° of the converged optimum (mean
#: 0.0002°; ``cv2.solvePnPRefineLM`` stopped at a 1e-4 change: 0.002°, mean 0.0003°), and the
#: steps of a clip's frames are taken together (0.63 -> 0.22 ms per frame with SQPnP, here).
REFINE_STEPS = 4
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


def solve_poses(points: np.ndarray, layout: str, camera: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Head pose of each frame.

    Args:
        points: ``(T, N, 2)`` landmarks in ``layout``, x then y, pixels.
        layout: ``mesh478`` or ``ibug68``.
        camera: ``(3, 3)`` intrinsics from :func:`camera_matrix`.

    Returns:
        ``R`` ``(T, 3, 3)`` float32 (canonical face -> camera), ``t`` ``(T, 3)`` float32 in
        IOD units, and the RMS reprojection error ``(T,)`` float32 in pixels.

    Raises:
        ValueError: as :func:`pnp`.
    """
    idx, model = canonical_points(layout)
    return pnp(model, np.asarray(points)[:, idx], camera)


def pnp(model: np.ndarray, image: np.ndarray, camera: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pose of ``(K, 3)`` model points (IOD units) seen at ``(T, K, 2)`` image points (pixels),
    in each of ``T`` frames: ``SOLVEPNP_SQPNP``, then :data:`REFINE_STEPS` Gauss-Newton steps.
    Returns ``R`` ``(T, 3, 3)`` float32, ``t`` ``(T, 3)`` float32 (IOD units) and the RMS
    reprojection error ``(T,)`` float32 in pixels.

    Raises:
        ValueError: ``image`` is not ``(T, K, 2)``, or PnP finds no pose for a frame
            (degenerate points).
    """
    from scipy.spatial.transform import Rotation  # not at import: the launcher stays free of scipy

    model = np.asarray(model, np.float64)
    image = np.asarray(image, np.float64)
    if image.ndim != 3 or image.shape[1:] != (len(model), 2):
        raise ValueError(f"expected (T, {len(model)}, 2) image points, got {image.shape}")
    rotation, translation = np.empty((len(image), 3, 3)), np.empty((len(image), 3))
    for t, frame in enumerate(image):
        try:  # SQPnP asserts on points with (almost) no spread
            ok, rvec, tvec = cv2.solvePnP(model, np.ascontiguousarray(frame), camera, None, flags=cv2.SOLVEPNP_SQPNP)
        except cv2.error:
            ok = False
        if not ok:
            raise ValueError("PnP found no pose for these landmarks (degenerate configuration)")
        rotation[t], translation[t] = cv2.Rodrigues(rvec)[0], tvec[:, 0]
    observed = np.concatenate([image[..., 0], image[..., 1]], 1)  # (T, 2K): x, then y
    residual, jacobian = _linearised(model, observed, camera, rotation, translation)
    cost = np.square(residual).sum(1)
    for left in reversed(range(REFINE_STEPS)):
        try:
            step = np.linalg.solve(jacobian @ np.swapaxes(jacobian, 1, 2), jacobian @ residual[..., None])[..., 0]
        except np.linalg.LinAlgError:
            raise ValueError("PnP found no pose for these landmarks (degenerate configuration)") from None
        moved_rotation = Rotation.from_rotvec(-step[:, :3]).as_matrix() @ rotation
        moved_translation = translation - step[:, 3:]
        moved_residual, moved_jacobian = _linearised(
            model, observed, camera, moved_rotation, moved_translation, left > 0
        )
        moved_cost = np.square(moved_residual).sum(1)
        better = moved_cost < cost  # a frame at its optimum (or a step too far) stays where it is
        rotation, translation = _where(better, moved_rotation, rotation), _where(better, moved_translation, translation)
        residual, cost = _where(better, moved_residual, residual), _where(better, moved_cost, cost)
        if left:
            jacobian = _where(better, moved_jacobian, jacobian)
    rms = np.sqrt(cost / len(model))
    return rotation.astype(np.float32), translation.astype(np.float32), rms.astype(np.float32)


def _where(better: np.ndarray, moved: np.ndarray, now: np.ndarray) -> np.ndarray:
    """``moved`` in the frames where ``better`` ``(T,)`` holds, ``now`` in the others."""
    return moved if better.all() else np.where(better.reshape((-1,) + (1,) * (moved.ndim - 1)), moved, now)


def _linearised(
    model: np.ndarray,
    observed: np.ndarray,
    camera: np.ndarray,
    rotation: np.ndarray,
    translation: np.ndarray,
    with_jacobian: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Reprojection residuals of ``(K, 3)`` model points posed by ``(T, 3, 3)`` rotations and
    ``(T, 3)`` translations against ``observed`` image points ``(T, 2K)`` (the K x, then the K
    y, pixels): ``(T, 2K)``, projected minus observed; and, ``with_jacobian``, their
    derivatives ``(T, 6, 2K)`` with respect to a small rotation vector applied after each
    rotation (``R -> exp([w]x) R``) and to the translation (parameters first: each row is
    contiguous)."""
    fx, fy, cx, cy = camera[0, 0], camera[1, 1], camera[0, 2], camera[1, 2]
    k = len(model)
    turned = model @ np.swapaxes(rotation, 1, 2)  # R X: (T, K, 3)
    a0, a1, a2 = (np.ascontiguousarray(turned[..., i]) for i in range(3))
    inv_z = 1.0 / (a2 + translation[:, 2:])
    x_z, y_z = (a0 + translation[:, :1]) * inv_z, (a1 + translation[:, 1:2]) * inv_z
    residual = np.concatenate([fx * x_z + cx, fy * y_z + cy], 1) - observed
    if not with_jacobian:
        return residual, None
    # d(u, v)/dP at the camera point P = R X + t is (fx / z, 0, -fx x / z²), (0, fy / z, -fy y / z²);
    # dP/dw = -[R X]x, so d(u, v)/dw = (R X) x d(u, v)/dP, written out below.
    u0, u2, v1, v2 = fx * inv_z, -fx * x_z * inv_z, fy * inv_z, -fy * y_z * inv_z
    jacobian = np.zeros((len(rotation), 6, 2 * k))
    du, dv = jacobian[..., :k], jacobian[..., k:]
    du[:, 0], du[:, 1], du[:, 2], du[:, 3], du[:, 5] = a1 * u2, a2 * u0 - a0 * u2, -a1 * u0, u0, u2
    dv[:, 0], dv[:, 1], dv[:, 2], dv[:, 4], dv[:, 5] = a1 * v2 - a2 * v1, -a0 * v2, a0 * v1, v1, v2
    return residual, jacobian


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

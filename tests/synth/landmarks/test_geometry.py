"""Layout, pose, visibility and smoothing invariants (no video needed)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from kinefake.synth.landmarks.pose import (
    camera_matrix,
    canonical_face,
    euler_degrees,
    layout_model,
    pnp,
    solve_poses,
    visibility,
)
from kinefake.synth.landmarks.regions import IBUG68, IBUG68_REGIONS, MESH478, MESH478_REGIONS, inter_ocular, to_ibug68
from kinefake.synth.landmarks.smooth import lag_frames, rigid_jitter, smooth_points


def project(model: np.ndarray, yaw: float, pitch: float, roll: float, distance: float, camera: np.ndarray):
    """Canonical points seen by ``camera`` with ``R = Rz(roll) Ry(yaw) Rx(pitch)``, ``t = (0, 0, distance)``."""
    y, p, r = np.radians([yaw, pitch, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    rot = rz @ ry @ rx
    t = np.array([0.0, 0.0, distance])
    pts, _ = cv2.projectPoints(model.astype(np.float64), cv2.Rodrigues(rot)[0], t, camera, None)
    return pts[:, 0].astype(np.float32), rot, t


def test_regions_partition_the_ibug_layout():
    covered = sorted(i for idx in IBUG68_REGIONS.values() for i in idx)
    assert covered == list(range(68))
    assert set(MESH478_REGIONS) >= set(IBUG68_REGIONS) | {"cheek_left", "cheek_right"}
    mesh_ids = [i for idx in MESH478_REGIONS.values() for i in idx]
    assert len(mesh_ids) == len(set(mesh_ids)) and max(mesh_ids) < 478


def test_to_ibug68_names_expected_and_got():
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 478, D\) for mesh478, got \(10, 2\)"):
        to_ibug68(np.zeros((10, 2)), MESH478)
    with pytest.raises(ValueError, match="expected layout in"):
        to_ibug68(np.zeros((68, 2)), "bfm")


def test_canonical_face_is_in_iod_units():
    face = canonical_face()
    assert face.shape == (468, 3) and face.dtype == np.float32
    ibug = layout_model(IBUG68)
    assert inter_ocular(ibug[:, :2]) == pytest.approx(1.0, abs=0.02)
    assert ibug[30, 2] < ibug[0, 2]  # nose tip nearer the camera than the jaw's edge


@pytest.mark.parametrize("layout", [IBUG68, MESH478])
@pytest.mark.parametrize(("yaw", "pitch", "roll"), [(0, 0, 0), (30, -10, 5), (-40, 15, -20)])
def test_pose_recovers_a_known_rotation(layout, yaw, pitch, roll):
    camera = camera_matrix(640, 480)
    pts, rot, t = project(layout_model(layout), yaw, pitch, roll, distance=8.0, camera=camera)
    (r,), (t_est,), (rms,) = solve_poses(pts[None], layout, camera)
    assert rms < 1e-3
    np.testing.assert_allclose(r, rot, atol=1e-4)
    np.testing.assert_allclose(euler_degrees(r), [yaw, pitch, roll], atol=0.05)
    np.testing.assert_allclose(t_est, t, atol=1e-3)


def test_pose_of_noisy_landmarks_is_their_least_reprojection_error():
    # What OpenCV's Levenberg-Marquardt finds when run to convergence, frame by frame; the
    # frames of a clip are solved together, each as if alone.
    camera = camera_matrix(640, 480)
    model = layout_model(MESH478)[:468].astype(np.float64)
    noise = np.random.default_rng(0)
    turns = [(0, 0, 0), (30, -10, 5), (-40, 15, -20), (10, 25, 0)]
    frames = np.stack([project(model, *turn, 8.0, camera)[0] for turn in turns])
    frames = frames + noise.normal(0, 1.5, frames.shape)
    rotation, translation, rms = pnp(model, frames, camera)
    converged = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-14)
    for t, frame in enumerate(frames):
        _, rvec, tvec = cv2.solvePnP(model, frame, camera, None, flags=cv2.SOLVEPNP_SQPNP)
        rvec, tvec = cv2.solvePnPRefineLM(model, frame, camera, None, rvec, tvec, converged)
        off = cv2.Rodrigues(cv2.Rodrigues(rvec)[0].T @ rotation[t].astype(np.float64))[0]
        assert np.degrees(np.linalg.norm(off)) < 0.002
        np.testing.assert_allclose(translation[t], tvec[:, 0], atol=1e-4)
        projected, _ = cv2.projectPoints(model, rvec, tvec, camera, None)
        assert rms[t] == pytest.approx(np.sqrt(np.mean(np.sum((projected[:, 0] - frame) ** 2, 1))), rel=1e-5)
        alone = pnp(model, frame[None], camera)
        np.testing.assert_allclose(alone[0][0], rotation[t], atol=1e-6)
    assert 1.5 < rms.mean() < 3  # the noise, not a pose off by more


def test_pose_of_degenerate_landmarks_is_refused():
    camera = camera_matrix(640, 480)
    model = layout_model(IBUG68).astype(np.float64)
    with pytest.raises(ValueError, match="no pose"):
        pnp(model, np.full((1, 68, 2), 100.0), camera)
    with pytest.raises(ValueError, match=r"expected \(T, 68, 2\) image points, got \(68, 2\)"):
        pnp(model, np.zeros((68, 2)), camera)


def test_visibility_drops_on_the_far_side_of_a_turned_head():
    camera = camera_matrix(640, 480)
    model = layout_model(IBUG68)
    _, rot, t = project(model, 60, 0, 0, 8.0, camera)
    vis = visibility(IBUG68, rot[None].astype(np.float32), t[None].astype(np.float32))[0]
    _, rot0, t0 = project(model, 0, 0, 0, 8.0, camera)
    front = visibility(IBUG68, rot0[None].astype(np.float32), t0[None].astype(np.float32))[0]
    assert front[30] > 0.9  # nose tip faces the camera
    # Yaw +60°: the nose turns to the image's left, the subject's right cheek (jaw 0-3) turns away.
    assert vis[:4].mean() < 0.2 < vis[13:17].mean()
    assert vis.min() >= 0 and vis.max() <= 1


def test_smoothing_keeps_smooth_head_motion():
    """A rigid face accelerating and turning is left in place (within 0.2 px at 60 px IOD)."""
    shape = layout_model(IBUG68)[:, :2] * 60 + 200
    t = np.arange(40, dtype=np.float64)[:, None, None]
    angle = 0.002 * t**2
    c, s = np.cos(angle), np.sin(angle)
    x, y = shape[None, :, 0] - 200, shape[None, :, 1] - 200
    moving = np.stack([c[..., 0] * x - s[..., 0] * y, s[..., 0] * x + c[..., 0] * y], -1) + 200 + 1.5 * t
    out = smooth_points(moving.astype(np.float32), 25.0)
    np.testing.assert_allclose(out, moving, atol=0.2)


def test_smoothing_removes_jitter_and_keeps_a_fast_step():
    rng = np.random.default_rng(0)
    base = np.repeat(layout_model(IBUG68)[None, :, :2] * 60 + 200, 50, 0).astype(np.float64)
    opening = np.zeros(50)
    opening[20:26] = 25.0  # the jaw drops 25 px for 6 frames
    lower_lip = [55, 56, 57, 58, 59, 65, 66, 67]
    base[:, lower_lip, 1] += opening[:, None]
    base[:, 5:12, 1] += opening[:, None] * 0.8
    noisy = (base + rng.normal(0, 0.8, base.shape)).astype(np.float32)
    out = smooth_points(noisy, 25.0)
    assert rigid_jitter(out) < 0.5 * rigid_jitter(noisy)
    mouth_in = noisy[:, 66, 1] - noisy[:, 62, 1]
    mouth_out = out[:, 66, 1] - out[:, 62, 1]
    assert lag_frames(mouth_in, mouth_out) == 0
    assert mouth_out[20:26].mean() - mouth_out[:12].mean() > 0.75 * 25  # a 6-frame step keeps 3/4 of its height


def test_smoothing_shape_error():
    with pytest.raises(ValueError, match=r"expected \(T, N, 2\) landmarks, got \(5, 68\)"):
        smooth_points(np.zeros((5, 68), np.float32), 25.0)

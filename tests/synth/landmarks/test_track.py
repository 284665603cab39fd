"""Tracking the subject on real frames: who is chosen, what competes, what is lost."""

from __future__ import annotations

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from kinefake.errors import Rejected
from kinefake.schemas import landmarks_table, read_clip_landmarks
from kinefake.synth.landmarks import GateConfig, TrackConfig, extract_landmarks
from kinefake.synth.landmarks.regions import inter_ocular, to_ibug68
from kinefake.synth.landmarks.track import Detection, choose_primary, iou, track_clip
from kinefake.synth.video import read_frames
from tests.conftest import face

FRAMES = 24


def side_by_side(left: np.ndarray, right: np.ndarray, right_scale: float) -> np.ndarray:
    """Two 256² clips on one canvas, the right one scaled; ``(T, 256, 512+, 3)``."""
    out = []
    for a, b in zip(left, right, strict=True):
        canvas = np.zeros((256, 512, 3), np.uint8)
        canvas[:, :256] = a
        small = cv2.resize(b, None, fx=right_scale, fy=right_scale, interpolation=cv2.INTER_AREA)
        canvas[: small.shape[0], 256 : 256 + small.shape[1]] = small
        out.append(canvas)
    return np.stack(out)


@pytest.fixture(scope="module")
def two_clips(faces):
    return (
        read_frames(face(faces, "first-order"), 0, FRAMES),
        read_frames(face(faces, "EDTalk"), 0, FRAMES),
    )


@pytest.mark.parametrize("backend", ["mediapipe_backend", "dlib_backend"])
def test_two_equal_faces_compete(two_clips, backend, request):
    frames = side_by_side(*two_clips, right_scale=1.0)
    with pytest.raises(Rejected) as info:
        track_clip(frames, request.getfixturevalue(backend))
    assert info.value.reason == "competing faces"


def test_a_small_background_face_does_not_compete_and_is_not_chosen(two_clips, mediapipe_backend):
    frames = side_by_side(*two_clips, right_scale=0.45)
    track = track_clip(frames, mediapipe_backend)
    alone = track_clip(two_clips[0], mediapipe_backend)
    # The subject is the large face on the left, and tracking it there matches tracking it alone.
    assert (track.points[..., 0] < 256).all()
    iod = inter_ocular(to_ibug68(alone.points, "mesh478"))
    err = np.linalg.norm(track.points - alone.points, axis=-1).mean(1) / iod
    assert err.mean() < 0.03


def test_face_lost_mid_clip_is_rejected_and_short_gaps_are_filled(two_clips, mediapipe_backend):
    frames = two_clips[0].copy()
    frames[10:12] = 0  # two black frames: filled
    track = track_clip(frames, mediapipe_backend)
    assert track.lost[10:12].all() and not track.lost[:10].any()
    assert np.isfinite(track.points).all()
    frames[10:16] = 0  # six: rejected
    with pytest.raises(Rejected) as info:
        track_clip(frames, mediapipe_backend)
    assert info.value.reason == "face lost" and info.value.measured == 4


def test_no_face_at_all(mediapipe_backend):
    frames = np.full((8, 128, 128, 3), 90, np.uint8)
    with pytest.raises(Rejected) as info:
        track_clip(frames, mediapipe_backend)
    assert info.value.reason == "no face"


def test_primary_prefers_large_central_confident_faces():
    big_corner = Detection(np.array([0, 0, 100, 100], np.float32), 0.9)
    mid_centre = Detection(np.array([270, 190, 370, 290], np.float32), 0.9)
    small_centre = Detection(np.array([300, 220, 340, 260], np.float32), 0.99)
    assert choose_primary([big_corner, mid_centre, small_centre], 640, 480) is mid_centre
    assert iou(big_corner.box, big_corner.box) == 1.0 and iou(big_corner.box, mid_centre.box) == 0.0


def test_backends_agree_on_a_frontal_clip(two_clips, mediapipe_backend, dlib_backend):
    frames = two_clips[0]
    mesh = extract_landmarks(frames, mediapipe_backend, 35.0)
    dlib = extract_landmarks(frames, dlib_backend, 35.0)
    inner = slice(17, 68)  # brows, nose, eyes, mouth: the jaw contour is defined differently
    nme = np.linalg.norm(mesh.ibug68[:, inner] - dlib.ibug68[:, inner], axis=-1).mean() / np.median(dlib.iod)
    assert nme < 0.08
    assert abs(np.median(mesh.euler[:, 0]) - np.median(dlib.euler[:, 0])) < 8  # yaw, degrees


def test_dlib_fits_in_sub_pixels_on_small_faces(two_clips, dlib_backend):
    """dlib itself returns whole pixels; a 0.4 px shift of a 100 px face must come back as ~0.4 px."""
    frame = cv2.resize(two_clips[0][0], (256, 256), interpolation=cv2.INTER_AREA)
    shifted = cv2.warpAffine(frame, np.float32([[1, 0, 0.4], [0, 1, 0]]), (256, 256), flags=cv2.INTER_LINEAR)
    box = choose_primary(dlib_backend.detect(frame), 256, 256).box
    a, b = dlib_backend.fit(frame, box), dlib_backend.fit(shifted, box)
    assert np.any(a != np.round(a))  # not whole pixels
    assert 0.25 < float(np.median(b[:, 0] - a[:, 0])) < 0.55


def test_landmark_table_round_trip(two_clips, mediapipe_backend, tmp_path):
    lm = extract_landmarks(two_clips[0], mediapipe_backend, 35.0)
    pq.write_table(landmarks_table("vid", 3, "train", 64, 256, 256, lm), tmp_path / "lm.parquet")
    table = pq.read_table(tmp_path / "lm.parquet")
    assert table.column("source_frame").to_pylist() == list(range(64, 64 + FRAMES))
    back = read_clip_landmarks(table)
    for name, value in vars(lm).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(back, name), value, err_msg=name)
        else:
            assert getattr(back, name) == value, name


@pytest.mark.parametrize(
    "config",
    [
        lambda: TrackConfig(detect_every=0),
        lambda: TrackConfig(max_lost_frames=-1),
        lambda: TrackConfig(compete_ratio=float("nan")),
        lambda: GateConfig(min_confidence=1.5),
        lambda: GateConfig(max_abs_yaw=float("nan")),
    ],
)
def test_tracking_and_gate_settings_are_checked(config):
    with pytest.raises(ValueError, match="expected"):
        config()

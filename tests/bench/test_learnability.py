"""The learnability bench's sets of source videos and its no-training reference."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from bench import learnability
from bench.learnability import SOURCES, face_sharpness, measurement_key, saved_measure, source_digest, video_sets


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


def _videos(folder: Path, sizes=(10, 20)) -> list[Path]:
    paths = []
    for i, size in enumerate(sizes):
        paths.append(folder / f"v{i}.mp4")
        paths[-1].write_bytes(b"x" * size)
    return paths


def test_measurement_key_changes_with_each_thing_a_measurement_depends_on(tmp_path):
    videos = _videos(tmp_path)
    key = measurement_key(videos, ["--operators", "blend"], 0, "code")
    assert measurement_key(videos, ["--operators", "blend"], 0, "code") == key
    assert measurement_key(videos[:1], ["--operators", "blend"], 0, "code") != key
    assert measurement_key(videos, ["--operators", "hybrid"], 0, "code") != key
    assert measurement_key(videos, ["--operators", "blend"], 1, "code") != key
    assert measurement_key(videos, ["--operators", "blend"], 0, "changed") != key
    videos[1].write_bytes(b"y" * 21)  # the same name, another file
    assert measurement_key(videos, ["--operators", "blend"], 0, "code") != key


def test_source_digest_follows_the_sources_and_ignores_bytecode(tmp_path):
    for package in SOURCES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "a.py").write_text("x = 1\n")
    digest = source_digest(tmp_path)
    (tmp_path / SOURCES[0] / "__pycache__").mkdir()
    (tmp_path / SOURCES[0] / "__pycache__" / "a.pyc").write_bytes(b"\0")
    assert source_digest(tmp_path) == digest
    (tmp_path / SOURCES[-1] / "a.py").write_text("x = 2\n")
    assert source_digest(tmp_path) != digest


def test_a_finished_measurement_is_saved_whole_and_reused(tmp_path, monkeypatch):
    monkeypatch.setattr(learnability, "SAVED", tmp_path / "saved")
    calls = []

    def fake_measure(videos, flags, seed, folder):
        calls.append(seed)
        return {"report": {"seed": seed}, "minutes": 1.0}

    monkeypatch.setattr(learnability, "measure", fake_measure)
    videos = _videos(tmp_path)
    first = saved_measure(videos, [], 3, tmp_path, "code", extra=lambda folder: {"more": 1})
    assert first == {"report": {"seed": 3}, "minutes": 1.0, "more": 1} and calls == [3]
    assert [p.suffix for p in (tmp_path / "saved").iterdir()] == [".json"]  # no partial file left
    assert saved_measure(videos, [], 3, tmp_path, "code") == first and calls == [3]  # reused, not measured
    saved_measure(videos, [], 3, tmp_path, "new code")
    assert calls == [3, 3]  # a changed pipeline is measured again


def _report(value: float) -> dict:
    cell = {"auroc": value}
    table = {
        "by_family": {"appearance": cell, "kinematic": {"auroc": value - 0.1}},
        "by_operator": {"blend": cell, "decouple": {"auroc": value - 0.1}},
    }
    return {"reals": 10, "fakes": 20, "detectors": {d: table for d in learnability.DETECTORS}}


def test_markdown_tables_hold_every_point_and_the_spread_over_seeds():
    calibration = {
        "report": {"detectors": {d: {"by_operator": {"blur0.7": {"auroc": 0.6}}} for d in learnability.DETECTORS}},
        "fit": dict.fromkeys(learnability.DETECTORS, False),
        "no_training": {"all": {"blur0.7": 0.7}},
    }
    points = [{"videos": 60, "strength": "default", "seed": s, "minutes": 1.0, "report": _report(v)}
              for s, v in ((0, 0.7), (1, 0.8), (2, 0.9))]  # fmt: skip
    points.insert(0, {"videos": 10, "strength": "default", "seed": 0, "minutes": 1.0, "report": _report(0.55)})
    text = learnability.markdown({"calibration": calibration, "points": points})
    lines = text.splitlines()
    assert "| pixel | 0.600 | no |" in lines and "| no training, all crops | 0.700 |  |" in lines
    assert sum(line.startswith("| 10 | default | 0 | 10 / 20 | 0.550 / 0.450") for line in lines) == 1
    assert sum(line.startswith("| 60 | default |") for line in lines) == 3
    assert "| pixel | 0.800 +- 0.100 | 0.700 +- 0.100 |" in lines  # appearance, kinematic over seeds 0.7/0.8/0.9
    assert "| blend | 0.700 | 0.700 | 0.700 |" in lines  # seed 0 at 60 videos only

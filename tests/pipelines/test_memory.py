"""One generate process stays under the memory bound whatever the input's resolution."""

from __future__ import annotations

import numpy as np
import pyarrow.dataset as ds
import pytest

from bench.memory import FRAMES, TARGET_MB, generate_peak_mb, letterboxed
from kinefake.schemas.layout import TABLE_FOLDERS
from kinefake.synth.video import encode_mp4
from tests.conftest import face


@pytest.mark.slow
def test_an_8k_clip_is_processed_at_1080p_area_under_the_bound(faces, tmp_path):
    # Before frames were scaled as they were decoded this took 3.9 GB (4.1 GB for grey 8K).
    video = tmp_path / "8k.mp4"
    video.write_bytes(encode_mp4(letterboxed(face(faces, "LivePortrait__d0"), (7680, 4320)), 25, preset="ultrafast"))
    out = tmp_path / "out"
    peak, _, code = generate_peak_mb(["--input", str(video), "--output", str(out), "--max-clips-per-video", "1"])
    assert code == 0
    assert peak < TARGET_MB
    rows = ds.dataset(str(out / TABLE_FOLDERS["landmarks"]), format="parquet").to_table().to_pylist()
    assert len(rows) == 32 < FRAMES
    assert {(r["width"], r["height"]) for r in rows} == {(1920, 1080)}
    points = np.array([r["landmarks68"] for r in rows]).reshape(-1, 68, 2)
    # The 512x512 face fills the middle 1080x1080 of the working frame.
    assert points[..., 0].min() > 420 and points[..., 0].max() < 1500
    assert points[..., 1].min() > 0 and points[..., 1].max() < 1080

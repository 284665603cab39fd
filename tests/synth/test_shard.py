"""Clip planning, manifests, video ids, and probe rejections of every bad input."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import InputRecord
from synth.errors import Rejected
from synth.shard import plan_clips, read_manifest, video_id_for
from synth.video import VideoInfo, probe
from tests.conftest import face
from tests.media import copy_to_odd_path, make_bad_inputs


def info_with(frames: int, pts: bool = True) -> VideoInfo:
    return VideoInfo(
        frame_count=frames,
        fps_num=25,
        fps_den=1,
        width=64,
        height=48,
        rotation=0,
        duration_s=frames / 25,
        codec="h264",
        size_bytes=1,
        frame_pts=tuple(range(0, 512 * frames, 512)) if pts else (),
    )


REF = InputRecord(uri="/data/a.mp4", video_id="abc")


def test_clips_tile_the_video():
    clips = plan_clips(info_with(100), REF, clip_frames=32)
    assert [(c.clip, c.start_frame, c.num_frames) for c in clips] == [(0, 0, 32), (1, 32, 32), (2, 64, 32)]
    assert [c.start_pts for c in clips] == [0, 32 * 512, 64 * 512]
    assert clips[1].key == "abc_0001"


def test_overlapping_stride_and_cap_spread_evenly():
    clips = plan_clips(info_with(100), REF, clip_frames=32, clip_stride=8)
    assert [c.start_frame for c in clips] == list(range(0, 69, 8))
    capped = plan_clips(info_with(100), REF, clip_frames=32, clip_stride=8, max_clips_per_video=3)
    assert [c.clip for c in capped] == [0, 4, 8]
    assert [c.start_frame for c in capped] == [0, 32, 64]


def test_exactly_one_clip_and_no_timestamps():
    (clip,) = plan_clips(info_with(32, pts=False), REF, clip_frames=32)
    assert clip.start_pts is None


def test_too_short_is_rejected_with_counts():
    with pytest.raises(Rejected) as info:
        plan_clips(info_with(1), REF, clip_frames=32)
    assert info.value.reason == "too short"
    assert info.value.detail == "the video has 1 frame; one clip needs 32 (--clip-frames)"
    assert (info.value.measured, info.value.threshold) == (1.0, 32.0)


def test_bad_clip_arguments():
    with pytest.raises(ValueError, match="expected clip_frames >= 1"):
        plan_clips(info_with(10), REF, clip_frames=0)
    with pytest.raises(ValueError, match="expected max_clips_per_video >= 1"):
        plan_clips(info_with(10), REF, clip_frames=2, max_clips_per_video=0)


def test_video_id_is_a_stable_hash():
    assert video_id_for("gs://bucket/a.mp4") == video_id_for("gs://bucket/a.mp4")
    assert video_id_for("gs://bucket/a.mp4") != video_id_for("gs://bucket/b.mp4")
    # Pinned so that ids never change between releases (existing corpora keep their keys).
    assert video_id_for("gs://bucket/a.mp4") == "7e9021f824457a25"


def test_csv_manifest_resolves_relative_paths_and_reports_empty_rows():
    csv = b"uri,video_id,split\nclips/a.mp4,,train\n/abs/b.mp4,bee,test\n,,train\n"
    records, empty = read_manifest(io.BytesIO(csv), "/data/manifest.csv")
    assert records == [
        InputRecord("/data/clips/a.mp4", video_id_for("/data/clips/a.mp4"), "train"),
        InputRecord("/abs/b.mp4", "bee", "test"),
    ]
    assert empty == ["3"]


def test_parquet_manifest_and_missing_uri_column():
    buf = io.BytesIO()
    pq.write_table(pa.table({"uri": ["gs://b/x.mp4"]}), buf)
    records, _ = read_manifest(io.BytesIO(buf.getvalue()), "gs://b/m.parquet")
    assert records == [InputRecord("gs://b/x.mp4", video_id_for("gs://b/x.mp4"), None)]
    with pytest.raises(Rejected, match="no 'uri' column"):
        read_manifest(io.BytesIO(b"path\nx.mp4\n"), "m.csv")


def test_every_bad_input_is_rejected_with_its_reason(faces, tmp_path):
    bad = make_bad_inputs(tmp_path, face(faces, "LivePortrait__d3"), face(faces, "LivePortrait__s18"))
    for name, (path, reason) in bad.items():
        try:
            plan_clips(probe(path), InputRecord(str(path), "x"), clip_frames=32)
        except Rejected as exc:
            assert exc.reason == reason, (name, exc)
            assert exc.detail, name
        else:
            pytest.fail(f"{name} was not rejected")
    with pytest.raises(Rejected) as missing:
        probe(tmp_path / "does-not-exist.mp4")
    assert missing.value.reason == "file not found"


def test_path_with_spaces_and_non_ascii_is_accepted(faces, tmp_path):
    path = copy_to_odd_path(face(faces, "spectre__00002"), tmp_path)
    assert probe(path).frame_count == 48

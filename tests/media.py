"""Small media files made on the fly for tests: rotated copies, audio-only, bad inputs."""

from __future__ import annotations

import io
import re
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from kinefake.synth.video import encode_mp4


def remux_with_rotation(src: Path, dst: Path, degrees: int) -> Path:
    """Copy ``src``'s video packets into ``dst`` with a display-matrix rotation."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        ist = inp.streams.video[0]
        ost = out.add_stream_from_template(ist)
        ost.set_display_rotation(degrees)
        for packet in inp.demux(ist):
            if packet.dts is None:
                continue
            packet.stream = ost
            out.mux(packet)
    return dst


def write_audio_only(dst: Path, seconds: float = 1.0, rate: int = 16000) -> Path:
    """An AAC-in-MP4 file with a sine tone and no video stream."""
    with av.open(str(dst), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate)
        t = np.arange(int(seconds * rate)) / rate
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return dst


def write_noise_video(dst: Path, frames: int, size: tuple[int, int] = (64, 48), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    dst.write_bytes(encode_mp4(rng.integers(0, 256, (frames, size[1], size[0], 3), dtype=np.uint8), 25))
    return dst


def write_size_change(dst: Path, first: tuple[int, int], second: tuple[int, int], frames: int) -> Path:
    """An MPEG-TS file of ``frames`` grey-80 frames at ``first`` (width, height) followed by
    ``frames`` grey-160 frames at ``second``: two H.264 streams concatenated."""
    data = b""
    for (width, height), grey in ((first, 80), (second, 160)):
        buf = io.BytesIO()
        with av.open(buf, "w", format="mpegts") as out:
            stream = out.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for i in range(frames):
                frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), grey, np.uint8), format="rgb24")
                frame.pts = i
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        data += buf.getvalue()
    dst.write_bytes(data)
    return dst


def make_bad_inputs(folder: Path, real_moov_at_end: Path, real_faststart: Path) -> dict[str, tuple[Path, str]]:
    """Every bad input the shard stage must reject: name -> (path, expected reason)."""
    folder.mkdir(parents=True, exist_ok=True)
    empty = folder / "empty.mp4"
    empty.write_bytes(b"")
    cut = folder / "truncated.mp4"
    data = real_moov_at_end.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    cut_fast = folder / "truncated_faststart.mp4"
    data = real_faststart.read_bytes()
    cut_fast.write_bytes(data[: len(data) // 2])
    text = folder / "notes.mp4"
    text.write_text("these are meeting notes, not a video\n" * 20)
    return {
        "empty": (empty, "empty file"),
        "truncated": (cut, "truncated"),
        "truncated_faststart": (cut_fast, "truncated"),
        "text": (text, "not a video"),
        "audio_only": (write_audio_only(folder / "audio_only.mp4"), "no video stream"),
        "one_frame": (write_noise_video(folder / "one_frame.mp4", 1), "too short"),
        "short": (write_noise_video(folder / "short.mp4", 10), "too short"),
    }


def copy_to_odd_path(src: Path, folder: Path) -> Path:
    """``src`` copied to a path with spaces and non-ASCII characters."""
    dst = folder / "clips with spaces" / "vidéo ñandú 日本 (1).mp4"
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def write_x264_444(dst: Path, frames: np.ndarray, core: int | None = None, gop: int = 32) -> Path:
    """``(T, H, W, 3)`` RGB frames as H.264 4:4:4 (libx264, keyframe every ``gop`` frames) in MP4.

    With ``core`` the version in x264's SEI (first packet) is rewritten to that build, as in
    files of an older x264 (FaceForensics++: core 148), whose 4:4:4 decode FFmpeg adjusts.
    """
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv444p"
        stream.options = {"crf": "18", "g": str(gop), "preset": "veryfast"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv444p")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    data = buf.getvalue()
    if core is not None:
        found = re.search(rb"x264 - core (\d+)", data)
        data = data.replace(found.group(0), b"x264 - core %d" % core, 1)
    dst.write_bytes(data)
    return dst


def write_variable_rate(dst: Path, gaps_ms: list[int], size: tuple[int, int] = (64, 48)) -> Path:
    """An MP4 whose frames are ``gaps_ms`` apart (a millisecond time base), as a phone records
    when it drops frames under load: its declared rate is the average."""
    width, height = size
    with av.open(str(dst), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        t = 0
        for i, gap in enumerate([0, *gaps_ms]):
            t += gap
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 5 * i % 256, np.uint8), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return dst


def write_two_streams(dst: Path, source: Path, frames: int = 40) -> Path:
    """An MP4 with a small grey video as stream 0 and ``source``'s first ``frames`` frames as
    stream 1, marked default (the one players show)."""
    from kinefake.synth.video import probe, read_frames

    info = probe(source)
    pictures = read_frames(source, 0, frames)
    with av.open(str(dst), "w") as out:
        small = out.add_stream("libx264", rate=info.fps)
        small.width, small.height, small.pix_fmt = 64, 48, "yuv420p"
        small.disposition = 0
        main = out.add_stream("libx264", rate=info.fps)
        main.width, main.height, main.pix_fmt = info.width, info.height, "yuv420p"
        main.disposition = av.stream.Disposition.default
        for picture in pictures:
            grey = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), format="rgb24")
            for stream, frame in ((small, grey), (main, av.VideoFrame.from_ndarray(picture, format="rgb24"))):
                for packet in stream.encode(frame):
                    out.mux(packet)
        for stream in (small, main):
            for packet in stream.encode(None):
                out.mux(packet)
    return dst

"""Video probe, streaming decode and H.264 encode, in-process with PyAV (bundled FFmpeg).

No shell and no external binary is involved: PyAV links FFmpeg's libraries, so a hostile
file name cannot inject a command. Every long-running loop checks a wall-clock deadline,
so a pathological input costs at most ``timeout_s`` seconds of a worker before it becomes
a :class:`~kinefake.errors.Rejected` ("decode timeout").

Frames are RGB uint8 ``(H, W, 3)``, upright: rotation metadata (display matrix) is applied
on decode, and :class:`VideoInfo` reports the displayed width and height.

Sources are a local path or a seekable binary file object (what ``pipelines`` opens for
``gs://`` URIs through Beam's filesystems); this module never imports Beam.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO

import av
import cv2
import numpy as np

from kinefake.errors import Rejected

Source = str | os.PathLike | BinaryIO

#: Default wall-clock budget for probing or decoding one input, seconds.
DEFAULT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learns about a video.

    ``frame_count`` is counted by demuxing every video packet, not read from the header
    (MPEG-1 program streams have none; truncated files lie), and equals the number of
    frames :func:`iter_frames` yields from the start. ``width``/``height`` are the
    displayed size, after ``rotation`` (degrees, one of 0/90/180/270) is applied.
    ``frame_pts`` holds each frame's presentation timestamp in stream time base, in
    presentation order, or is empty when the stream carries no timestamps. ``stream`` is the
    index of the video stream read (:func:`video_stream`).
    """

    frame_count: int
    fps_num: int
    fps_den: int
    width: int
    height: int
    rotation: int
    duration_s: float
    codec: str
    size_bytes: int
    frame_pts: tuple[int, ...]
    stream: int = 0

    @property
    def fps(self) -> Fraction:
        return Fraction(self.fps_num, self.fps_den)


def _size_of(src: Source) -> int:
    if isinstance(src, (str, os.PathLike)):
        try:
            return os.stat(src).st_size
        except FileNotFoundError:
            raise Rejected("file not found", f"no file at {os.fspath(src)!r}") from None
    pos = src.tell()
    size = src.seek(0, io.SEEK_END)
    src.seek(pos)
    return size


def _looks_like_mp4(src: Source) -> bool:
    """True when the first box is an ISO-BMFF ``ftyp`` box (MP4, MOV, 3GP)."""
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            head = f.read(12)
    else:
        src.seek(0)
        head = src.read(12)
        src.seek(0)
    return head[4:8] == b"ftyp"


def _open(src: Source) -> av.container.InputContainer:
    size = _size_of(src)
    if size == 0:
        raise Rejected("empty file", "the file is 0 bytes long")
    try:
        container = av.open(src if not isinstance(src, os.PathLike) else os.fspath(src), "r")
    except av.error.FFmpegError as exc:
        if _looks_like_mp4(src):
            raise Rejected(
                "truncated",
                f"an MP4 header is present but its index cannot be read, so the file was cut "
                f"short or is still being written ({exc})",
            ) from None
        raise Rejected("not a video", f"FFmpeg cannot read the container: {exc}") from None
    if not _pictures(container):
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        container.close()
        raise Rejected("no video stream", f"streams present: {', '.join(kinds)} (cover art is not a video)")
    return container


def _pictures(container: av.container.InputContainer) -> list:
    """The container's video streams that are moving pictures (not cover art)."""
    return [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    """The video stream kinefake reads: the one marked default (the one players show), else
    the largest; the lowest index among equals. Every decode picks it the same way, and
    :attr:`VideoInfo.stream` records its index."""
    streams = _pictures(container)
    pool = [s for s in streams if s.disposition & av.stream.Disposition.default] or streams
    return max(pool, key=lambda s: (s.codec_context.width * s.codec_context.height, -s.index))


def _stream_fps(stream: av.video.stream.VideoStream) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return Fraction(rate.numerator, rate.denominator)
    raise Rejected("no frame rate", "the video stream declares no usable frame rate")


def _check_deadline(deadline: float, timeout_s: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise Rejected("decode timeout", f"{what} took longer than {timeout_s:g} s")


def probe(src: Source, timeout_s: float = DEFAULT_TIMEOUT_S) -> VideoInfo:
    """Describe a video, decoding only its first frame.

    Args:
        src: local path or seekable binary file object.
        timeout_s: wall-clock budget for the whole probe.

    Returns:
        :class:`VideoInfo`.

    Raises:
        Rejected: file not found, empty file, not a video, no video stream,
            truncated (fewer packets than the header declares, or no decodable frame),
            decode timeout.
    """
    deadline = time.monotonic() + timeout_s
    size = _size_of(src)
    container = _open(src)
    try:
        stream = video_stream(container)
        declared = int(stream.frames or 0)
        pts: list[int] = []
        count = 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                count += 1
                if packet.pts is not None:
                    pts.append(int(packet.pts))
                if count % 256 == 0:
                    _check_deadline(deadline, timeout_s, "counting frames")
        except av.error.FFmpegError as exc:
            raise Rejected("truncated", f"demuxing stopped after {count} packets: {exc}") from None
        if declared and count < declared:
            raise Rejected("truncated", f"the header declares {declared} frames but the file holds {count}")
        first = _first_frame(container, stream, deadline, timeout_s)
        fps = _stream_fps(stream)
        if len(pts) == count:
            _check_constant_rate(sorted(pts), fps, stream.time_base)
        rotation = int(first.rotation) % 360
        width, height = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
        return VideoInfo(
            frame_count=count,
            fps_num=fps.numerator,
            fps_den=fps.denominator,
            width=int(width),
            height=int(height),
            rotation=rotation,
            duration_s=float(count / fps),
            codec=stream.codec_context.name,
            size_bytes=size,
            frame_pts=tuple(sorted(pts)) if len(pts) == count else (),
            stream=stream.index,
        )
    finally:
        container.close()


#: A frame interval beyond this factor of the declared rate's (longer, or shorter by it) makes
#: a video variable-frame-rate: its frames, written at the declared constant rate, would move
#: at the wrong speed. One dropped frame (2x) passes; the shared clips' intervals lie within
#: 0.74-1.48x of their rates (video-retalking__1 is the widest; the rest exactly 1x).
MAX_INTERVAL_FACTOR = 2.0


def _check_constant_rate(pts: list[int], fps: Fraction, time_base) -> None:
    """Raises Rejected("variable frame rate") when an interval between consecutive frames
    (presentation order) departs from ``1 / fps`` by more than :data:`MAX_INTERVAL_FACTOR`.
    Timestamps that repeat (two streams concatenated, each from 0) say nothing of timing:
    such a stream is not judged."""
    if len(pts) < 2 or time_base is None:
        return
    nominal = float(1 / (fps * time_base))  # stream time-base units per frame
    intervals = np.diff(np.asarray(pts, np.float64)) / nominal
    if (intervals <= 0).any():  # repeated timestamps: streams joined end to end, no timing to judge
        return
    worst = float(max(intervals.max(), 1 / max(intervals.min(), 1e-9)))
    if worst > MAX_INTERVAL_FACTOR * 1.01:  # 1 % for timestamps rounded to the time base
        shortest, longest = intervals.min() / float(fps), intervals.max() / float(fps)
        raise Rejected(
            "variable frame rate",
            f"frames {1000 * shortest:.0f}-{1000 * longest:.0f} ms apart against {float(fps):.3f} fps declared "
            f"({1000 / float(fps):.0f} ms): written at a constant rate, its motion would be distorted",
            measured=worst,
            threshold=MAX_INTERVAL_FACTOR,
        )


def _first_frame(container, stream, deadline: float, timeout_s: float) -> av.VideoFrame:
    try:
        container.seek(0, stream=stream)
        for frame in container.decode(stream):
            return frame
        _check_deadline(deadline, timeout_s, "decoding the first frame")
    except av.error.FFmpegError as exc:
        raise Rejected("truncated", f"no frame could be decoded: {exc}") from None
    raise Rejected("truncated", "the video stream holds no decodable frame")


#: Largest frame area, pixels, that decoded frames are kept at: 1080p's. A bigger source is
#: scaled down (aspect kept) as each frame is converted to RGB, so a clip costs what a
#: 1080p clip does whatever the input (an 8K clip held whole took 4.4 GB; ``make bench``
#: reports the peak by resolution). A face that spans ``--size`` / ``--margin`` pixels of
#: the working frame still fills the ``--size`` crop without upsampling: 2x that of a 4K
#: source, 4x that of an 8K one.
MAX_WORK_PIXELS = 1920 * 1080


def working_size(width: int, height: int) -> tuple[int, int]:
    """The ``(width, height)`` a ``width`` x ``height`` source's frames are kept at: the
    source's own size up to :data:`MAX_WORK_PIXELS`, else scaled down to it, aspect kept."""
    if width * height <= MAX_WORK_PIXELS:
        return width, height
    scale = math.sqrt(MAX_WORK_PIXELS / (width * height))
    return max(2, math.floor(width * scale + 1e-6)), max(2, math.floor(height * scale + 1e-6))


def _to_rgb(frame: av.VideoFrame, size: tuple[int, int] | None = None, dst: np.ndarray | None = None) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB, upright, at ``size`` ``(width, height)`` (area interpolation)
    or, when None, at the :func:`working_size`; written into ``dst`` (and returned) when given.

    Limited-range yuv420p with even sides (nearly every real clip) goes through OpenCV's
    I420 kernel, measured 10-60% faster than swscale's rgb24 path on the shared clips
    (``make bench``); everything else takes swscale. A frame above :data:`MAX_WORK_PIXELS`
    is scaled by swscale in the same pass as the conversion: on an 8K clip 65 ms/frame and
    270 MB peak, against 139 ms and 860 MB converting at full size then resizing. Writing
    a 1080p frame straight into ``dst`` saves a 6 MB copy (0.5 ms).
    """
    coded = working_size(frame.width, frame.height)
    rotation = int(frame.rotation) % 360
    final = (coded[1], coded[0]) if rotation in (90, 270) else (coded[0], coded[1])
    in_place = dst is not None and not rotation and (size is None or tuple(size) == final)
    if coded != (frame.width, frame.height):
        rgb = frame.to_ndarray(format="rgb24", width=coded[0], height=coded[1], interpolation="AREA")
    elif frame.format.name == "yuv420p" and frame.color_range != 2 and frame.width % 2 == 0 and frame.height % 2 == 0:
        rgb = cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420, dst=dst if in_place else None)
    else:
        rgb = frame.to_ndarray(format="rgb24")
    if rotation:
        # The display matrix angle is counter-clockwise; np.rot90 turns counter-clockwise.
        rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))
    if size is not None and (rgb.shape[1], rgb.shape[0]) != tuple(size):
        rgb = cv2.resize(rgb, tuple(size), interpolation=cv2.INTER_AREA)
    if dst is None or rgb is dst:  # OpenCV hands back dst itself when it wrote into it
        return rgb
    dst[...] = rgb
    return dst


def iter_frames(
    src: Source,
    start: int = 0,
    count: int | None = None,
    start_pts: int | None = None,
    size: tuple[int, int] | None = None,
    threads: int = 1,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Iterator[np.ndarray]:
    """Stream decoded frames ``[start, start + count)`` as ``(H, W, 3)`` uint8 RGB, upright.

    Only one frame is held at a time. With ``start_pts`` (the presentation timestamp of
    frame ``start``, from :attr:`VideoInfo.frame_pts`) the decoder seeks to the keyframe
    before it instead of decoding from the beginning; if the seek lands past the target
    (a container with an imprecise index) it falls back to decoding from the start.

    Args:
        src: local path or seekable binary file object.
        start: index of the first frame to yield, 0-based, in presentation order.
        count: number of frames to yield; None for all remaining.
        start_pts: timestamp of frame ``start`` in stream time base, or None.
        size: ``(width, height)`` to resize every frame to (area interpolation); None keeps
            the :func:`working_size` (the source's size up to :data:`MAX_WORK_PIXELS`).
        threads: FFmpeg decoder threads; 1 keeps a worker on one core, 0 lets FFmpeg choose.
        timeout_s: wall-clock budget for the whole call.

    Raises:
        Rejected: as :func:`probe`, and "decode error" for a corrupt packet mid-stream.
    """
    if start < 0 or (count is not None and count < 0):
        raise ValueError(f"expected start >= 0 and count >= 0, got start={start}, count={count}")
    deadline = time.monotonic() + timeout_s
    frames = _decoded_from(src, start, start_pts, threads, deadline, timeout_s)
    for produced, frame in enumerate(frames, start=1):
        if count is not None and produced > count:
            break
        yield _to_rgb(frame, size)
        _check_deadline(deadline, timeout_s, f"decoding {produced} frames")


class SkipBefore:
    """Where a decode may leave frames out: packets whose timestamp is below ``pts`` and that
    no other frame refers to (H.264's non-reference frames, often every other frame of a
    stream with B-frames) are not decoded at all (FFmpeg's ``skip_frame`` ``NONREF``). Every
    frame that is decoded is the same picture, bit for bit: nothing refers to what is left
    out. A reader sets ``pts`` to its next clip's first timestamp before decoding towards it
    (None: decode everything)."""

    def __init__(self, pts: int | None = None) -> None:
        self.pts = pts


def _decode(container, stream, skip: SkipBefore) -> Iterator[av.VideoFrame]:
    """``container.decode(stream)``, leaving out what ``skip`` allows."""
    context = stream.codec_context
    for packet in container.demux(stream):
        before = skip.pts is not None and packet.pts is not None and packet.pts < skip.pts
        context.skip_frame = "NONREF" if before else "DEFAULT"
        yield from packet.decode()


def _decoded_from(
    src, start, start_pts, threads, deadline, timeout_s, skip: SkipBefore | None = None
) -> Iterator[av.VideoFrame]:
    """Decoded frames from index ``start`` on.

    Seeks when a timestamp allows it; when the seek lands past the target (MPEG program
    streams have no exact index) the container is reopened and decoded from the start,
    since a container that was seeked once may not return to frame 0 exactly. After a seek,
    the frames before ``start_pts`` that nothing refers to are not decoded; ``skip`` (the
    caller's, to move its bound later) is what a decode from the start leaves out.
    """
    skip = SkipBefore() if skip is None else skip
    if start > 0 and start_pts is not None:
        container = _open_decoder(src, threads)
        try:
            stream = video_stream(container)
            if _first_packet_matters(container, stream):
                container.close()
                yield from _decoded_from(src, start, None, threads, deadline, timeout_s, skip)
                return
            container.seek(start_pts, stream=stream, backward=True, any_frame=False)
            skip.pts = start_pts
            decoded = _decode(container, stream, skip)
            first = next(decoded, None)
            if first is not None and first.pts is not None and first.pts <= start_pts:
                for frame in itertools.chain([first], decoded):
                    if frame.pts is None or frame.pts >= start_pts:
                        yield frame
                    else:
                        _check_deadline(deadline, timeout_s, f"seeking to frame {start}")
                return
        except av.error.FFmpegError as exc:
            raise Rejected("decode error", f"FFmpeg failed while decoding: {exc}") from None
        finally:
            container.close()
    container = _open_decoder(src, threads)
    try:
        skip.pts = None  # frames are counted from the first: none may be left out
        for index, frame in enumerate(_decode(container, video_stream(container), skip)):
            if index >= start:
                yield frame
            elif index % 64 == 0:
                _check_deadline(deadline, timeout_s, f"skipping to frame {start}")
    except av.error.FFmpegError as exc:
        raise Rejected("decode error", f"FFmpeg failed while decoding: {exc}") from None
    finally:
        container.close()


#: x264 builds before this one wrote 4:4:4 streams that FFmpeg decodes right only after
#: reading the x264 version SEI of the stream's first packet.
X264_FIXED_BUILD = 151


def _first_packet_matters(container: av.container.InputContainer, stream) -> bool:
    """Whether frames decoded after a seek would differ from a straight decode.

    FFmpeg applies its fix for 4:4:4 streams of x264 before core 151 (FaceForensics++'s
    core 148 among them) only after it has read x264's version from an SEI in the first
    packet, which a seek skips: such clips came out as grey-green garbage, 100+ grey levels
    off. Feeding that packet to the decoder before the seek did not help here (the seek's
    flush forgets it), so such streams are decoded from the start instead.
    """
    if "444" not in (stream.codec_context.pix_fmt or ""):
        return False
    for packet in container.demux(stream):
        if packet.size:
            found = re.search(rb"x264 - core (\d+)", bytes(packet))
            return found is not None and int(found.group(1)) < X264_FIXED_BUILD
    return False


def _keyframe_between(src: Source, after: int, upto: int, deadline: float, timeout_s: float) -> bool:
    """Whether the video stream has a keyframe timestamped in ``(after, upto]``, from its
    packets there (a seek to ``after``, then packets up to ``upto``; nothing decoded, so
    no more is read than a decode through the gap would read). False for a stream that is
    decoded from its start instead of sought (:func:`_first_packet_matters`). A file object
    is left at the position it had, so a decoder reading it goes on unharmed."""
    position = None if isinstance(src, (str, os.PathLike)) else src.tell()
    try:
        with _open_decoder(src, 1) as container:
            stream = video_stream(container)
            if _first_packet_matters(container, stream):
                return False
            container.seek(after, stream=stream, backward=True, any_frame=False)
            for index, packet in enumerate(container.demux(stream)):
                if packet.is_keyframe and packet.pts is not None and after < packet.pts <= upto:
                    return True
                if packet.dts is not None and packet.dts > upto:  # a frame's dts is at most its pts
                    return False
                if index % 64 == 0:
                    _check_deadline(deadline, timeout_s, "looking for a keyframe")
            return False
    except av.error.FFmpegError as exc:
        raise Rejected("decode error", f"FFmpeg failed while looking for a keyframe: {exc}") from None
    finally:
        if position is not None:
            src.seek(position)


def _open_decoder(src: Source, threads: int) -> av.container.InputContainer:
    if not isinstance(src, (str, os.PathLike)):
        src.seek(0)
    container = _open(src)
    stream = video_stream(container)
    if threads != 1:
        stream.thread_type = "AUTO"
    stream.codec_context.thread_count = threads
    return container


class ClipReader:
    """Clips of one video, read in increasing order through one open decoder.

    A seek lands on the keyframe before a clip and decodes every frame from there: up to
    a whole GOP (often 250 frames) for each 32-frame clip. When the next clip starts at
    or after the frame where the last read stopped, and no more than ``forward_limit``
    frames later, the reader decodes forward instead of seeking again, so a video's
    consecutive clips cost one decode of the video; unless a keyframe lies in the gap (told
    from the gap's packets), where a seek to it decodes fewer. Frames before a clip that no
    other frame refers to are not decoded (:class:`SkipBefore`). On the shared clips, spread
    two to a video: 1,914 frames decoded for 1,248 (2,893 before keyframes in a gap were
    looked for).

    Args:
        src: local path or seekable binary file object (kept open by the caller).
        threads: FFmpeg decoder threads.
        timeout_s: wall-clock budget of each :meth:`read`.
        forward_limit: largest gap, frames, decoded through instead of seeking.
    """

    def __init__(
        self, src: Source, threads: int = 1, timeout_s: float = DEFAULT_TIMEOUT_S, forward_limit: int = 300
    ) -> None:
        self.src, self.threads, self.timeout_s, self.forward_limit = src, threads, timeout_s, forward_limit
        self._frames: Iterator[av.VideoFrame] | None = None
        self._next = 0  # index of the frame self._frames yields next
        self._last_pts: int | None = None  # timestamp of the frame before it
        self._skip = SkipBefore()

    def __enter__(self) -> ClipReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _seek(self, start: int, start_pts: int | None, deadline: float) -> None:
        """A new decoder whose first frame is ``start``."""
        self.close()
        self._frames = _decoded_from(self.src, start, start_pts, self.threads, deadline, self.timeout_s, self._skip)
        self._next, self._last_pts = start, None

    def _keyframe_ahead(self, start_pts: int | None, deadline: float) -> bool:
        """Whether a keyframe lies after the last frame decoded and at or before ``start_pts``:
        a seek then decodes fewer frames than going on (those from that keyframe only)."""
        if start_pts is None or self._last_pts is None:
            return False
        return _keyframe_between(self.src, self._last_pts, start_pts, deadline, self.timeout_s)

    def close(self) -> None:
        """Release the decoder (the source stays open)."""
        if self._frames is not None:
            self._frames.close()  # runs the generator's finally: the container closes
            self._frames = None

    def read(
        self, start: int, count: int, start_pts: int | None = None, size: tuple[int, int] | None = None
    ) -> np.ndarray:
        """Decode exactly ``count`` frames from ``start``: ``(count, H, W, 3)`` uint8 RGB.

        Args:
            start_pts: timestamp of frame ``start`` (lets a new decoder seek), or None.
            size: ``(width, height)`` to resize every frame to (area interpolation); None keeps
                the :func:`working_size`.

        Raises:
            Rejected: "truncated" when the video ends before ``count`` frames, and
                everything :func:`iter_frames` raises.
        """
        if start < 0 or count < 0:
            raise ValueError(f"expected start >= 0 and count >= 0, got start={start}, count={count}")
        deadline = time.monotonic() + self.timeout_s
        forward = self._frames is not None and self._next <= start <= self._next + self.forward_limit
        if not forward or (start > self._next and self._keyframe_ahead(start_pts, deadline)):
            self._seek(start, start_pts, deadline)
        # Towards a later clip, frames are told by timestamp, so those nothing refers to need no decode.
        by_pts = start > self._next and start_pts is not None
        self._skip.pts = start_pts if by_pts else None
        out: np.ndarray | None = None
        try:
            while self._next < start + count:
                frame = next(self._frames, None)
                if frame is None:
                    self.close()
                    produced = max(0, self._next - start)
                    raise Rejected(
                        "truncated", f"asked for frames {start}..{start + count - 1}, video ended after {produced}"
                    )
                if by_pts:
                    if frame.pts is not None and frame.pts < start_pts:
                        _check_deadline(deadline, self.timeout_s, f"decoding towards frame {start}")
                        continue
                    by_pts = False
                    if frame.pts != start_pts:  # timestamps that do not match the probe's: seek instead
                        self._seek(start, start_pts, deadline)
                        continue
                    self._next = start
                index = self._next
                self._next += 1
                self._last_pts = frame.pts
                if index >= start:
                    if out is None:
                        first = _to_rgb(frame, size)
                        out = np.empty((count, *first.shape), dtype=np.uint8)
                        out[0] = first
                        size = (first.shape[1], first.shape[0])  # a stream that changes size mid-clip is resized
                    else:
                        _to_rgb(frame, size, out[index - start])
                if index % 16 == 0:
                    _check_deadline(deadline, self.timeout_s, f"decoding frame {index}")
        except BaseException:
            self.close()
            raise
        return out if out is not None else np.empty((0, 0, 0, 3), np.uint8)


def read_frames(
    src: Source,
    start: int,
    count: int,
    start_pts: int | None = None,
    size: tuple[int, int] | None = None,
    threads: int = 1,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> np.ndarray:
    """Decode exactly ``count`` frames from ``start``: ``(count, H, W, 3)`` uint8 RGB
    (one :meth:`ClipReader.read`).

    Raises:
        Rejected: "truncated" when the video ends before ``count`` frames were produced,
            and everything :func:`iter_frames` raises.
    """
    with ClipReader(src, threads, timeout_s) as reader:
        return reader.read(start, count, start_pts, size)


#: Smaller frames are encoded without x264's macroblock tree. With it, one real 64x64 clip
#: encoded 40 times in one process gave 2-4 different byte streams from the same frames
#: (libx264 in PyAV 18.1: with ``asm=0`` or ``mbtree=0``, one in 200); the same clip resized to
#: every size from 32 to 128 in steps of 8 gave one in 40 except 64, and 256 one in 30. Off
#: for every small size rather than 64 alone; kept at 128 and above, where it makes a 256x256
#: clip 29% smaller (21.0 vs 29.4 kB) at the same speed.
MBTREE_MIN_SIDE = 128


def encode_mp4(
    frames: Iterable[np.ndarray] | np.ndarray,
    fps: Fraction | float,
    crf: int = 18,
    preset: str = "veryfast",
    threads: int = 1,
) -> bytes:
    """Encode RGB frames to an H.264 (libx264, yuv420p) MP4 and return its bytes.

    Odd widths or heights cannot be coded in 4:2:0; such frames are padded by one
    replicated row or column to the next even size (decode returns the padded size).
    The output is deterministic for the same frames, options and library versions:
    bit-exact muxing, no creation time, a fixed thread count.

    Args:
        frames: ``(T, H, W, 3)`` uint8 array or an iterable of ``(H, W, 3)`` uint8 frames.
        fps: frame rate; a Fraction keeps rates such as 2213/100 exact.
        crf: x264 constant rate factor, 0 (lossless luma) to 51; 18 is visually lossless.
        preset: x264 preset, ``ultrafast`` .. ``veryslow``.
        threads: x264 threads; 1 for one core and byte-identical output.

    Raises:
        ValueError: a frame that is not ``(H, W, 3)`` uint8, frames of different sizes,
            or no frames at all.
    """
    rate = Fraction(fps).limit_denominator(1001000)
    buf = io.BytesIO()
    container = av.open(buf, "w", format="mp4", options={"fflags": "+bitexact"})
    stream = None
    shape = None
    n = 0
    try:
        for frame in frames:
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise ValueError(f"expected (H, W, 3) uint8 frames, got {frame.shape} {frame.dtype}")
            if shape is None:
                shape = frame.shape
                stream = container.add_stream("libx264", rate=rate)
                stream.width = frame.shape[1] + frame.shape[1] % 2
                stream.height = frame.shape[0] + frame.shape[0] % 2
                stream.pix_fmt = "yuv420p"
                stream.codec_context.thread_count = threads
                stream.options = {"crf": str(crf), "preset": preset, "threads": str(threads)}
                if min(stream.width, stream.height) < MBTREE_MIN_SIDE:
                    stream.options = {**stream.options, "x264-params": "mbtree=0"}
            elif frame.shape != shape:
                raise ValueError(f"expected every frame {shape}, got {frame.shape} at frame {n}")
            if frame.shape[0] % 2 or frame.shape[1] % 2:
                frame = np.pad(frame, ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0)), mode="edge")
            yuv = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2YUV_I420)
            video_frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            video_frame.pts = n
            for packet in stream.encode(video_frame):
                container.mux(packet)
            n += 1
        if stream is None:
            raise ValueError("expected at least one frame, got none")
        for packet in stream.encode(None):
            container.mux(packet)
    finally:
        container.close()
    return buf.getvalue()

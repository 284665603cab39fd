"""The clips table: the unit of parallel work that the shard stage emits."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from kinefake.schemas.common import described, with_version

CLIP_SCHEMA = with_version(
    pa.schema(
        [
            described(
                "video_id",
                pa.string(),
                "the source video's id (the manifest's video_id, else from its file name)",
                nullable=False,
            ),
            described("clip", pa.int32(), "index of the clip within its video", nullable=False),
            described("uri", pa.string(), "the source video (absolute local path or gs:// URI)", nullable=False),
            described(
                "split",
                pa.string(),
                "train, val, test, ...: drawn per source video or given by the input manifest",
                nullable=False,
            ),
            described(
                "start_frame", pa.int64(), "first frame of the clip in the source (decode order)", nullable=False
            ),
            described("num_frames", pa.int32(), "frames in the clip", nullable=False),
            described(
                "start_pts", pa.int64(), "presentation timestamp of the first frame, stream time base (null: none)"
            ),
            described("fps_num", pa.int32(), "frame rate fps_num / fps_den", nullable=False),
            described("fps_den", pa.int32(), "frame rate denominator", nullable=False),
            described("width", pa.int32(), "displayed width after rotation, pixels", nullable=False),
            described("height", pa.int32(), "displayed height after rotation, pixels", nullable=False),
            described("rotation", pa.int16(), "display rotation of the stream, degrees", nullable=False),
            described("codec", pa.string(), "the video stream's codec (ffmpeg name)", nullable=False),
            described("video_frames", pa.int64(), "frames in the whole source video", nullable=False),
            described("stream", pa.int16(), "index of the video stream read", nullable=False),
            described(
                "digest",
                pa.string(),
                "content digest of the source (SHA-256 of size and sampled bytes): duplicates are dropped by it",
                nullable=False,
            ),
            described("batch", pa.int16(), "the run that made the clip: 0, then one more per --append", nullable=False),
        ]
    ),
    "clips",
)


@dataclass(frozen=True)
class ClipRecord:
    """Frames ``[start_frame, start_frame + num_frames)`` of the video at ``uri``.

    ``start_pts`` is the first frame's presentation timestamp (stream time base), which
    lets a worker seek instead of decoding from the start; None when the stream has none.
    ``width``/``height`` are the displayed size after ``rotation``; ``video_frames`` is
    the whole video's frame count; ``stream`` the index of the video stream read (the
    default one, else the largest: :func:`kinefake.synth.video.video_stream`); ``digest``
    the source's content digest (:class:`~kinefake.schemas.inputs.InputRecord`), by which
    ``generate --append`` drops a video the corpus already holds; ``batch`` the run that made
    the clip: 0 for the first, then one more for each ``--append`` (donor groups never span two).
    """

    video_id: str
    clip: int
    uri: str
    split: str
    start_frame: int
    num_frames: int
    start_pts: int | None
    fps_num: int
    fps_den: int
    width: int
    height: int
    rotation: int
    codec: str
    video_frames: int
    stream: int = 0
    digest: str = ""
    batch: int = 0

    @property
    def key(self) -> str:
        """``{video_id}_{clip:04d}``, the prefix of every sample key cut from this clip."""
        return f"{self.video_id}_{self.clip:04d}"

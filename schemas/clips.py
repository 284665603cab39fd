"""The clips table: the unit of parallel work that the shard stage emits."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from kinefake.schemas.common import with_version

CLIP_SCHEMA = with_version(
    pa.schema(
        [
            pa.field("video_id", pa.string(), nullable=False),
            pa.field("clip", pa.int32(), nullable=False),
            pa.field("uri", pa.string(), nullable=False),
            pa.field("split", pa.string(), nullable=False),
            pa.field("start_frame", pa.int64(), nullable=False),
            pa.field("num_frames", pa.int32(), nullable=False),
            pa.field("start_pts", pa.int64()),
            pa.field("fps_num", pa.int32(), nullable=False),
            pa.field("fps_den", pa.int32(), nullable=False),
            pa.field("width", pa.int32(), nullable=False),
            pa.field("height", pa.int32(), nullable=False),
            pa.field("rotation", pa.int16(), nullable=False),
            pa.field("codec", pa.string(), nullable=False),
            pa.field("video_frames", pa.int64(), nullable=False),
            pa.field("stream", pa.int16(), nullable=False),
            pa.field("digest", pa.string(), nullable=False),
            pa.field("batch", pa.int16(), nullable=False),
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

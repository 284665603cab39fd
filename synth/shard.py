"""Shard stage, Beam-free: video ids, manifest parsing and clip planning."""

from __future__ import annotations

import hashlib
import io
import posixpath
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq

from schemas.clips import ClipRecord
from schemas.inputs import SPLIT_COLUMN, URI_COLUMN, VIDEO_ID_COLUMN, InputRecord
from synth.errors import Rejected
from synth.video import VideoInfo

#: File endings treated as videos when a whole folder is given as input.
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".3gp"}
)
#: File endings read as manifests rather than videos.
MANIFEST_EXTENSIONS = frozenset({".csv", ".parquet"})


def video_id_for(uri: str) -> str:
    """Stable 16-hex-digit id of a URI: the first 64 bits of its SHA-1 (as written)."""
    return hashlib.sha1(uri.encode("utf-8")).hexdigest()[:16]


def is_manifest(uri: str) -> bool:
    return posixpath.splitext(uri.lower())[1] in MANIFEST_EXTENSIONS


def is_video_name(uri: str) -> bool:
    return posixpath.splitext(uri.lower())[1] in VIDEO_EXTENSIONS


def resolve_uri(uri: str, manifest_uri: str) -> str:
    """``uri`` as given when absolute or with a scheme, else relative to the manifest's folder."""
    if "://" in uri or uri.startswith("/"):
        return uri
    return posixpath.join(posixpath.dirname(manifest_uri), uri)


def read_manifest(f: BinaryIO, manifest_uri: str) -> tuple[list[InputRecord], list[str]]:
    """Parse a CSV or Parquet manifest with a ``uri`` column, optional ``video_id``, ``split``.

    Args:
        f: the manifest's bytes, opened by the caller.
        manifest_uri: where it came from; decides CSV vs Parquet and anchors relative URIs.

    Returns:
        The usable rows, and the 1-based row numbers (as strings) whose ``uri`` is empty,
        for the caller to report.

    Raises:
        Rejected: "bad manifest" when it cannot be parsed or has no ``uri`` column.
    """
    data = f.read()
    try:
        if manifest_uri.lower().endswith(".parquet"):
            table = pq.read_table(io.BytesIO(data))
        else:
            table = pyarrow.csv.read_csv(
                io.BytesIO(data),
                convert_options=pyarrow.csv.ConvertOptions(
                    column_types={c: pa.string() for c in (URI_COLUMN, VIDEO_ID_COLUMN, SPLIT_COLUMN)}
                ),
            )
    except (pa.ArrowInvalid, OSError) as exc:
        raise Rejected("bad manifest", f"cannot parse {manifest_uri}: {exc}") from None
    if URI_COLUMN not in table.column_names:
        raise Rejected("bad manifest", f"no '{URI_COLUMN}' column; columns are {table.column_names}")
    records = []
    empty_rows = []
    for number, row in enumerate(table.to_pylist(), start=1):
        uri = row[URI_COLUMN]
        if not uri:
            empty_rows.append(str(number))
            continue
        uri = resolve_uri(str(uri), manifest_uri)
        video_id = row.get(VIDEO_ID_COLUMN) or video_id_for(uri)
        split = row.get(SPLIT_COLUMN)
        records.append(InputRecord(uri=uri, video_id=str(video_id), split=None if split is None else str(split)))
    return records, empty_rows


def plan_clips(
    info: VideoInfo,
    ref: InputRecord,
    clip_frames: int = 32,
    clip_stride: int | None = None,
    max_clips_per_video: int | None = None,
) -> list[ClipRecord]:
    """Cut a probed video into clips of ``clip_frames`` frames every ``clip_stride`` frames.

    Clip ``k`` always starts at frame ``k * clip_stride``, so its index means the same thing
    whatever the cap. With ``max_clips_per_video`` the kept clips are spread evenly over
    the video (first and last included), not just the first ones.

    Raises:
        ValueError: ``clip_frames`` or ``clip_stride`` below 1, or a cap below 1.
        Rejected: "too short" when the video holds fewer than ``clip_frames`` frames.
    """
    stride = clip_frames if clip_stride is None else clip_stride
    if clip_frames < 1 or stride < 1:
        raise ValueError(f"expected clip_frames >= 1 and clip_stride >= 1, got {clip_frames}, {stride}")
    if max_clips_per_video is not None and max_clips_per_video < 1:
        raise ValueError(f"expected max_clips_per_video >= 1 or None, got {max_clips_per_video}")
    n = info.frame_count
    if n < clip_frames:
        plural = "frame" if n == 1 else "frames"
        raise Rejected(
            "too short",
            f"the video has {n} {plural}; one clip needs {clip_frames} (--clip-frames)",
            measured=float(n),
            threshold=float(clip_frames),
        )
    candidates = (n - clip_frames) // stride + 1
    keep = np.arange(candidates)
    if max_clips_per_video is not None and candidates > max_clips_per_video:
        keep = np.unique(np.round(np.linspace(0, candidates - 1, max_clips_per_video)).astype(int))
    clips = []
    for k in keep.tolist():
        start = k * stride
        clips.append(
            ClipRecord(
                video_id=ref.video_id,
                clip=k,
                uri=ref.uri,
                split=ref.split,
                start_frame=start,
                num_frames=clip_frames,
                start_pts=info.frame_pts[start] if info.frame_pts else None,
                fps_num=info.fps_num,
                fps_den=info.fps_den,
                width=info.width,
                height=info.height,
                rotation=info.rotation,
                codec=info.codec,
                video_frames=n,
            )
        )
    return clips

"""The samples table: one row per WebDataset sample (no media bytes), to query and audit a corpus."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from schemas.common import with_version

SAMPLE_SCHEMA = with_version(
    pa.schema(
        [
            pa.field("key", pa.string(), nullable=False),
            pa.field("video_id", pa.string(), nullable=False),
            pa.field("clip", pa.int32(), nullable=False),
            pa.field("variant", pa.string(), nullable=False),
            pa.field("label", pa.int8(), nullable=False),
            pa.field("shard", pa.string(), nullable=False),
            pa.field("uri", pa.string(), nullable=False),
            pa.field("split", pa.string()),
            pa.field("start_frame", pa.int64(), nullable=False),
            pa.field("num_frames", pa.int32(), nullable=False),
            pa.field("fps_num", pa.int32(), nullable=False),
            pa.field("fps_den", pa.int32(), nullable=False),
            pa.field("size", pa.int32(), nullable=False),
            pa.field("operator", pa.string()),
            pa.field("region", pa.string()),
            pa.field("partner", pa.string()),
            pa.field("strength_iod", pa.float32()),
            pa.field("max_displacement_iod", pa.float32()),
            pa.field("active_start", pa.int32()),
            pa.field("active_end", pa.int32()),
            pa.field("seed", pa.int64(), nullable=False),
            pa.field("sample_seed", pa.uint64()),
            pa.field("mp4_bytes", pa.int64(), nullable=False),
            pa.field("mp4_sha256", pa.string(), nullable=False),
            pa.field("label_json", pa.string(), nullable=False),
        ]
    ),
    "samples",
)


@dataclass(frozen=True)
class SampleRecord:
    """One sample: key ``{video_id}_{clip:04d}_{variant}``, label 0 (real) or 1 (fake), the
    WebDataset shard that holds it (path relative to the output folder), where it came
    from, the perturbation's headline figures (None on real samples; active frames are
    ``[active_start, active_end)``), and the full ``json`` member as ``label_json``."""

    key: str
    video_id: str
    clip: int
    variant: str
    label: int
    shard: str
    uri: str
    split: str | None
    start_frame: int
    num_frames: int
    fps_num: int
    fps_den: int
    size: int
    operator: str | None
    region: str | None
    partner: str | None
    strength_iod: float | None
    max_displacement_iod: float | None
    active_start: int | None
    active_end: int | None
    seed: int
    sample_seed: int | None
    mp4_bytes: int
    mp4_sha256: str
    label_json: str

"""The samples table: one row per WebDataset sample (no media bytes), to query and audit a corpus."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from kinefake.schemas.common import described, with_version

SAMPLE_SCHEMA = with_version(
    pa.schema(
        [
            described("key", pa.string(), "{video_id}_{clip:04d}_{variant}; the WebDataset key", False),
            described("video_id", pa.string(), "source video: the manifest's id, else its content digest", False),
            described("clip", pa.int32(), "clip index k: frames from k * clip_stride", False),
            described("variant", pa.string(), "real or fake{n}", False),
            described("label", pa.int8(), "0 real, 1 fake", False),
            described("shard", pa.string(), "the tar holding the sample, relative to the corpus folder", False),
            described("uri", pa.string(), "the source video", False),
            described(
                "split",
                pa.string(),
                "train, val, test, ...: the manifest's split or the one --splits drew for the source video",
                False,
            ),
            described("start_frame", pa.int64(), "first frame of the clip in the source, 0-based", False),
            described("num_frames", pa.int32(), "frames in the clip", False),
            described("fps_num", pa.int32(), "frame rate numerator (fps = fps_num / fps_den)", False),
            described("fps_den", pa.int32(), "frame rate denominator", False),
            described("size", pa.int32(), "crop side, pixels", False),
            described("operator", pa.string(), "the fake's operator; null in a real sample"),
            described("region", pa.string(), "the edited face region"),
            described("partner", pa.string(), "the region whose motion coupling is broken"),
            described("strength_iod", pa.float32(), "the drawn largest displacement, inter-ocular distances"),
            described("max_displacement_iod", pa.float32(), "the largest landmark shift rendered, IOD"),
            described("active_start", pa.int32(), "first frame that moved"),
            described("active_end", pa.int32(), "one past the last frame that moved"),
            described("seed", pa.int64(), "the job's --seed", False),
            described("sample_seed", pa.int64(), "63-bit seed of the sample's draws", False),
            described("mp4_bytes", pa.int64(), "size of the mp4 member, bytes", False),
            described("mp4_sha256", pa.string(), "SHA-256 of the mp4 member", False),
            described("label_json", pa.string(), "the json member, verbatim", False),
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
    split: str
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
    sample_seed: int
    mp4_bytes: int
    mp4_sha256: str
    label_json: str

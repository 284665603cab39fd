"""The rejects table: one row per input or clip that yields no samples, and why."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from kinefake.schemas.common import described, with_version

REJECT_SCHEMA = with_version(
    pa.schema(
        [
            described("uri", pa.string(), "the input that was refused (a path, URI or manifest row)", nullable=False),
            described("video_id", pa.string(), "its video id, when known"),
            described("clip", pa.int32(), "the clip's index (null: the whole input)"),
            described("variant", pa.string(), "the sample variant, fake0... (null: the whole clip)"),
            described(
                "stage", pa.string(), "the stage that refused it: shard, landmarks, samples, ...", nullable=False
            ),
            described("reason", pa.string(), "a short phrase to group by", nullable=False),
            described("detail", pa.string(), "the specifics, for a person", nullable=False),
            described("measured", pa.float64(), "the value a numeric gate measured"),
            described("threshold", pa.float64(), "the gate's threshold"),
        ]
    ),
    "rejects",
)


@dataclass(frozen=True)
class RejectRecord:
    """One rejected input (``clip`` None), clip (``variant`` None) or sample variant (``fake0``...).

    ``stage`` is the pipeline stage that refused it (``shard``, ``landmarks``, ...),
    ``reason`` a short phrase to group by, ``detail`` the specifics; ``measured`` and
    ``threshold`` are set when a numeric quality gate failed.
    """

    uri: str
    video_id: str | None
    clip: int | None
    stage: str
    reason: str
    detail: str
    measured: float | None = None
    threshold: float | None = None
    variant: str | None = None

"""The rejects table: one row per input or clip that yields no samples, and why."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from kinefake.schemas.common import with_version

REJECT_SCHEMA = with_version(
    pa.schema(
        [
            pa.field("uri", pa.string(), nullable=False),
            pa.field("video_id", pa.string()),
            pa.field("clip", pa.int32()),
            pa.field("variant", pa.string()),
            pa.field("stage", pa.string(), nullable=False),
            pa.field("reason", pa.string(), nullable=False),
            pa.field("detail", pa.string(), nullable=False),
            pa.field("measured", pa.float64()),
            pa.field("threshold", pa.float64()),
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

"""Turning a :class:`~kinefake.errors.Rejected` into a rejects-table row, and the tag it travels on."""

from __future__ import annotations

from kinefake.errors import Rejected
from kinefake.schemas import RejectRecord

#: Tag of every stage's rejects output.
REJECTS = "rejects"


def reject_record(
    stage: str, uri: str, video_id: str | None, exc: Rejected, clip: int | None = None, variant: str | None = None
) -> RejectRecord:
    return RejectRecord(uri, video_id, clip, stage, exc.reason, exc.detail, exc.measured, exc.threshold, variant)

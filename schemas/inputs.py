"""Input manifests: the columns a user's CSV or Parquet manifest may carry."""

from __future__ import annotations

from dataclasses import dataclass

#: Required manifest column: a local path or URI (``gs://...``), relative paths resolved
#: against the manifest's own folder.
URI_COLUMN = "uri"
#: Optional manifest columns.
VIDEO_ID_COLUMN = "video_id"
SPLIT_COLUMN = "split"


@dataclass(frozen=True)
class InputRecord:
    """One video to shard: where it is, its id (stable hash of ``uri`` unless given), split."""

    uri: str
    video_id: str
    split: str | None = None

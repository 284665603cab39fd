"""Input manifests: the columns a user's CSV or Parquet manifest may carry, and video ids."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Required manifest column: a local path or URI (``gs://...``), relative paths resolved
#: against the manifest's own folder.
URI_COLUMN = "uri"
#: Optional manifest columns.
VIDEO_ID_COLUMN = "video_id"
SPLIT_COLUMN = "split"

#: What a split may be called: it names a folder of shards and of table files
#: (``webdataset/{split}/``) and a HuggingFace split, so lower case (two names differing only
#: in case would share a folder on a case-insensitive file system) and no path syntax.
SPLIT_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: The split of every video when neither ``--splits`` nor a manifest's ``split`` column names one.
DEFAULT_SPLIT = "train"
#: Splits listed first, in this order, wherever splits are listed; any other split after them, by name.
USUAL_SPLITS = ("train", "validation", "val", "dev", "test")


def split_order(split: str) -> tuple[int, str]:
    """Sort key of split names: train, validation/val/dev, test, then the rest by name."""
    return (USUAL_SPLITS.index(split) if split in USUAL_SPLITS else len(USUAL_SPLITS), split)


#: What a video id may be: it starts every sample key and tar member name, so no dots
#: (WebDataset splits keys at the first one), slashes or other path syntax.
VIDEO_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Hex digits of a content-derived video id (the start of the content digest).
CONTENT_ID_HEX = 16


@dataclass(frozen=True)
class InputRecord:
    """One video to shard.

    Attributes:
        uri: where it is, as given (relative manifest paths resolved).
        video_id: the manifest's id, else the first :data:`CONTENT_ID_HEX` hex digits of
            ``digest``; None until the shard stage has read the file.
        split: the manifest's split (:data:`SPLIT_PATTERN`), or the one ``--splits`` drew;
            None until the shard stage has assigned it.
        digest: SHA-256 hex of the file's size and its first and last MiB (the whole
            file when it is smaller): the same file named two ways has one digest.
    """

    uri: str
    video_id: str | None = None
    split: str | None = None
    digest: str | None = None

    @property
    def given_id(self) -> bool:
        """Whether the video id came from the manifest rather than from the content."""
        return self.video_id is not None and (self.digest is None or self.video_id != self.digest[:CONTENT_ID_HEX])

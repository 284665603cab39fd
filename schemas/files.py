"""The files table: every file a run wrote, with its checksum, hashed where it was written."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from kinefake.schemas.common import with_version

FILE_SCHEMA = with_version(
    pa.schema(
        [
            pa.field("path", pa.string(), nullable=False),
            pa.field("sha256", pa.string(), nullable=False),
            pa.field("bytes", pa.int64(), nullable=False),
            pa.field("rows", pa.int64()),
            pa.field("samples", pa.int64()),
        ]
    ),
    "files",
)


@dataclass(frozen=True)
class FileRecord:
    """One output file: ``path`` relative to the output folder, its SHA-256 and size, and
    ``rows`` (Parquet tables) or ``samples`` (WebDataset tars)."""

    path: str
    sha256: str
    bytes: int
    rows: int | None = None
    samples: int | None = None

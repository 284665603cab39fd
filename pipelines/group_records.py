"""A finished donor group's record, so that ``generate --resume`` does not redo it.

While a run writes, each donor group that finishes leaves, next to its part file,
``OUT/.kinefake-groups/{split}/shard-SSSSS-of-NNNNN.groupGGGGG/`` (:func:`~kinefake.schemas.layout.group_record`):
its sample, landmark and reject rows as Parquet and, written last, ``done.json`` naming its
clips. A resumed run reads a complete record back instead of decoding, tracking and
rendering the group again; the rows come back as the same values (Parquet keeps every type
of the schemas exactly), so the tables and tars are the bytes an uninterrupted run writes.
The run's last step removes every record.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath

import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from kinefake.fs import read_bytes, read_columns, write_atomic
from kinefake.pipelines.tables import parquet_bytes, records_table
from kinefake.schemas import LANDMARK_SCHEMA, REJECT_SCHEMA, SAMPLE_SCHEMA, ClipRecord, RejectRecord, SampleRecord
from kinefake.schemas.layout import GROUP_DONE


@dataclasses.dataclass
class GroupRows:
    """What one donor group gives the tables.

    Attributes:
        samples: its samples' rows.
        landmarks: ``(clip, rows)`` of each clip that passed the gates, ``rows`` the clip's
            landmark table (:data:`~kinefake.schemas.LANDMARK_SCHEMA`, one row per frame).
        rejects: a row for each clip or fake that was not made.
    """

    samples: list[SampleRecord] = dataclasses.field(default_factory=list)
    landmarks: list[tuple[ClipRecord, pa.Table]] = dataclasses.field(default_factory=list)
    rejects: list[RejectRecord] = dataclasses.field(default_factory=list)

    @property
    def frames(self) -> int:
        """Input frames of the clips whose landmarks were fitted."""
        return sum(clip.num_frames for clip, _ in self.landmarks)


def write_group(record: str, clips: list[ClipRecord], rows: GroupRows) -> None:
    """Write a finished group's record under the folder ``record``; ``done.json`` last, so a
    record without it (a run killed while writing it) is never read back."""
    landmarks = [table for _, table in rows.landmarks] or [LANDMARK_SCHEMA.empty_table()]
    write_atomic(posixpath.join(record, "samples.parquet"), parquet_bytes(records_table(rows.samples, SAMPLE_SCHEMA)))
    write_atomic(posixpath.join(record, "landmarks.parquet"), parquet_bytes(pa.concat_tables(landmarks)))
    write_atomic(posixpath.join(record, "rejects.parquet"), parquet_bytes(records_table(rows.rejects, REJECT_SCHEMA)))
    done = {"clips": sorted(c.key for c in clips), "samples": len(rows.samples)}
    write_atomic(posixpath.join(record, GROUP_DONE), json.dumps(done).encode())


def read_group(record: str, clips: list[ClipRecord]) -> GroupRows | None:
    """The rows of a finished group's record, or None when there is none to trust: no
    ``done.json``, one naming other clips (the inputs changed since), or a file that cannot
    be read as what it should be (the group is then made again)."""
    done_uri = posixpath.join(record, GROUP_DONE)
    if not FileSystems.exists(done_uri):
        return None
    by_key = {c.key: c for c in clips}
    try:
        done = json.loads(read_bytes(done_uri))
        if not isinstance(done, dict) or done.get("clips") != sorted(by_key):
            return None
        samples = read_columns(posixpath.join(record, "samples.parquet")).cast(SAMPLE_SCHEMA)
        landmarks = read_columns(posixpath.join(record, "landmarks.parquet")).cast(LANDMARK_SCHEMA)
        rejects = read_columns(posixpath.join(record, "rejects.parquet")).cast(REJECT_SCHEMA)
        rows = GroupRows(
            samples=[SampleRecord(**r) for r in samples.to_pylist()],
            rejects=[RejectRecord(**r) for r in rejects.to_pylist()],
        )
        if len(rows.samples) != done.get("samples"):
            return None
        keys = [
            f"{v}_{c:04d}"
            for v, c in zip(landmarks["video_id"].to_pylist(), landmarks["clip"].to_pylist(), strict=True)
        ]
        for key in dict.fromkeys(keys):  # each clip's rows, in the order they were written
            rows.landmarks.append((by_key[key], landmarks.filter(pa.array([k == key for k in keys]))))
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        return None
    return rows

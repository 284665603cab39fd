"""Writing record PCollections as Parquet tables with the schemas from ``schemas``.

Every table file is sorted and the number of files is a function of the corpus alone, so a
table is byte-identical whatever the runner, the number of workers or the order bundles
ran in (Beam's ``WriteToParquet`` writes rows in arrival order and lets the runner choose
the file count).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import posixpath
from collections.abc import Callable

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from kinefake.fs import write_atomic
from kinefake.schemas import FileRecord
from kinefake.schemas.layout import SHARD_TEMPLATE

#: Clips whose rows share one file of the clips, samples and landmarks tables, on average.
CLIPS_PER_TABLE_FILE = 4096


def table_file_count(clips: int) -> int:
    """Files of a clip-keyed table for a corpus of ``clips`` clips."""
    return max(1, -(-clips // CLIPS_PER_TABLE_FILE))


def file_of_video(video_id: str, num_files: int) -> int:
    """The table file holding a video's rows: a stable hash, so every row of a video lands in
    one file whatever the worker count."""
    return int.from_bytes(hashlib.sha256(video_id.encode()).digest()[:8], "big") % num_files


def record_order(record) -> str:
    """A total order over records whatever their fields hold (None included)."""
    return json.dumps(dataclasses.asdict(record), sort_keys=True, default=str)


def records_table(records: list, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist([dataclasses.asdict(r) for r in records], schema=schema)


def file_name(prefix: str, index: int, count: int) -> str:
    """``{prefix}-00003-of-00012.parquet``."""
    return prefix + SHARD_TEMPLATE.replace("SSSSS", f"{index:05d}").replace("NNNNN", f"{count:05d}") + ".parquet"


class _WriteFile(beam.DoFn):
    def __init__(self, out: str, prefix: str, schema: pa.Schema, sort_key: Callable, to_table: Callable) -> None:
        self.out, self.prefix, self.schema = out.rstrip("/"), prefix, schema
        self.sort_key, self.to_table = sort_key, to_table

    def process(self, item, num_files: int):
        index, rows = item
        rows = sorted((r for r in rows if r is not None), key=self.sort_key)
        table = self.to_table(rows, self.schema) if rows else self.schema.empty_table()
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="snappy")
        data = buf.getvalue()
        uri = posixpath.join(self.out, file_name(self.prefix, index, num_files))
        write_atomic(uri, data)
        yield FileRecord(posixpath.relpath(uri, self.out), hashlib.sha256(data).hexdigest(), len(data), table.num_rows)


class WriteTable(beam.PTransform):
    """PCollection of rows -> ``OUT/{prefix}-SSSSS-of-NNNNN.parquet``, each file sorted; the
    output is the :class:`FileRecord` of each file written.

    Args:
        out: the output folder.
        prefix: path prefix relative to ``out``, e.g. ``rejects/rejects``
            (:func:`~kinefake.schemas.layout.table_prefix`).
        schema: the table's schema from ``schemas``.
        sort_key: row -> its sort key (default :func:`record_order`).
        to_table: ``(sorted rows, schema)`` -> ``pa.Table`` (default: record dataclasses, one row each).
        video_of: row -> its video id, for a table split over several files by video
            (with ``num_files``); default one file.
        num_files: singleton PCollection of the file count (see :func:`table_file_count`).
    """

    def __init__(
        self,
        out: str,
        prefix: str,
        schema: pa.Schema,
        sort_key: Callable = record_order,
        to_table: Callable = records_table,
        video_of: Callable | None = None,
        num_files=None,
    ) -> None:
        super().__init__()
        if (video_of is None) != (num_files is None):
            raise ValueError("video_of and num_files go together")
        self.write = _WriteFile(out, prefix, schema, sort_key, to_table)
        self.video_of, self.num_files = video_of, num_files

    def expand(self, rows):
        count = self.num_files if self.num_files is not None else rows.pipeline | "OneFile" >> beam.Create([1])
        video_of = self.video_of
        keyed = rows | "KeyByFile" >> beam.Map(
            lambda r, n: (file_of_video(video_of(r), n) if video_of else 0, r), beam.pvalue.AsSingleton(count)
        )
        # One empty row per file, so every file exists even when no row falls in it.
        every_file = count | "EveryFile" >> beam.FlatMap(lambda n: [(i, None) for i in range(n)])
        return (
            (keyed, every_file)
            | "Flatten" >> beam.Flatten()
            | "GroupByFile" >> beam.GroupByKey()
            | "WriteFile" >> beam.ParDo(self.write, beam.pvalue.AsSingleton(count))
        )

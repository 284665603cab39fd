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
from kinefake.schemas.inputs import DEFAULT_SPLIT
from kinefake.schemas.layout import SHARD_TEMPLATE, table_prefix

#: Clips whose rows share one file of the clips, samples and landmarks tables, on average.
CLIPS_PER_TABLE_FILE = 4096


def table_file_count(clips: int) -> int:
    """Files of a clip-keyed table for a corpus of ``clips`` clips."""
    return max(1, -(-clips // CLIPS_PER_TABLE_FILE))


def table_file_counts(clips: dict[str, int]) -> dict[str, int]:
    """``{split: clips}`` -> ``{split: files}`` of a split table; a run with no clip at all
    still writes one empty file, in :data:`~kinefake.schemas.inputs.DEFAULT_SPLIT`."""
    return {split: table_file_count(n) for split, n in clips.items()} or {DEFAULT_SPLIT: 1}


def file_of_video(video_id: str, num_files: int) -> int:
    """The table file holding a video's rows: a stable hash, so every row of a video lands in
    one file whatever the worker count."""
    return int.from_bytes(hashlib.sha256(video_id.encode()).digest()[:8], "big") % num_files


def record_order(record) -> str:
    """A total order over records whatever their fields hold (None included)."""
    return json.dumps(dataclasses.asdict(record), sort_keys=True, default=str)


def records_table(records: list, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist([dataclasses.asdict(r) for r in records], schema=schema)


def parquet_bytes(table: pa.Table) -> bytes:
    """``table`` as a Parquet file's bytes (snappy), written from one chunk per column, so the
    bytes never depend on how the rows were assembled. A table of no rows is a file of no row
    groups (one empty row group made ``datasets``' Parquet reader fail: batch size 0)."""
    buf = io.BytesIO()
    with pq.ParquetWriter(buf, table.schema, compression="snappy") as writer:
        if table.num_rows:
            writer.write_table(table.combine_chunks())
    return buf.getvalue()


def file_name(prefix: str, index: int, count: int) -> str:
    """``{prefix}-00003-of-00012.parquet``."""
    return prefix + SHARD_TEMPLATE.replace("SSSSS", f"{index:05d}").replace("NNNNN", f"{count:05d}") + ".parquet"


class _WriteFile(beam.DoFn):
    def __init__(
        self, out: str, name: str, schema: pa.Schema, sort_key: Callable, to_table: Callable, batch: int
    ) -> None:
        self.out, self.name, self.schema, self.batch = out.rstrip("/"), name, schema, batch
        self.sort_key, self.to_table = sort_key, to_table

    def process(self, item, num_files: dict):
        (split, index), rows = item
        rows = sorted((r for r in rows if r is not None), key=self.sort_key)
        table = self.to_table(rows, self.schema) if rows else self.schema.empty_table()
        data = parquet_bytes(table)
        uri = posixpath.join(self.out, file_name(table_prefix(self.name, split, self.batch), index, num_files[split]))
        write_atomic(uri, data)
        yield FileRecord(posixpath.relpath(uri, self.out), hashlib.sha256(data).hexdigest(), len(data), table.num_rows)


class WriteTable(beam.PTransform):
    """PCollection of rows -> table ``name``'s files, ``OUT/{prefix}-SSSSS-of-NNNNN.parquet``
    (:func:`~kinefake.schemas.layout.table_prefix`: a folder per split for a split table),
    each file sorted; the output is the :class:`FileRecord` of each file written.

    Args:
        out: the output folder.
        name: the table (``samples``, ``rejects``, ...).
        schema: the table's schema from ``schemas``.
        sort_key: row -> its sort key (default :func:`record_order`).
        to_table: ``(sorted rows, schema)`` -> ``pa.Table`` (default: record dataclasses, one row each).
        key_of: row -> ``(split, video id)``, for a table written per split and over several
            files by video (with ``num_files``); default one file.
        num_files: singleton PCollection of ``{split: file count}`` (see :func:`table_file_count`);
            every file it counts is written, rows or not.
        batch: the run's batch (0, or the ``--append`` it is), which tags its file names.
    """

    def __init__(
        self,
        out: str,
        name: str,
        schema: pa.Schema,
        sort_key: Callable = record_order,
        to_table: Callable = records_table,
        key_of: Callable | None = None,
        num_files=None,
        batch: int = 0,
    ) -> None:
        super().__init__()
        if (key_of is None) != (num_files is None):
            raise ValueError("key_of and num_files go together")
        self.write = _WriteFile(out, name, schema, sort_key, to_table, batch)
        self.key_of, self.num_files = key_of, num_files

    def expand(self, rows):
        count = self.num_files if self.num_files is not None else rows.pipeline | "OneFile" >> beam.Create([{None: 1}])
        key_of = self.key_of

        def file_of(row, counts: dict):
            if key_of is None:
                return (None, 0), row
            split, video_id = key_of(row)
            return (split, file_of_video(video_id, counts[split])), row

        keyed = rows | "KeyByFile" >> beam.Map(file_of, beam.pvalue.AsSingleton(count))
        # One empty row per file, so every file exists even when no row falls in it.
        every_file = count | "EveryFile" >> beam.FlatMap(
            lambda counts: [((split, i), None) for split, n in counts.items() for i in range(n)]
        )
        return (
            (keyed, every_file)
            | "Flatten" >> beam.Flatten()
            | "GroupByFile" >> beam.GroupByKey()
            | "WriteFile" >> beam.ParDo(self.write, beam.pvalue.AsSingleton(count))
        )

"""Writing record PCollections as Parquet tables with the schemas from ``schemas``."""

from __future__ import annotations

import dataclasses

import apache_beam as beam
import pyarrow as pa

from schemas.layout import SHARD_TEMPLATE


class WriteRecords(beam.PTransform):
    """PCollection of record dataclasses -> ``{prefix}-SSSSS-of-NNNNN.parquet``.

    Args:
        prefix: path prefix, e.g. ``OUT/rejects/rejects`` (:func:`schemas.layout.table_prefix`).
        schema: the table's schema from ``schemas``; record fields must match its names.
        num_shards: fixed shard count so that re-runs overwrite the same names (0 lets
            the runner choose, for large tables).
    """

    def __init__(self, prefix: str, schema: pa.Schema, num_shards: int = 1) -> None:
        super().__init__()
        self.prefix = prefix
        self.schema = schema
        self.num_shards = num_shards

    def expand(self, records):
        return (
            records
            | "ToDicts" >> beam.Map(dataclasses.asdict)
            | "WriteToParquet"
            >> beam.io.WriteToParquet(
                self.prefix,
                self.schema,
                file_name_suffix=".parquet",
                num_shards=self.num_shards,
                shard_name_template=SHARD_TEMPLATE,
            )
        )

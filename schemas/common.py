"""Helpers shared by every schema module."""

from __future__ import annotations

import pyarrow as pa

#: Bumped whenever a field is added, removed or changes meaning.
SCHEMA_VERSION = "2"


def with_version(schema: pa.Schema, name: str) -> pa.Schema:
    """``schema`` with kinefake's table name and schema version in its metadata."""
    return schema.with_metadata({"kinefake.table": name, "kinefake.schema_version": SCHEMA_VERSION})

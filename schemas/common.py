"""Helpers shared by every schema module."""

from __future__ import annotations

import pyarrow as pa

#: Bumped whenever a field is added, removed or changes meaning.
SCHEMA_VERSION = "6"


def with_version(schema: pa.Schema, name: str) -> pa.Schema:
    """``schema`` with kinefake's table name and schema version in its metadata."""
    return schema.with_metadata({"kinefake.table": name, "kinefake.schema_version": SCHEMA_VERSION})


def described(name: str, type_: pa.DataType, description: str, nullable: bool = True) -> pa.Field:
    """A field whose meaning and unit travel in its metadata (``description``), for the dataset card."""
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


def description(field: pa.Field) -> str:
    """What :func:`described` stored, or an empty string."""
    return (field.metadata or {}).get(b"description", b"").decode()

"""The label as a record type, built from :data:`~kinefake.schemas.members.LABEL_TYPE`.

Every reader of labels (the samples table, validate, evaluate, audit, the previews) goes
through :class:`Label` instead of string keys: ``Label.from_json(d).perturbation.family``.
The classes are made from the Arrow struct, so a field added to the schema is a field here,
and :meth:`Label.from_json` refuses a dict with a key missing or one the schema lacks.
A struct field holds a nested record (or None); a list of structs a list of records.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pyarrow as pa

from kinefake.schemas.members import LABEL_TYPE


def _class_name(field: str) -> str:
    return "".join(part.capitalize() for part in field.split("_"))


def record_type(name: str, struct: pa.StructType) -> type:
    """A frozen dataclass with one attribute per field of ``struct``, nested structs as their
    own record types; ``from_json(dict)`` builds one and ``to_json()`` gives the dict back."""
    nested: dict[str, type] = {}
    listed: dict[str, type] = {}
    for field in struct:
        if pa.types.is_struct(field.type):
            nested[field.name] = record_type(_class_name(field.name), field.type)
        elif pa.types.is_list(field.type) and pa.types.is_struct(field.type.value_type):
            listed[field.name] = record_type(_class_name(field.name).removesuffix("es"), field.type.value_type)
    names = tuple(field.name for field in struct)

    def from_json(cls, data: dict[str, Any]):
        if not isinstance(data, dict):
            raise ValueError(f"{name}: expected an object, got {type(data).__name__}")
        missing, extra = set(names) - set(data), set(data) - set(names)
        if missing or extra:
            raise ValueError(f"{name}: missing fields {sorted(missing)}, unknown fields {sorted(extra)}")
        values = {}
        for key in names:
            value = data[key]
            if value is not None and key in nested:
                value = nested[key].from_json(value)
            elif value is not None and key in listed:
                value = [listed[key].from_json(item) for item in value]
            values[key] = value
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    cls = dataclasses.make_dataclass(
        name,
        [(field, Any) for field in names],
        frozen=True,
        namespace={"from_json": classmethod(from_json), "to_json": to_json, "FIELDS": names},
    )
    cls.__module__ = __name__
    cls.__doc__ = f"A record of the Arrow struct with fields {', '.join(names)}."
    return cls


#: One sample's label (the ``json`` member, a samples-table row's source).
Label = record_type("Label", LABEL_TYPE)

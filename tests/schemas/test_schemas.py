"""``schemas`` is the one place for field names: records, tables and the output layout agree."""

from __future__ import annotations

import dataclasses

import pytest

from kinefake.schemas import (
    CLIP_SCHEMA,
    FILE_SCHEMA,
    REJECT_SCHEMA,
    SAMPLE_SCHEMA,
    SCHEMA_VERSION,
    ClipRecord,
    FileRecord,
    RejectRecord,
    SampleRecord,
)
from kinefake.schemas.layout import is_owned, shard_name, table_glob, table_prefix
from kinefake.schemas.members import MASK_ARRAYS, MEMBERS


@pytest.mark.parametrize(
    ("record", "schema"),
    [
        (ClipRecord, CLIP_SCHEMA),
        (SampleRecord, SAMPLE_SCHEMA),
        (RejectRecord, REJECT_SCHEMA),
        (FileRecord, FILE_SCHEMA),
    ],
)
def test_each_record_has_exactly_its_tables_fields(record, schema):
    assert sorted(f.name for f in dataclasses.fields(record)) == sorted(schema.names)
    assert schema.metadata[b"kinefake.schema_version"].decode() == SCHEMA_VERSION


def test_layout_names_what_a_run_writes_and_nothing_else():
    assert (
        table_prefix("samples", "val") == "parquet/samples/val/samples" and table_glob("rejects") == "rejects/*.parquet"
    )
    assert table_glob("clips") == "parquet/clips/*/*.parquet" and shard_name("test", 3, 12).startswith(
        "webdataset/test/"
    )
    with pytest.raises(ValueError, match="expected a split to be given"):
        table_prefix("samples")
    with pytest.raises(ValueError, match="expected a split not to be given"):
        table_prefix("files", "train")
    owned = [
        "manifest.json",
        "manifest.json.tmp-0a1b2c3d4e5f",
        shard_name("train", 3, 12),
        shard_name("val_2", 0, 1) + ".part00003",
        "parquet/samples/test/samples-00000-of-00001.parquet",
        "parquet/files/files-00000-of-00001.parquet",
        "parquet/landmarks/beam-temp-landmarks-0f3a/part.parquet",
        "rejects/rejects-00000-of-00001.parquet",
        "validate.json",
        "validate/fidelity.png",
        "audit/index.html",
        "audit/assets/abc-d_0001_fake0.mp4",
    ]
    foreign = [
        "parquet/my_features.parquet",
        "webdataset/extra.tar",
        "webdataset/shard-00000-of-00001.tar",  # shards live in a split's folder
        "webdataset/Train/shard-00000-of-00001.tar",  # split names are lower case
        "webdataset/a/b/shard-00000-of-00001.tar",
        "parquet/samples/samples-00000-of-00001.parquet",
        "parquet/samples/train/samples-0-of-1.parquet",
        "parquet/files/train/files-00000-of-00001.parquet",
        "rejects/notes.txt",
        "notes.txt",
        "audit/assets/../../x.mp4",
    ]
    assert [is_owned(p) for p in owned] == [True] * len(owned)
    assert [is_owned(p) for p in foreign] == [False] * len(foreign)


def test_sample_contract_lists_every_member_and_mask():
    assert set(MEMBERS) == {"mp4", "json", "landmarks.npy", "mask.npz"}
    assert set(MASK_ARRAYS) == {"pixel", "region", "patch"}

"""Reading a finished corpus back: its manifest, and its samples as WebDataset members.

Works on local folders and ``gs://`` alike (Beam's filesystems open the files); the tars
are expanded with webdataset's own tar iterators, so a sample is grouped exactly as a
user's ``webdataset.WebDataset`` loader groups it. :mod:`synth.io` decodes the members.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator

import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipelines.fs import list_files, read_bytes, read_columns
from schemas.layout import MANIFEST, table_glob


class CorpusError(ValueError):
    """A folder that is not a finished kinefake corpus."""


def read_manifest(out: str) -> dict:
    """``OUT/manifest.json`` as a dict.

    Raises:
        CorpusError: no manifest (not a corpus, or a run that did not finish) or not JSON.
    """
    path = posixpath.join(out.rstrip("/"), MANIFEST)
    if not FileSystems.exists(path):
        raise CorpusError(f"{out} has no {MANIFEST}: not a kinefake corpus, or its run did not finish")
    try:
        return json.loads(read_bytes(path))
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{path} is not valid JSON: {exc}") from None


def table_files(out: str, name: str) -> list[str]:
    """Every Parquet file of table ``name`` (``clips``, ``samples``, ...) of corpus ``out``, sorted."""
    return list_files(posixpath.join(out.rstrip("/"), table_glob(name)))


def read_table(out: str, name: str, columns: list[str]) -> pa.Table:
    """``columns`` of every file of table ``name`` of corpus ``out``, as one table (only those
    column chunks are read)."""
    parts = [read_columns(path, columns) for path in table_files(out, name)]
    return pa.concat_tables(parts) if parts else pa.table({c: pa.array([]) for c in columns})


def shard_paths(out: str, manifest: dict) -> list[str]:
    """The corpus's WebDataset tars, as listed in its manifest, sorted."""
    return sorted(posixpath.join(out.rstrip("/"), s["path"]) for s in manifest["shards"] if s["path"].endswith(".tar"))


def iter_samples(out: str, manifest: dict | None = None) -> Iterator[dict]:
    """Every sample of the corpus: ``{"__key__": key, "mp4": bytes, "json": bytes, ...}``, shard by shard."""
    # webdataset imports torch: only the commands that read samples back pay for it.
    from webdataset.tariterators import group_by_keys, tar_file_expander

    manifest = read_manifest(out) if manifest is None else manifest
    for path in shard_paths(out, manifest):
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            yield from group_by_keys(tar_file_expander([{"url": path, "stream": f}]))

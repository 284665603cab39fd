"""Local-or-remote file access through Beam's filesystems (local paths, ``gs://``)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import tempfile
import uuid
from collections.abc import Iterator
from typing import BinaryIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from synth.errors import Rejected


def is_remote(uri: str) -> bool:
    return "://" in uri


@contextlib.contextmanager
def open_source(uri: str) -> Iterator[str | BinaryIO]:
    """A local path as itself (FFmpeg reads it directly), a remote URI as a binary file object.

    Raises:
        Rejected: "file not found" when a remote object does not exist.
    """
    if not is_remote(uri):
        yield uri
        return
    if not FileSystems.exists(uri):
        raise Rejected("file not found", f"no object at {uri!r}")
    with FileSystems.open(uri, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        yield f


@contextlib.contextmanager
def local_copy(uri: str) -> Iterator[str]:
    """A local path holding ``uri``'s bytes: the path itself when local, else a temporary copy."""
    if not is_remote(uri):
        yield uri
        return
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, posixpath.basename(uri))
        with open(path, "wb") as f:
            f.write(read_bytes(uri))
        yield path


def read_bytes(uri: str) -> bytes:
    with FileSystems.open(uri, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return f.read()


def read_columns(uri: str, columns: list[str] | None = None):
    """A Parquet file's ``columns`` as a pyarrow Table, reading only those column chunks."""
    import pyarrow.parquet as pq

    with FileSystems.open(uri, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return pq.read_table(f, columns=columns)


def parquet_rows(uri: str) -> int:
    """Row count from a Parquet file's footer."""
    import pyarrow.parquet as pq

    with FileSystems.open(uri, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return pq.ParquetFile(f).metadata.num_rows


@contextlib.contextmanager
def atomic_writer(uri: str) -> Iterator[BinaryIO]:
    """A writable file that becomes ``uri`` only when the block ends without an error.

    The bytes go to a temporary sibling (``{uri}.tmp-{random}``), renamed onto ``uri`` at
    the end: readers never see a half-written file, a failed write removes its temporary,
    and one interrupted by a crash leaves only a ``.tmp-*`` name that the next run's
    cleanup removes.
    """
    tmp = f"{uri}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        with FileSystems.create(tmp, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            yield f
    except BaseException:
        if FileSystems.exists(tmp):
            FileSystems.delete([tmp])
        raise
    if FileSystems.exists(uri):
        FileSystems.delete([uri])
    FileSystems.rename([tmp], [uri])


def write_atomic(uri: str, data: bytes) -> None:
    """Write ``data`` to ``uri`` through :func:`atomic_writer`."""
    with atomic_writer(uri) as f:
        f.write(data)


def sha256_of(uri: str, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with FileSystems.open(uri, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def list_files(pattern: str) -> list[str]:
    """Paths matching a glob, sorted; empty when nothing matches."""
    result = FileSystems.match([pattern])[0]
    return sorted(m.path for m in result.metadata_list)

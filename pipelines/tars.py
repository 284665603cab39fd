"""Writing and re-reading WebDataset tars on the workers, without importing webdataset.

``webdataset`` imports torch (about 1.7 s and, on a worker image, a multi-GB wheel) though
writing a tar needs none of it; these write the same bytes as
``webdataset.TarWriter(f, encoder=False, mtime=0.0)`` (tested): one sample's members in
name order, ``{key}.{member}``, mode 0444, owner ``bigdata``, mtime 0, a streamed tar.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable, Iterator

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems


class SampleTarWriter:
    """Samples ``{"__key__": key, member: bytes, ...}`` -> a tar stream on ``f`` (left open).

    As a context manager it closes the tar on the way out, error or not: before the file it
    writes to is closed (an open tar stream collected later would flush into a closed file).
    """

    def __init__(self, f) -> None:
        self.tar = tarfile.open(fileobj=f, mode="w|")  # noqa: SIM115 (closed by close())

    def __enter__(self) -> SampleTarWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, sample: dict[str, bytes | str]) -> None:
        key = sample["__key__"]
        for name in sorted(n for n in sample if n != "__key__"):
            data = sample[name]
            info = tarfile.TarInfo(f"{key}.{name}")
            info.size, info.mtime, info.mode = len(data), 0.0, 0o444
            info.uname = info.gname = "bigdata"
            self.tar.addfile(info, io.BytesIO(data))

    def close(self) -> None:
        self.tar.close()


class HashingWriter:
    """A write-only file that passes bytes on to ``f`` and keeps their SHA-256 and count, so
    a shard is checksummed as it is written instead of read back."""

    def __init__(self, f) -> None:
        self.f = f
        self.digest = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.bytes += len(data)
        return self.f.write(data)


def tar_members(uri: str, wanted: Callable[[str], bool] = lambda key: True) -> Iterator[tuple[str, str, bytes | None]]:
    """``(key, member name, bytes)`` of every file of a WebDataset tar on any Beam filesystem, in
    order, read through its headers: the payload of a key not ``wanted`` is seeked over, not
    read (its bytes are None). The one walk over tar headers that kinefake's readers share.

    Raises:
        tarfile.TarError: not a tar, or truncated.
    """
    with FileSystems.open(uri, compression_type=CompressionTypes.UNCOMPRESSED) as f, tarfile.open(fileobj=f) as tar:
        for info in tar:
            if info.isfile():
                key, _, member = info.name.partition(".")
                yield key, member, tar.extractfile(info).read() if wanted(key) else None


def read_samples(uri: str) -> Iterator[dict[str, bytes | str]]:
    """The samples of a tar written by :class:`SampleTarWriter`, in order, one at a time."""
    sample: dict = {}
    for key, member, data in tar_members(uri):
        if sample and sample["__key__"] != key:
            yield sample
            sample = {}
        sample["__key__"] = key
        sample[member] = data
    if sample:
        yield sample

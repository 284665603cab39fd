"""Reading a finished corpus back: its manifest, and its samples as WebDataset members.

Works on local folders and ``gs://`` alike (Beam's filesystems open the files); the tars
are expanded with webdataset's own tar iterators, so a sample is grouped exactly as a
user's ``webdataset.WebDataset`` loader groups it.
"""

from __future__ import annotations

import io
import json
import posixpath
from collections.abc import Iterator

import numpy as np
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from webdataset.tariterators import group_by_keys, tar_file_expander

from pipelines.fs import read_bytes
from pipelines.output import MANIFEST
from synth.video import probe, read_frames


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


def shard_paths(out: str, manifest: dict) -> list[str]:
    """The corpus's WebDataset tars, as listed in its manifest, sorted."""
    return sorted(posixpath.join(out.rstrip("/"), s["path"]) for s in manifest["shards"] if s["path"].endswith(".tar"))


def iter_samples(out: str, manifest: dict | None = None) -> Iterator[dict]:
    """Every sample of the corpus: ``{"__key__": key, "mp4": bytes, "json": bytes, ...}``, shard by shard."""
    manifest = read_manifest(out) if manifest is None else manifest
    for path in shard_paths(out, manifest):
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            yield from group_by_keys(tar_file_expander([{"url": path, "stream": f}]))


def decode_mp4(data: bytes) -> tuple[np.ndarray, float]:
    """An ``mp4`` member's frames ``(T, S, S, 3)`` uint8 RGB and its frame rate."""
    info = probe(io.BytesIO(data))
    return read_frames(io.BytesIO(data), 0, info.frame_count), float(info.fps)


def npz(data: bytes) -> dict[str, np.ndarray]:
    """A ``mask.npz`` member's arrays (no pickles)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return {k: arrays[k] for k in arrays.files}


def npy(data: bytes) -> np.ndarray:
    """A ``landmarks.npy`` member's array (no pickles)."""
    return np.load(io.BytesIO(data), allow_pickle=False)

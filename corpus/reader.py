"""Reading samples back: a WebDataset sample's members decoded into arrays and its label.

Works on what any WebDataset reader yields (``webdataset.WebDataset``, a torch
``DataLoader`` over it, :func:`kinefake.corpus.contents.iter_samples`): a dict with ``__key__``
and the raw bytes of each member (:mod:`kinefake.schemas.members`). Nothing is unpickled.
"""

from __future__ import annotations

import io
import json
import random

import numpy as np

from kinefake.schemas.members import LABEL, LANDMARKS, MASKS, MP4
from kinefake.synth.video import probe, read_frames


def decode_mp4(data: bytes) -> tuple[np.ndarray, float]:
    """An ``mp4`` member's frames ``(T, S, S, 3)`` uint8 RGB and its frame rate."""
    info = probe(io.BytesIO(data))
    return read_frames(io.BytesIO(data), 0, info.frame_count), float(info.fps)


def decode_npz(data: bytes) -> dict[str, np.ndarray]:
    """A ``mask.npz`` member's arrays (no pickles)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return {k: arrays[k] for k in arrays.files}


def decode_npy(data: bytes) -> np.ndarray:
    """A ``landmarks.npy`` member's array (no pickles)."""
    return np.load(io.BytesIO(data), allow_pickle=False)


def decode_sample(sample: dict) -> dict:
    """Every member of one sample, decoded.

    Args:
        sample: ``{"__key__": key, "mp4": bytes, "json": bytes, "landmarks.npy": bytes,
            "mask.npz": bytes}`` as WebDataset readers yield it.

    Returns:
        ``key``; ``video`` ``(T, S, S, 3)`` uint8 RGB and ``fps``; ``label`` (the ``json``
        member as a dict); ``landmarks`` ``(T, 68, 2)`` float32 crop pixels; ``masks``:
        ``pixel`` ``(T, S, S)`` uint8, ``region`` ``(T, R)`` float16, ``patch`` ``(T, 14, 14)`` float16.
    """
    video, fps = decode_mp4(sample[MP4])
    return {
        "key": sample["__key__"],
        "video": video,
        "fps": fps,
        "label": json.loads(sample[LABEL]),
        "landmarks": decode_npy(sample[LANDMARKS]),
        "masks": decode_npz(sample[MASKS]),
    }


def collate_samples(samples: list[dict]) -> dict:
    """:func:`decode_sample` outputs -> one batch of tensors (a ``DataLoader``'s ``collate_fn``).

    Returns:
        ``key``: list of B str; ``video`` ``(B, T, S, S, 3)`` uint8; ``fps`` ``(B,)`` float64;
        ``landmarks`` ``(B, T, 68, 2)`` float32; ``masks``: ``pixel`` ``(B, T, S, S)`` uint8,
        ``region`` ``(B, T, R)`` and ``patch`` ``(B, T, 14, 14)`` float16; ``target`` ``(B,)``
        int64, 0 real, 1 fake; ``strength_iod`` ``(B,)`` float32 and ``active_frames`` ``(B, 2)``
        int64, NaN and -1 where the label has none (real samples, pixel-only operators);
        ``operator`` and ``region``: lists of str or None; ``label``: the B label dicts, as
        stored (nulls kept: torch's default collate fails on them).

    Raises:
        ValueError: no sample, or samples of different shapes (clips of different lengths or
            sizes), naming the first two keys that differ.
    """
    import torch

    if not samples:
        raise ValueError("expected at least one sample, got none")
    first = samples[0]
    for sample in samples[1:]:
        if sample["video"].shape != first["video"].shape:
            raise ValueError(
                f"expected samples of one shape, got {first['key']} {tuple(first['video'].shape)} "
                f"and {sample['key']} {tuple(sample['video'].shape)}"
            )

    def stack(arrays) -> torch.Tensor:
        return torch.stack([torch.as_tensor(np.asarray(a)) for a in arrays])

    perturbations = [s["label"].get("perturbation") or {} for s in samples]
    active = [p.get("active_frames") or [-1, -1] for p in perturbations]
    strength = [p.get("strength_iod") for p in perturbations]
    return {
        "key": [s["key"] for s in samples],
        "video": stack(s["video"] for s in samples),
        "fps": torch.tensor([float(s["fps"]) for s in samples], dtype=torch.float64),
        "landmarks": stack(s["landmarks"] for s in samples),
        "masks": {name: stack(s["masks"][name] for s in samples) for name in first["masks"]},
        "target": torch.tensor([int(s["label"]["label"]) for s in samples], dtype=torch.int64),
        "strength_iod": torch.tensor([np.nan if v is None else v for v in strength], dtype=torch.float32),
        "active_frames": torch.tensor([[-1 if f is None else f for f in a] for a in active], dtype=torch.int64),
        "operator": [p.get("operator") for p in perturbations],
        "region": [p.get("region") for p in perturbations],
        "label": [s["label"] for s in samples],
    }


def training_batches(tars: str | list[str], batch_size: int = 8, shuffle: int = 1000, seed: int = 0):
    """One call from tars to shuffled, decoded, batched samples: a ``webdataset`` pipeline
    (an ``IterableDataset``) for ``DataLoader(training_batches(...), batch_size=None,
    num_workers=N)``, each worker reading its own shards.

    Args:
        tars: a list of tar paths or URLs, or a local glob (``OUT/webdataset/train/*.tar``).
        batch_size: samples per batch (:func:`collate_samples`); the last may be smaller.
        shuffle: samples held in each worker's shuffle buffer (0: the corpus's order);
            the shard order is shuffled too.
        seed: seeds both shuffles: the same seed, the same order for the same workers.

    Raises:
        ValueError: a glob that matches nothing, or ``batch_size`` below 1.
    """
    import glob

    import webdataset as wds

    if batch_size < 1:
        raise ValueError(f"expected batch_size >= 1, got {batch_size}")
    urls = sorted(glob.glob(tars)) if isinstance(tars, str) else list(tars)
    if not urls:
        raise ValueError(f"expected tars, got none matching {tars!r}")
    dataset = wds.WebDataset(
        urls,
        shardshuffle=len(urls) if shuffle else False,
        seed=seed,
        workersplitter=wds.split_by_worker,
        empty_check=False,
    )
    if shuffle:
        dataset = dataset.shuffle(shuffle, rng=random.Random(seed))
    return dataset.map(decode_sample).batched(batch_size, collation_fn=collate_samples, partial=True)


def webdataset_files(out: str) -> dict[str, list[str]]:
    """``{split: its tars}`` of the corpus in local folder ``out``, for
    ``datasets.load_dataset("webdataset", data_files=webdataset_files(OUT), ...)``."""
    import glob
    import os

    from kinefake.schemas.layout import SHARDS

    tars = sorted(glob.glob(os.path.join(out, SHARDS, "*", "*.tar")))
    files: dict[str, list[str]] = {}
    for tar in tars:
        files.setdefault(os.path.basename(os.path.dirname(tar)), []).append(tar)
    return files


def huggingface_features(size: int):
    """The HuggingFace ``datasets.Features`` of a kinefake sample, for
    ``load_dataset("webdataset", data_files=tars, features=huggingface_features(size))``.

    Without them ``datasets`` infers the types from the first five samples of the first
    tar, and a label field that is null in all five (``params.donor`` unless one of them is
    a transplant, ``partner`` of a blend) cannot take a value later: the load fails.

    Args:
        size: the corpus's crop side (``--size``), pixels.
    """
    import datasets
    import pyarrow as pa

    from kinefake.schemas.members import LABEL_TYPE, PATCH_GRID
    from kinefake.synth.bases.model import REGION_NAMES

    features = datasets.Features.from_arrow_schema(pa.schema([("json", LABEL_TYPE)]))
    features[MP4] = datasets.Value("binary")
    features[LANDMARKS] = datasets.Array3D((None, 68, 2), "float32")
    features[MASKS] = {
        "pixel": datasets.Array3D((None, size, size), "uint8"),
        "region": datasets.Array2D((None, len(REGION_NAMES)), "float16"),
        "patch": datasets.Array3D((None, PATCH_GRID, PATCH_GRID), "float16"),
    }
    features["__key__"] = datasets.Value("string")
    features["__url__"] = datasets.Value("string")
    return features

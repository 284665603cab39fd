"""Reading samples back: a WebDataset sample's members decoded into arrays and its label.

Works on what any WebDataset reader yields (``webdataset.WebDataset``, a torch
``DataLoader`` over it, :func:`kinefake.corpus.contents.iter_samples`): a dict with ``__key__``
and the raw bytes of each member (:mod:`kinefake.schemas.members`). Nothing is unpickled.
"""

from __future__ import annotations

import io
import json

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

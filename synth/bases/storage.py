"""Saving and loading bases models: safetensors for arrays, JSON strings for everything else.

Nothing is unpickled. The header's metadata holds the format tag, the kind, the landmark
layout and normalisation, the training config, a hash of the training data, the
held-out metrics, and a SHA-256 of the tensors themselves (safetensors does not checksum
its payload), so a truncated, corrupted or foreign file is refused with a clear message.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import ExitStack
from importlib import resources

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

from kinefake.errors import ModelFileError
from kinefake.synth.bases.model import LinearBases
from kinefake.synth.landmarks.regions import IBUG68

FORMAT = "kinefake-bases"
FORMAT_VERSION = "1"
NORMALISATION = "similarity on STABLE_IBUG68 to the canonical face, IOD units"
TENSORS = ("mean", "components", "coeff_std")
DEFAULT_MODEL = "bases_default.safetensors"


def _digest(tensors: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in TENSORS:
        h.update(name.encode())
        h.update(np.ascontiguousarray(tensors[name], np.float64).tobytes())
    return h.hexdigest()


def bases_bytes(bases: LinearBases, info: dict) -> bytes:
    """``bases`` and ``info`` (config, data hash, metrics: JSON-serialisable) as a model file's bytes."""
    tensors = {name: np.ascontiguousarray(getattr(bases, name), np.float64) for name in TENSORS}
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": bases.kind,
        "k": str(bases.k),
        "layout": IBUG68,
        "normalisation": NORMALISATION,
        "tensors_sha256": _digest(tensors),
        "info": json.dumps(info, sort_keys=True),
    }
    return save(tensors, metadata=metadata)


def save_bases(bases: LinearBases, path: str | os.PathLike, info: dict) -> None:
    """Write :func:`bases_bytes` to a local ``path`` (a temporary name renamed, so a reader
    never sees half a file; :mod:`kinefake.pipelines.fit_bases` writes remote paths)."""
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "wb") as f:
        f.write(bases_bytes(bases, info))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def load_bases(path: str | os.PathLike | None = None) -> tuple[LinearBases, dict]:
    """Read a model saved by :func:`save_bases`; None reads the default model in the package.

    Returns:
        The bases and the ``info`` dict (config, data hash, metrics).

    Raises:
        ModelFileError: not a safetensors file, not a kinefake bases model, another
            format version or layout, tensors of the wrong shape, tensors whose
            checksum does not match (corruption), or non-finite values.
    """
    with ExitStack() as stack:
        if path is None:
            path = stack.enter_context(
                resources.as_file(resources.files("kinefake.synth.models").joinpath(DEFAULT_MODEL))
            )
        try:
            with safe_open(os.fspath(path), framework="np") as f:
                meta = f.metadata() or {}
                names = set(f.keys())
                tensors = {name: f.get_tensor(name) for name in TENSORS if name in names}
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelFileError(f"{path} is not a readable safetensors file: {exc}") from None
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a kinefake bases model (format {meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path} has format version {meta.get('format_version')}, expected {FORMAT_VERSION}")
    if meta.get("layout") != IBUG68:
        raise ModelFileError(f"{path} is for landmark layout {meta.get('layout')!r}, expected {IBUG68!r}")
    missing = [name for name in TENSORS if name not in tensors]
    if missing:
        raise ModelFileError(f"{path} lacks tensors {missing}")
    if _digest(tensors) != meta.get("tensors_sha256"):
        raise ModelFileError(f"{path} is corrupted: its tensors do not match the checksum in its header")
    bad = sorted(name for name, array in tensors.items() if not np.isfinite(array).all())
    if bad:
        raise ModelFileError(f"{path} holds non-finite values (NaN or inf) in {', '.join(bad)}")
    try:
        bases = LinearBases(meta["kind"], tensors["mean"], tensors["components"], tensors["coeff_std"])
    except ValueError as exc:
        raise ModelFileError(f"{path} holds tensors of the wrong shape: {exc}") from None
    return bases, json.loads(meta["info"])

"""Fitting bases from landmark tables: gather frames, split by video, train, measure."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pyarrow as pa

from kinefake.synth.bases.model import REGION_NAMES, LinearBases, TrainConfig, fit_pca
from kinefake.synth.bases.normalize import normalize
from kinefake.synth.bases.quality import coupling, locality, nme

KINDS = ("autoencoder", "pca")


def shapes_by_video(table: pa.Table) -> dict[str, np.ndarray]:
    """Normalised ``(T, 68, 2)`` shapes per video from landmark-table rows (columns
    ``video_id``, ``clip``, ``frame``, ``landmarks68``), in (clip, frame) order."""
    table = table.select(["video_id", "clip", "frame", "landmarks68"]).sort_by(
        [("video_id", "ascending"), ("clip", "ascending"), ("frame", "ascending")]
    )
    points = table.column("landmarks68").combine_chunks().flatten().to_numpy().reshape(-1, 68, 2)
    ids = np.array(table.column("video_id").to_pylist())
    shapes, _ = normalize(points.astype(np.float64))
    return {vid: shapes[ids == vid] for vid in sorted(set(ids.tolist()))}


def split_videos(video_ids: list[str], held_out_fraction: float) -> tuple[list[str], list[str]]:
    """Deterministic split by video: the ids with the smallest SHA-1 are held out."""
    ranked = sorted(video_ids, key=lambda v: hashlib.sha1(v.encode()).hexdigest())
    n_held = max(1, round(held_out_fraction * len(ranked))) if held_out_fraction > 0 else 0
    if n_held >= len(ranked):
        raise ValueError(f"expected more than {n_held} videos to hold some out, got {len(ranked)}")
    return sorted(ranked[n_held:]), sorted(ranked[:n_held])


def data_hash(shapes: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(shapes, np.float64).tobytes()).hexdigest()


def fit(kind: str, train: np.ndarray, config: TrainConfig) -> LinearBases:
    if kind == "pca":
        return fit_pca(train, config.k)
    if kind == "autoencoder":
        from kinefake.synth.bases.autoencoder import fit_autoencoder  # torch only when training one

        return fit_autoencoder(train, config)
    raise ValueError(f"expected kind in {KINDS}, got {kind!r}")


def evaluate(bases: LinearBases, held_out: np.ndarray) -> dict:
    """Held-out NME (% IOD), locality per basis and the region-by-basis coupling matrix."""
    return {
        "held_out_nme_pct_iod": nme(bases, held_out) if len(held_out) else None,
        "locality": locality(bases).round(4).tolist(),
        "mean_locality": float(locality(bases).mean()),
        "coupling": {name: row.round(4).tolist() for name, row in zip(REGION_NAMES, coupling(bases), strict=True)},
    }


def fit_from_table(
    table: pa.Table, kind: str, config: TrainConfig, held_out_fraction: float = 0.2
) -> tuple[LinearBases, dict]:
    """Train on the training videos of a landmark table; return the bases and the model info."""
    per_video = shapes_by_video(table)
    train_ids, held_ids = split_videos(list(per_video), held_out_fraction)
    train = np.concatenate([per_video[v] for v in train_ids])
    held = np.concatenate([per_video[v] for v in held_ids]) if held_ids else np.empty((0, 68, 2))
    bases = fit(kind, train, config)
    info = {
        "config": dataclasses.asdict(config),
        "kind": kind,
        "held_out_fraction": held_out_fraction,
        "train_videos": train_ids,
        "held_out_videos": held_ids,
        "train_frames": len(train),
        "held_out_frames": len(held),
        "data_sha256": data_hash(train),
        "metrics": evaluate(bases, held),
    }
    return bases, info

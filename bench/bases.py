"""Motion bases: autoencoder vs PCA at k = 4, 8, 16, 32, and the default model's coupling matrix."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from kinefake.synth.bases.fit import evaluate, fit, shapes_by_video, split_videos
from kinefake.synth.bases.model import REGION_NAMES, TrainConfig
from kinefake.synth.bases.quality import coupling
from kinefake.synth.bases.storage import load_bases

WORK = Path("build/bases-landmarks")


def _landmark_table(clips: list[Path]):
    from kinefake.pipelines import generate
    from kinefake.pipelines.fit_bases import read_landmarks

    if not list(WORK.glob("parquet/landmarks/*/*.parquet")):
        folder = os.path.relpath(clips[0].parent)
        generate.run(["--input", folder, "--output", str(WORK), "--overwrite"])
    return read_landmarks([str(WORK / "parquet" / "landmarks" / "*" / "*.parquet")])


def run(clips: list[Path]) -> None:
    per_video = shapes_by_video(_landmark_table(clips))
    train_ids, held_ids = split_videos(list(per_video), 0.2)
    train = np.concatenate([per_video[v] for v in train_ids])
    held = np.concatenate([per_video[v] for v in held_ids])
    print(
        f"\nmotion bases: {len(train)} training frames ({len(train_ids)} videos), "
        f"{len(held)} held-out frames ({len(held_ids)} videos); NME in % IOD on held-out videos"
    )
    print(f"  {'k':>3} {'PCA NME':>8} {'AE NME':>7} {'AE/PCA':>7} {'PCA loc':>8} {'AE loc':>7} {'AE fit s':>9}")
    for k in (4, 8, 16, 32):
        pca = evaluate(fit("pca", train, TrainConfig(k=k)), held)
        start = time.perf_counter()
        ae_bases = fit("autoencoder", train, TrainConfig(k=k))
        seconds = time.perf_counter() - start
        ae = evaluate(ae_bases, held)
        ratio = ae["held_out_nme_pct_iod"] / pca["held_out_nme_pct_iod"]
        print(
            f"  {k:>3} {pca['held_out_nme_pct_iod']:>8.2f} {ae['held_out_nme_pct_iod']:>7.2f} {ratio:>7.2f} "
            f"{pca['mean_locality']:>8.2f} {ae['mean_locality']:>7.2f} {seconds:>9.1f}"
        )
    bases, _ = load_bases()
    matrix = coupling(bases)
    print(f"\ndefault model ({bases.kind}, k={bases.k}): share of each basis's displacement energy per region, %")
    print("  " + f"{'region':<12}" + "".join(f"{j:>4}" for j in range(bases.k)))
    for name, row in zip(REGION_NAMES, matrix, strict=True):
        print("  " + f"{name:<12}" + "".join(f"{round(100 * v):>4}" for v in row))

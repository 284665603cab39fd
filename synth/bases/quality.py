"""How good a set of bases is: held-out reconstruction, locality, region coupling."""

from __future__ import annotations

import numpy as np

from kinefake.synth.bases.model import LinearBases, region_matrix


def nme(bases: LinearBases, shapes: np.ndarray) -> float:
    """Mean landmark error of reconstructing normalised ``(T, 68, 2)`` shapes, % of IOD."""
    recon = bases.decode(bases.encode(shapes))
    return float(100 * np.linalg.norm(recon - shapes, axis=-1).mean())


def coupling(bases: LinearBases) -> np.ndarray:
    """``(R, k)`` share of each basis's displacement energy in each region (columns sum to 1)."""
    energy = (bases.components**2).sum(-1)  # (k, 68)
    per_region = region_matrix() @ energy.T
    return per_region / per_region.sum(0, keepdims=True)


def locality(bases: LinearBases) -> np.ndarray:
    """``(k,)`` share of each basis's energy in its two strongest regions."""
    return np.sort(coupling(bases), axis=0)[-2:].sum(0)

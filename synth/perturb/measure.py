"""What a perturbation did to the motion: coupling drop, speed-distribution shift, displacement.

- **Coupling** between a region and its partner is Lin's concordance correlation between
  their frame-to-frame motions along the basis that couples them (each region's
  displacement projected on its own part of that basis). Unlike Pearson's r it falls
  when one region's motion is scaled or offset, not only when it is reshuffled, so it
  sees amplitude edits as well as delays and freezes.
- **Speed shift** is the two-sample Kolmogorov-Smirnov statistic between a region's
  frame-to-frame speeds in the pristine and the perturbed clip: how far its marginal
  speed distribution moved (a detector could spot a large shift without any coupling).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import ks_2samp

from kinefake.synth.perturb.motion import REGION_MASKS, ClipMotion, region_speed
from kinefake.synth.perturb.operators import OPERATORS
from kinefake.synth.perturb.policy import PerturbPolicy, sample_perturbation


def concordance(x: np.ndarray, y: np.ndarray) -> float:
    """Lin's concordance correlation coefficient of two ``(T,)`` series (0 when both are constant)."""
    mx, my = x.mean(), y.mean()
    denom = x.var() + y.var() + (mx - my) ** 2
    return float(2 * np.mean((x - mx) * (y - my)) / denom) if denom > 0 else 0.0


def along_basis(shapes: np.ndarray, motion: ClipMotion, region: str, basis: int) -> np.ndarray:
    """``(T,)`` coordinate of ``region``'s displacement from the bases' mean along its part of ``basis``."""
    mask = REGION_MASKS[region]
    part = motion.bases.components[basis][mask]
    offset = (shapes[:, mask] - motion.bases.mean[mask]).reshape(len(shapes), -1)
    return offset @ part.reshape(-1) / (part**2).sum()


def coupling(shapes: np.ndarray, motion: ClipMotion, region: str, partner: str, basis: int, frames: slice) -> float:
    """Concordance of the two regions' frame-to-frame motion along ``basis`` over ``frames``."""
    a = np.diff(along_basis(shapes, motion, region, basis)[frames])
    b = np.diff(along_basis(shapes, motion, partner, basis)[frames])
    return concordance(a, b)


def measure(motion: ClipMotion, delta: np.ndarray, label: dict) -> dict:
    """(a) coupling drop, (b) KS speed shift per region, (c) displacement, for one perturbation.

    Args:
        motion: the pristine clip's motion.
        delta: ``(T, 68, 2)`` the perturbation's displacement, canonical units (IOD).
        label: the perturbation's label (region, partner, coupling basis, window).
    """
    fake = motion.shapes + delta
    frames = slice(*label["window"])
    args = (label["region"], label["partner"], label["coupling_basis"], frames)
    before = coupling(motion.shapes, motion, *args)
    after = coupling(fake, motion, *args)
    real_speed, fake_speed = region_speed(motion.shapes), region_speed(fake)
    ks = {name: float(ks_2samp(real_speed[name], fake_speed[name]).statistic) for name in real_speed}
    size = np.linalg.norm(delta, axis=-1)
    moved = size[size.max(1) > 0][:, size.max(0) > 0]
    return {
        "coupling_before": before,
        "coupling_after": after,
        "coupling_drop": before - after,
        "ks_region": ks[label["region"]],
        "ks_max": max(ks.values()),
        "mean_displacement_iod": float(moved.mean()) if moved.size else 0.0,
        "max_displacement_iod": float(size.max()),
    }


def operator_table(motions: list[tuple[str, ClipMotion]], seed: int = 0, samples: int = 3) -> dict[str, dict]:
    """Mean of :func:`measure` per operator over ``samples`` draws on every clip (default
    policy with only that operator on; the other clips are the transplant donors)."""
    donors = [(key, m.coeffs) for key, m in motions]
    table = {}
    for operator in OPERATORS:
        policy = PerturbPolicy(weights={operator: 1.0})
        rows = []
        for key, motion in motions:
            pool = [d for d in donors if d[0] != key]
            for n in range(samples):
                result = sample_perturbation(f"{key}_fake{n}", seed, motion, policy, pool)
                if result is not None:
                    rows.append(measure(motion, result.delta, result.label))
        summary = {name: float(np.mean([r[name] for r in rows])) for name in rows[0]}
        summary["max_displacement_iod"] = float(max(r["max_displacement_iod"] for r in rows))
        table[operator] = summary | {"samples": len(rows)}
    return table

"""The sampling policy: which operator, on which regions, when, how strong; seeded per sample.

Every random choice for a sample comes from one generator seeded by
``sha256(f"{seed}:{key}")``, so any sample can be regenerated alone from its key and
the global seed, whatever else the job produced and in whatever order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from synth.perturb.apply import Perturbation, perturb
from synth.perturb.motion import ClipMotion, coupled_pairs


def _default_weights() -> dict[str, float]:
    return {"decouple": 1.0, "desync": 1.0, "amplitude": 1.0, "freeze": 1.0, "transplant": 1.0, "jitter": 0.0}


@dataclass(frozen=True)
class PerturbPolicy:
    """How perturbations are drawn (recorded in the manifest's config).

    Attributes:
        weights: relative probability of each operator; ``jitter`` (non-kinematic
            baseline for ablations) is off by default.
        strength: range of the requested largest displacement, IOD (uniform draw).
        max_shift: hard cap on any landmark's displacement in any frame, IOD.
        window: range of the active window's length, frames (clipped to the clip).
        ramp: onset/offset length, frames.
        lag: desync lag range, frames (either sign).
        damp, amplify: amplitude gain ranges (one of the two, evenly).
        jitter_sigma: jitter's per-frame noise, IOD.
        min_coupling: region pairs must share a basis with at least this energy share each.
        min_effect: a draw whose largest displacement (before the strength cap) is below
            this, IOD, changes too little to matter and is drawn again.
        max_draws: draws tried before a sample is given up on (it becomes a reject).
    """

    weights: dict[str, float] = field(default_factory=_default_weights)
    strength: tuple[float, float] = (0.02, 0.05)
    max_shift: float = 0.06
    window: tuple[int, int] = (16, 32)
    ramp: int = 4
    lag: tuple[int, int] = (2, 4)
    damp: tuple[float, float] = (0.0, 0.4)
    amplify: tuple[float, float] = (1.6, 2.5)
    jitter_sigma: float = 0.01
    min_coupling: float = 0.05
    min_effect: float = 0.01
    max_draws: int = 8


def sample_seed(seed: int, key: str) -> int:
    """The 64-bit seed of sample ``key`` under global ``seed``."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "little")


def _candidates(motion: ClipMotion, policy: PerturbPolicy, donors) -> tuple[list[str], list]:
    """Operators that can be drawn (transplant only with donors) and the coupled region pairs."""
    names = [n for n, w in sorted(policy.weights.items()) if w > 0 and (n != "transplant" or donors)]
    return names, coupled_pairs(motion.bases, policy.min_coupling)


def unusable_reason(motion: ClipMotion, policy: PerturbPolicy, donors: Sequence = ()) -> str:
    """Why :func:`sample_perturbation` returned None for this clip, in one sentence."""
    names, pairs = _candidates(motion, policy, donors)
    if not names:
        return "no enabled operator can run here (transplant needs another clip to donate motion)"
    if not pairs:
        return f"the bases share no region pair above min_coupling {policy.min_coupling}"
    return (
        f"{policy.max_draws} draws left no usable edit (too little coupled motion, or every edit would fold the mesh)"
    )


def sample_perturbation(
    key: str,
    seed: int,
    motion: ClipMotion,
    policy: PerturbPolicy,
    donors: Sequence[tuple[str, np.ndarray]] = (),
) -> Perturbation | None:
    """Draw and apply one perturbation for sample ``key``.

    Args:
        key: the sample key (``{video_id}_{clip:04d}_fakeN``).
        seed: the job's global seed.
        motion: the clip's motion.
        policy: the sampling policy.
        donors: ``(key, (T', k) coefficients)`` of other clips for ``transplant``; when
            empty, transplant is not drawn.

    Returns:
        The perturbation (its label adds ``key``, ``seed`` and ``draws``), or None when
        ``max_draws`` draws all failed (no coupled motion, flips).
    """
    rng = np.random.default_rng(sample_seed(seed, key))
    names, pairs = _candidates(motion, policy, donors)
    if not names or not pairs:
        return None
    weights = np.array([policy.weights[n] for n in names], float)
    frames = motion.frames
    for draw in range(1, policy.max_draws + 1):
        operator = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        pair = pairs[int(rng.integers(len(pairs)))]
        length = int(rng.integers(min(policy.window[0], frames), min(policy.window[1], frames) + 1))
        start = int(rng.integers(0, frames - length + 1))
        ramp = min(policy.ramp, length // 2)
        strength = min(float(rng.uniform(*policy.strength)), policy.max_shift)
        params = {
            "lag": policy.lag,
            "damp": policy.damp,
            "amplify": policy.amplify,
            "sigma": policy.jitter_sigma,
            "donor": donors[int(rng.integers(len(donors)))] if donors else None,
        }
        result = perturb(motion, operator, pair, (start, start + length), ramp, strength, rng, params)
        if result is not None and result.label["natural_max_iod"] >= policy.min_effect:
            result.label.update({"key": key, "seed": seed, "draws": draw})
            return result
    return None

"""The operators: each turns a clip's motion into a raw displacement of one region.

Every operator is a pure function ``(motion, pair, window, rng, params) -> (delta, params)``
where ``delta`` is ``(T, 68, 2)`` in canonical units (IOD), non-zero only on
``pair.region``'s points, before the temporal envelope and strength cap that
:func:`synth.perturb.apply.perturb` applies; ``params`` is what the label records. Only
the basis-explained part of the motion is edited; the residual (what the bases do not
capture) is left in place, so an operator never adds reconstruction error.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from synth.perturb.motion import REGION_MASKS, ClipMotion, RegionPair

Operator = Callable[[ClipMotion, RegionPair, tuple[int, int], np.random.Generator, dict], tuple[np.ndarray, dict]]


def _masked(field: np.ndarray, region: str) -> np.ndarray:
    """Zero ``(T, 68, 2)`` ``field`` outside ``region``."""
    return field * REGION_MASKS[region][None, :, None]


def _basis_motion(motion: ClipMotion, j: int, reference: float) -> np.ndarray:
    """``(T, 68, 2)`` displacement of basis ``j`` from coefficient ``reference`` to its value at each frame."""
    return (motion.coeffs[:, j] - reference)[:, None, None] * motion.bases.components[j][None]


def decouple(motion: ClipMotion, pair: RegionPair, window, rng, params) -> tuple[np.ndarray, dict]:
    """``pair.region`` stops following the coupling basis while ``pair.partner`` still does.

    The region is held at the basis value of the window's first frame (an eyelid that
    stays open while the other blinks, a brow that no longer lifts with the eye).
    """
    j = pair.basis
    delta = -_masked(_basis_motion(motion, j, motion.coeffs[window[0], j]), pair.region)
    return delta, {"basis": j}


def desync(motion: ClipMotion, pair: RegionPair, window, rng, params) -> tuple[np.ndarray, dict]:
    """``pair.region``'s basis-explained motion runs ``lag`` frames late (early if negative)."""
    low, high = params["lag"]
    lag = int(rng.integers(low, high + 1)) * int(rng.choice([-1, 1]))
    source = np.clip(np.arange(motion.frames) - lag, 0, motion.frames - 1)
    explained = motion.coeffs @ motion.bases.components.reshape(motion.bases.k, -1)
    shifted = (explained[source] - explained).reshape(motion.frames, 68, 2)
    return _masked(shifted, pair.region), {"lag_frames": lag}


def amplitude(motion: ClipMotion, pair: RegionPair, window, rng, params) -> tuple[np.ndarray, dict]:
    """``pair.region``'s part of the coupling basis is damped or amplified by ``gain``."""
    j = pair.basis
    low, high = params["damp"] if rng.random() < 0.5 else params["amplify"]
    gain = float(rng.uniform(low, high))
    mean = motion.coeffs[window[0] : window[1], j].mean()
    return (gain - 1.0) * _masked(_basis_motion(motion, j, mean), pair.region), {"basis": j, "gain": gain}


def freeze(motion: ClipMotion, pair: RegionPair, window, rng, params) -> tuple[np.ndarray, dict]:
    """``pair.region`` holds its (pose-normalised) configuration from the window's first frame."""
    held = motion.shapes[window[0]][None] - motion.shapes
    return _masked(held, pair.region), {"held_frame": int(window[0])}


def transplant(motion: ClipMotion, pair: RegionPair, window, rng, params) -> tuple[np.ndarray, dict]:
    """``pair.region`` moves with another clip's coefficients (its motion about its own mean)."""
    donor_key, donor = params["donor"]
    index = np.minimum(np.arange(motion.frames), len(donor) - 1)
    donor_motion = donor[index] - donor.mean(0)
    own_motion = motion.coeffs - motion.coeffs.mean(0)
    change = (donor_motion - own_motion) @ motion.bases.components.reshape(motion.bases.k, -1)
    return _masked(change.reshape(motion.frames, 68, 2), pair.region), {"donor": donor_key}


def jitter(motion: ClipMotion, pair: RegionPair, window, rng, params) -> tuple[np.ndarray, dict]:
    """Non-kinematic baseline: independent Gaussian noise on ``pair.region``'s points every frame."""
    sigma = float(params["sigma"])
    return _masked(rng.normal(0.0, sigma, motion.shapes.shape), pair.region), {"sigma": sigma}


OPERATORS: dict[str, Operator] = {
    "decouple": decouple,
    "desync": desync,
    "amplitude": amplitude,
    "freeze": freeze,
    "transplant": transplant,
    "jitter": jitter,
}

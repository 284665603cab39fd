"""The operators: each turns a clip's motion into a raw displacement of one region.

An operator is two pure functions. ``draw(rng, params)`` makes its random choices (a lag,
a gain, a donor) once per draw of a sample and returns them as the label's ``params``
(keys starting with ``_`` carry arrays the label leaves out, such as a donor's coefficients);
``apply(motion, pair, window, drawn)`` turns them into ``delta``, ``(T, 68, 2)`` in
canonical units (IOD), non-zero only on ``pair.region``'s points, before the temporal
envelope and strength scaling that :func:`kinefake.synth.perturb.apply.perturb` applies. Keeping
the two apart lets the policy try the same choices at every window position and place
the window where the edit shows. Only the basis-explained part of the motion is edited;
the residual (what the bases do not capture) is left in place, so an operator never adds
reconstruction error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kinefake.synth.perturb.motion import REGION_MASKS, ClipMotion, RegionPair


@dataclass(frozen=True)
class Operator:
    """``draw(rng, params) -> drawn`` (JSON-serialisable) and ``apply(motion, pair, window, drawn) -> delta``."""

    draw: Callable[[np.random.Generator, dict], dict]
    apply: Callable[[ClipMotion, RegionPair, tuple[int, int], dict], np.ndarray]


def _masked(field: np.ndarray, region: str) -> np.ndarray:
    """Zero ``(T, 68, 2)`` ``field`` outside ``region``."""
    return field * REGION_MASKS[region][None, :, None]


def _basis_motion(motion: ClipMotion, j: int, reference: float) -> np.ndarray:
    """``(T, 68, 2)`` displacement of basis ``j`` from coefficient ``reference`` to its value at each frame."""
    return (motion.coeffs[:, j] - reference)[:, None, None] * motion.bases.components[j][None]


def _nothing(rng: np.random.Generator, params: dict) -> dict:
    return {}


def _decouple(motion: ClipMotion, pair: RegionPair, window, drawn) -> np.ndarray:
    """``pair.region`` stops following the coupling basis while ``pair.partner`` still does.

    The region is held at the basis value of the window's first frame (an eyelid that
    stays open while the other blinks, a brow that no longer lifts with the eye).
    """
    j = pair.basis
    return -_masked(_basis_motion(motion, j, motion.coeffs[window[0], j]), pair.region)


def _draw_lag(rng: np.random.Generator, params: dict) -> dict:
    low, high = params["lag"]
    return {"lag_frames": int(rng.integers(low, high + 1)) * int(rng.choice([-1, 1]))}


def _desync(motion: ClipMotion, pair: RegionPair, window, drawn) -> np.ndarray:
    """``pair.region``'s basis-explained motion runs ``lag_frames`` late (early if negative)."""
    source = np.clip(np.arange(motion.frames) - drawn["lag_frames"], 0, motion.frames - 1)
    explained = motion.coeffs @ motion.bases.components.reshape(motion.bases.k, -1)
    return _masked((explained[source] - explained).reshape(motion.frames, 68, 2), pair.region)


def _draw_gain(rng: np.random.Generator, params: dict) -> dict:
    low, high = params["damp"] if rng.random() < 0.5 else params["amplify"]
    return {"gain": float(rng.uniform(low, high))}


def _amplitude(motion: ClipMotion, pair: RegionPair, window, drawn) -> np.ndarray:
    """``pair.region``'s part of the coupling basis is damped or amplified by ``gain`` about its window mean."""
    j = pair.basis
    mean = motion.coeffs[window[0] : window[1], j].mean()
    return (drawn["gain"] - 1.0) * _masked(_basis_motion(motion, j, mean), pair.region)


def _freeze(motion: ClipMotion, pair: RegionPair, window, drawn) -> np.ndarray:
    """``pair.region`` holds its (pose-normalised) configuration from the window's first frame."""
    return _masked(motion.shapes[window[0]][None] - motion.shapes, pair.region)


def _draw_donor(rng: np.random.Generator, params: dict) -> dict:
    key, coeffs = params["donors"][int(rng.integers(len(params["donors"])))]
    return {"donor": key, "_donor_coeffs": coeffs}


def _transplant(motion: ClipMotion, pair: RegionPair, window, drawn) -> np.ndarray:
    """``pair.region`` moves with another clip's coefficients (its motion about its own mean)."""
    donor = drawn["_donor_coeffs"]
    index = np.minimum(np.arange(motion.frames), len(donor) - 1)
    donor_motion = donor[index] - donor.mean(0)
    own_motion = motion.coeffs - motion.coeffs.mean(0)
    change = (donor_motion - own_motion) @ motion.bases.components.reshape(motion.bases.k, -1)
    return _masked(change.reshape(motion.frames, 68, 2), pair.region)


def _draw_noise(rng: np.random.Generator, params: dict) -> dict:
    return {"sigma": float(params["sigma"]), "noise_seed": int(rng.integers(2**31))}


def _jitter(motion: ClipMotion, pair: RegionPair, window, drawn) -> np.ndarray:
    """Non-kinematic baseline: independent Gaussian noise on ``pair.region``'s points every frame."""
    noise = np.random.default_rng(drawn["noise_seed"]).normal(0.0, drawn["sigma"], motion.shapes.shape)
    return _masked(noise, pair.region)


OPERATORS: dict[str, Operator] = {
    "decouple": Operator(_nothing, _decouple),
    "desync": Operator(_draw_lag, _desync),
    "amplitude": Operator(_draw_gain, _amplitude),
    "freeze": Operator(_nothing, _freeze),
    "transplant": Operator(_draw_donor, _transplant),
    "jitter": Operator(_draw_noise, _jitter),
}

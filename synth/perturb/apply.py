"""Apply one operator: envelope, strength cap, flip check, pixel targets and labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinefake.schemas.members import PARAM_FIELDS
from kinefake.synth.bases.model import REGION_NAMES
from kinefake.synth.geometry import turn_vectors
from kinefake.synth.perturb.motion import ClipMotion, RegionPair, region_displacement
from kinefake.synth.perturb.operators import OPERATORS
from kinefake.synth.perturb.schedule import envelope
from kinefake.synth.render.mesh import clip_triangles, flipped

#: Each flip makes the strength this much smaller, at most ``MAX_REDUCTIONS`` times.
REDUCTION = 0.7
MAX_REDUCTIONS = 6


def label_params(drawn: dict) -> dict:
    """An operator's drawn values in the label's fixed ``params`` shape (every key of
    :data:`kinefake.schemas.members.PARAM_FIELDS`, null where unused); ``_``-prefixed values stay private.

    Raises:
        ValueError: a drawn value the contract has no field for.
    """
    public = {k: v for k, v in drawn.items() if not k.startswith("_")}
    unknown = sorted(set(public) - set(PARAM_FIELDS))
    if unknown:
        raise ValueError(f"expected params among {PARAM_FIELDS}, got {unknown}")
    return {k: public.get(k) for k in PARAM_FIELDS}


@dataclass(frozen=True)
class Perturbation:
    """The result of one operator on one clip.

    Attributes:
        target: ``(T, 68, 2)`` float32 target landmarks, frame pixels (equal to the source,
            bit for bit, outside the active window and at strength 0).
        delta: ``(T, 68, 2)`` float64 displacement in canonical units (IOD).
        region_displacement: ``(T, R)`` float32 mean displacement per region, IOD, regions
            in ``kinefake.synth.bases.model.REGION_NAMES`` order.
        label: JSON-serialisable description (operator, parameters, regions, window,
            strength, how it was capped or reduced, displacement summary).
    """

    target: np.ndarray
    delta: np.ndarray
    region_displacement: np.ndarray
    label: dict


def natural_edit(
    motion: ClipMotion, operator: str, pair: RegionPair, window: tuple[int, int], ramp: int, drawn: dict
) -> np.ndarray:
    """``(T, 68, 2)`` float64 displacement (IOD) of ``operator`` with its ``drawn`` choices on
    ``pair.region`` inside ``window``, weighted by the window's envelope, before any scaling.

    Raises:
        ValueError: unknown operator, or a window the envelope refuses.
    """
    if operator not in OPERATORS:
        raise ValueError(f"expected operator in {sorted(OPERATORS)}, got {operator!r}")
    raw = OPERATORS[operator].apply(motion, pair, window, drawn)
    return envelope(motion.frames, window[0], window[1], ramp)[:, None, None] * raw


def perturb(
    motion: ClipMotion,
    operator: str,
    pair: RegionPair,
    window: tuple[int, int],
    ramp: int,
    strength: float,
    drawn: dict,
    max_gain: float = 1.0,
    triangles: np.ndarray | None = None,
) -> Perturbation | None:
    """Run ``operator`` on ``pair.region`` inside ``window`` and scale it to ``strength``.

    The natural edit (:func:`natural_edit`) is scaled so that its largest landmark
    displacement in any frame equals ``strength`` (IOD), by at most ``max_gain``: an edit
    whose natural size is below ``strength / max_gain`` stays smaller than asked. If a
    render-mesh triangle would flip or collapse, the scale is reduced by ``REDUCTION`` up
    to ``MAX_REDUCTIONS`` times.

    Args:
        drawn: the operator's choices from ``OPERATORS[operator].draw`` (keys starting with
            ``_`` are left out of the label).
        triangles: :func:`kinefake.synth.render.mesh.clip_triangles` of ``motion.shapes`` (computed
            when not given; the policy passes it to avoid recomputing it for every draw).

    Returns:
        The :class:`Perturbation`, or None when the operator produces no motion here
        or every reduction still flips a triangle (the caller draws again).

    Raises:
        ValueError: unknown operator, a negative strength, or ``max_gain`` below 1.
    """
    if strength < 0:
        raise ValueError(f"expected strength >= 0 (IOD), got {strength}")
    if max_gain < 1:
        raise ValueError(f"expected max_gain >= 1, got {max_gain}")
    weighted = natural_edit(motion, operator, pair, window, ramp, drawn)
    natural = float(np.linalg.norm(weighted, axis=-1).max())
    if natural <= 1e-9 and strength > 0:
        return None
    scale = min(max_gain, strength / natural) if natural > 0 else 0.0
    reductions = 0
    tri = clip_triangles(motion.shapes) if triangles is None else triangles
    while scale > 0 and flipped(motion.shapes, motion.shapes + scale * weighted, tri).any():
        if reductions == MAX_REDUCTIONS:
            return None
        scale *= REDUCTION
        reductions += 1
    delta = scale * weighted
    target = motion.points + turn_vectors(motion.pose, delta).astype(np.float32)
    size = np.linalg.norm(delta, axis=-1)
    active = np.flatnonzero(size.max(1) > 0)
    label = {
        "operator": operator,
        "region": pair.region,
        "partner": pair.partner,
        "coupling_basis": pair.basis,
        "params": label_params(drawn),
        "window": [int(window[0]), int(window[1])],
        "ramp_frames": int(ramp),
        "active_frames": [int(active[0]), int(active[-1]) + 1] if active.size else [],
        "strength_iod": float(strength),
        "natural_max_iod": natural,
        "scale": float(scale),
        "flip_reductions": reductions,
        "max_displacement_iod": float(size.max()),
        "mean_displacement_iod": float(size[active][:, size.max(0) > 0].mean()) if active.size else 0.0,
        "regions": list(REGION_NAMES),
    }
    return Perturbation(target, delta, region_displacement(delta).astype(np.float32), label)

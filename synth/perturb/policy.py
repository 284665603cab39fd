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

from kinefake.synth.bases.model import REGION_NAMES
from kinefake.synth.perturb.apply import Perturbation, natural_edit, perturb
from kinefake.synth.perturb.motion import ClipMotion, RegionPair, coupled_pairs
from kinefake.synth.perturb.operators import OPERATORS
from kinefake.synth.render.blend import BLEND, BLUR, FLICKER, ControlParams, control_mask, draw_blend
from kinefake.synth.render.mesh import clip_triangles

#: A kinematic edit and a blend on the same clip.
HYBRID = "hybrid"


def _default_weights() -> dict[str, float]:
    return {
        "decouple": 1.0,
        "desync": 1.0,
        "amplitude": 1.0,
        "freeze": 1.0,
        "transplant": 1.0,
        "jitter": 0.0,
        BLEND: 0.0,
        HYBRID: 0.0,
        BLUR: 0.0,
        FLICKER: 0.0,
    }


def operator_names() -> list[str]:
    """Every operator a policy can draw (kinematic, appearance, hybrid and control), sorted."""
    return sorted(_default_weights())


#: Operator families: kinematic operators edit motion; the appearance one (``blend``) pixels;
#: a hybrid does both on one clip; controls are known artifacts that calibrate a detector.
KINEMATIC, APPEARANCE, CONTROL = "kinematic", "appearance", "control"
#: Operators of the families that do not move landmarks.
PIXEL_ONLY = (BLEND, BLUR, FLICKER)
#: The kinematic operators (a hybrid draws one of them).
KINEMATIC_OPERATORS = tuple(sorted(OPERATORS))
#: Families whose fakes move landmarks (their strength is a displacement, IOD).
MOVING = (KINEMATIC, HYBRID)


def report_name(perturbation) -> str:
    """How reports group a fake's perturbation (a :class:`~kinefake.schemas.label.Label`'s
    ``perturbation``): its operator, a hybrid as ``hybrid+{operator}``, a control with its
    level (``blur0.7``, ``flicker2``)."""
    operator, family, params = perturbation.operator, perturbation.family, perturbation.params
    if family == HYBRID:
        return f"{HYBRID}+{operator}"
    if family == CONTROL:
        return f"{operator}{params.blur_sigma_px if operator == BLUR else params.flicker_grey:g}"
    return operator


#: Window placements: where the edit shows most (``motion``) or anywhere (``uniform``).
PLACEMENTS = ("motion", "uniform")


#: Largest cap on a landmark's shift, IOD: beyond it edits fold the mesh or show at a glance.
MAX_SHIFT = 0.2


@dataclass(frozen=True)
class PerturbPolicy:
    """How perturbations are drawn (recorded in the manifest's config).

    Attributes:
        weights: relative probability of each operator; ``jitter`` (non-kinematic
            baseline for ablations) is off by default. A sample's operator is drawn once,
            so the mix of attempted fakes is the one the weights say.
        strength: range of the requested largest displacement, IOD (uniform draw). Its
            lower end is also a floor: a draw whose edit, after the strength cap and any
            flip reduction, moves no landmark that far is drawn again.
        max_shift: hard cap on any landmark's displacement in any frame, IOD.
        window: range of the active window's length, frames (clipped to the clip).
        ramp: onset/offset length, frames.
        lag: desync lag range, frames (either sign).
        damp, amplify: amplitude gain ranges (one of the two, evenly).
        jitter_sigma: jitter's per-frame noise, IOD.
        blend_ratio: range of the appearance family's blend weight (``blend`` and a hybrid's
            blend; drawn from SBI's set {0.25, 0.5, 0.75, 1, 1, 1} inside the range, see
            :mod:`kinefake.synth.render.blend`).
        blur_sigmas: the ``blur`` control's levels, pixels (one drawn per sample).
        flicker_greys: the ``flicker`` control's levels, grey levels (one drawn per sample).
        min_coupling: region pairs must share a basis with at least this energy share each.
        max_gain: the natural edit is scaled to the drawn strength by at most this factor
            (1: never amplified, so a decoupled eye never overshoots its partner).
        placement: ``motion`` draws the window's position with probability proportional to
            the squared size of the edit there, so windows land on the region's motion
            events (a blink, a mouth opening) where a broken coupling is visible, and
            region pairs are drawn among those whose edit can reach the floor;
            ``uniform`` places windows anywhere (the edit may fall on a still face).
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
    blend_ratio: tuple[float, float] = (0.25, 1.0)
    blur_sigmas: tuple[float, ...] = (0.5, 0.7, 1.0)
    flicker_greys: tuple[float, ...] = (1.0, 2.0)
    min_coupling: float = 0.05
    max_gain: float = 1.0
    placement: str = "motion"
    max_draws: int = 8

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise ValueError(f"expected placement in {PLACEMENTS}, got {self.placement!r}")
        low, high = self.strength
        if not 0 <= low <= high <= self.max_shift <= MAX_SHIFT:  # NaN fails too
            raise ValueError(
                f"expected 0 <= min strength <= max strength <= max shift <= {MAX_SHIFT} IOD, got "
                f"{low}, {high}, {self.max_shift}"
            )
        if not 0 <= self.blend_ratio[0] <= self.blend_ratio[1] <= 1:
            raise ValueError(f"expected 0 <= min blend ratio <= max blend ratio <= 1, got {self.blend_ratio}")
        if not self.blur_sigmas or not all(0 < v <= 8 for v in self.blur_sigmas):
            raise ValueError(f"expected blur sigmas in (0, 8] px, got {self.blur_sigmas}")
        if not self.flicker_greys or not all(0 < v <= 64 for v in self.flicker_greys):
            raise ValueError(f"expected flicker levels in (0, 64] grey levels, got {self.flicker_greys}")
        if not 0 <= self.jitter_sigma <= self.max_shift:
            raise ValueError(f"expected 0 <= jitter sigma <= max shift, got {self.jitter_sigma}, {self.max_shift}")

    @classmethod
    def from_dict(cls, config: dict) -> PerturbPolicy:
        """The policy recorded in a manifest's config (its JSON form: ranges as lists)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})


def sample_seed(seed: int, key: str) -> int:
    """The 63-bit seed of sample ``key`` under global ``seed`` (63 so that it is a signed
    64-bit integer in every reader: Arrow, pandas and JSON parsers that stop at 2**63)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "little") >> 1


def _candidates(motion: ClipMotion, policy: PerturbPolicy, donors) -> tuple[list[str], list]:
    """Operators that can be drawn (transplant only with donors) and the coupled region pairs
    (``[None]`` when only operators that move no landmark are enabled)."""
    names = [n for n, w in sorted(policy.weights.items()) if w > 0 and (n != "transplant" or donors)]
    if names and set(names) <= set(PIXEL_ONLY):
        return names, [None]
    return names, coupled_pairs(motion.bases, policy.min_coupling)


def unusable_reason(motion: ClipMotion, policy: PerturbPolicy, donors: Sequence = ()) -> str:
    """Why :func:`sample_perturbation` returned None for this clip, in one sentence."""
    names, pairs = _candidates(motion, policy, donors)
    if not names:
        return "no enabled operator can run here (transplant needs another clip to donate motion)"
    if not pairs:
        return f"the bases share no region pair above min_coupling {policy.min_coupling}"
    return (
        f"{policy.max_draws} draws left no edit of at least {policy.strength[0]:g} IOD (the regions barely move "
        "in this clip, or every edit that large would fold the mesh)"
    )


def _place(
    motion: ClipMotion, operator: str, pairs: list[RegionPair], length: int, ramp: int, drawn: dict, floor: float
) -> list[tuple[RegionPair, np.ndarray, np.ndarray]]:
    """For each pair whose edit can reach ``floor`` somewhere: ``(pair, starts, natural sizes there)``."""
    starts = np.arange(motion.frames - length + 1)
    usable = []
    for pair in pairs:
        sizes = np.array(
            [
                np.linalg.norm(natural_edit(motion, operator, pair, (s, s + length), ramp, drawn), axis=-1).max()
                for s in starts
            ]
        )
        if (sizes >= floor).any():
            usable.append((pair, starts[sizes >= floor], sizes[sizes >= floor]))
    return usable


def _unmoved(operator: str, family: str, params: dict, motion: ClipMotion) -> Perturbation:
    """A draw that moves no landmark (blend, a control): the label carries its parameters."""
    frames = motion.frames
    label = {
        "operator": operator,
        "family": family,
        "region": "face",
        "partner": None,
        "coupling_basis": None,
        "params": params,
        "window": [0, frames],
        "ramp_frames": 0,
        "active_frames": [0, frames],
        "strength_iod": None,
        "natural_max_iod": None,
        "scale": None,
        "flip_reductions": 0,
        "max_displacement_iod": 0.0,
        "mean_displacement_iod": 0.0,
        "regions": list(REGION_NAMES),
        "draws": 1,
    }
    zeros = np.zeros_like(motion.shapes)
    return Perturbation(motion.points.copy(), zeros, np.zeros((frames, len(REGION_NAMES)), np.float32), label)


def _control(operator: str, policy: PerturbPolicy, rng: np.random.Generator) -> dict:
    """A control's label ``params``: its level drawn from the policy's levels."""
    levels = policy.blur_sigmas if operator == BLUR else policy.flicker_greys
    level = float(levels[int(rng.integers(len(levels)))])
    if operator == BLUR:
        return ControlParams(control_mask(), level, None).to_label()
    return ControlParams(control_mask(), None, level).to_label()


def operator_params(policy: PerturbPolicy, donors: Sequence = ()) -> dict:
    """What a kinematic operator's ``draw(rng, params)`` draws from: the policy's ranges and
    the donor group's ``(key, coeffs)`` pairs."""
    return {
        "lag": policy.lag,
        "damp": policy.damp,
        "amplify": policy.amplify,
        "sigma": policy.jitter_sigma,
        "donors": donors,
    }


def _kinematic(
    operator: str,
    motion: ClipMotion,
    policy: PerturbPolicy,
    pairs: list[RegionPair],
    donors: Sequence,
    rng: np.random.Generator,
) -> Perturbation | None:
    """Up to ``policy.max_draws`` draws of a kinematic ``operator``; the first that reaches the floor."""
    params = operator_params(policy, donors)
    floor = policy.strength[0]
    triangles = clip_triangles(motion.shapes)
    frames = motion.frames
    for draw in range(1, policy.max_draws + 1):
        drawn = OPERATORS[operator].draw(rng, params)
        length = int(rng.integers(min(policy.window[0], frames), min(policy.window[1], frames) + 1))
        ramp = min(policy.ramp, length // 2)
        strength = min(float(rng.uniform(*policy.strength)), policy.max_shift)
        if policy.placement == "motion":
            usable = _place(motion, operator, pairs, length, ramp, drawn, floor / policy.max_gain)
            if not usable:
                continue
            pair, starts, sizes = usable[int(rng.integers(len(usable)))]
            start = int(starts[rng.choice(len(starts), p=sizes**2 / (sizes**2).sum())])
        else:
            pair = pairs[int(rng.integers(len(pairs)))]
            start = int(rng.integers(0, frames - length + 1))
        result = perturb(
            motion, operator, pair, (start, start + length), ramp, strength, drawn, policy.max_gain, triangles
        )
        if result is not None and result.label["max_displacement_iod"] >= floor * (1 - 1e-9):
            result.label.update({"family": KINEMATIC, "draws": draw})
            return result
    return None


def _hybrid_operator(names: list[str], policy: PerturbPolicy, rng: np.random.Generator, donors: Sequence) -> str:
    """The kinematic operator of a hybrid: one of the enabled kinematic operators (by weight),
    or of all of them when none is enabled (transplant only with donors)."""
    enabled = [n for n in names if n in KINEMATIC_OPERATORS]
    if enabled:
        weights = np.array([policy.weights[n] for n in enabled], float)
        return enabled[int(rng.choice(len(enabled), p=weights / weights.sum()))]
    pool = [n for n in KINEMATIC_OPERATORS if n != "jitter" and (n != "transplant" or donors)]
    return pool[int(rng.integers(len(pool)))]


def sample_perturbation(
    key: str,
    seed: int,
    motion: ClipMotion,
    policy: PerturbPolicy,
    donors: Sequence[tuple[str, np.ndarray]] = (),
) -> Perturbation | None:
    """Draw and apply one perturbation for sample ``key``.

    The operator is drawn once. A kinematic operator then takes up to ``policy.max_draws``
    draws of its own choices (lag, gain, donor), the window's length, the region pair and
    the window's position (see ``PerturbPolicy.placement``) and the strength, and keeps the
    first whose edit, after any flip reduction, reaches ``policy.strength[0]``. ``blend``
    and the controls (``blur``, ``flicker``) draw their parameters and move no landmark. A
    ``hybrid`` draws a kinematic operator, makes its edit as above, then draws a blend on
    top (its label: the kinematic operator, family ``hybrid``, both operators' params).

    Args:
        key: the sample key (``{video_id}_{clip:04d}_fakeN``).
        seed: the job's global seed.
        motion: the clip's motion.
        policy: the sampling policy.
        donors: ``(key, (T', k) coefficients)`` of other clips for ``transplant``; when
            empty, transplant is not drawn.

    Returns:
        The perturbation (its label adds ``key`` and ``seed``), or None when every draw
        failed (see :func:`unusable_reason`).
    """
    rng = np.random.default_rng(sample_seed(seed, key))
    names, pairs = _candidates(motion, policy, donors)
    if not names or not pairs:
        return None
    weights = np.array([policy.weights[n] for n in names], float)
    operator = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    if operator == BLEND:
        result = _unmoved(BLEND, APPEARANCE, draw_blend(rng, policy.blend_ratio).to_label(), motion)
    elif operator in (BLUR, FLICKER):
        result = _unmoved(operator, CONTROL, _control(operator, policy, rng), motion)
    elif operator == HYBRID:
        result = _kinematic(_hybrid_operator(names, policy, rng, donors), motion, policy, pairs, donors, rng)
        if result is not None:
            blend = draw_blend(rng, policy.blend_ratio).to_label()
            params = {k: v if v is not None else blend[k] for k, v in result.label["params"].items()}
            result.label.update({"family": HYBRID, "params": params})
    else:
        result = _kinematic(operator, motion, policy, pairs, donors, rng)
    if result is not None:
        result.label.update({"key": key, "seed": seed})
    return result

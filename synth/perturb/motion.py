"""A clip's facial motion in basis space, and the regions and region pairs operators address."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinefake.synth.bases.model import REGION_NAMES, LinearBases
from kinefake.synth.bases.normalize import normalize
from kinefake.synth.bases.quality import coupling
from kinefake.synth.landmarks.regions import IBUG68_REGIONS, PARTNER_REGIONS

REGION_MASKS = {name: np.isin(np.arange(68), idx) for name, idx in IBUG68_REGIONS.items()}


@dataclass(frozen=True)
class ClipMotion:
    """One clip's expression, pose and basis coefficients.

    Attributes:
        points: ``(T, 68, 2)`` float32 iBUG-68 landmarks, x then y, frame pixels.
        shapes: ``(T, 68, 2)`` float64 pose-normalised shapes, IOD units.
        pose: ``(T, 4)`` float64 similarity params (``points = denormalize(shapes, pose)``).
        coeffs: ``(T, k)`` float64 basis coefficients of ``shapes``.
        bases: the motion bases.
    """

    points: np.ndarray
    shapes: np.ndarray
    pose: np.ndarray
    coeffs: np.ndarray
    bases: LinearBases

    @classmethod
    def from_points(cls, points: np.ndarray, bases: LinearBases) -> ClipMotion:
        """From ``(T, 68, 2)`` iBUG-68 landmarks in pixels."""
        shapes, pose = normalize(np.asarray(points, np.float64))
        return cls(np.asarray(points, np.float32), shapes, pose, bases.encode(shapes), bases)

    @property
    def frames(self) -> int:
        return self.shapes.shape[0]


@dataclass(frozen=True)
class RegionPair:
    """Two regions that move together, and the basis that couples them most."""

    region: str
    partner: str
    basis: int
    share: float  # min of the two regions' energy shares in that basis


def coupled_pairs(bases: LinearBases, min_share: float = 0.05) -> list[RegionPair]:
    """The anatomical partner pairs (``PARTNER_REGIONS``, both orders) with the basis that
    couples them most, kept when that basis gives each region at least ``min_share`` of
    its energy. An operator edits ``region`` and leaves ``partner`` alone.
    """
    shares = coupling(bases)
    index = {name: r for r, name in enumerate(REGION_NAMES)}
    pairs = []
    for a, b in PARTNER_REGIONS:
        joint = np.minimum(shares[index[a]], shares[index[b]])
        j = int(joint.argmax())
        if joint[j] >= min_share:
            pairs += [RegionPair(a, b, j, float(joint[j])), RegionPair(b, a, j, float(joint[j]))]
    return pairs


def region_speed(shapes: np.ndarray) -> dict[str, np.ndarray]:
    """Per region, mean frame-to-frame speed of its points, ``(T - 1,)`` in IOD per frame."""
    step = np.linalg.norm(np.diff(shapes, axis=0), axis=-1)
    return {name: step[:, mask].mean(1) for name, mask in REGION_MASKS.items()}


def region_displacement(delta: np.ndarray) -> np.ndarray:
    """``(T, 68, 2)`` displacement -> ``(T, R)`` mean displacement per region (IOD), regions in
    ``REGION_NAMES`` order."""
    size = np.linalg.norm(delta, axis=-1)
    return np.stack([size[:, REGION_MASKS[name]].mean(1) for name in REGION_NAMES], 1)

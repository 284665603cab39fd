"""Kinematic features: how much of each facial region's motion its other regions do not explain.

In a real face the regions move together in ways that hold across people: both eyelids
in a blink, the inner and outer lips, the jaw with the mouth. A kinematic pseudo-fake
moves one region on its own. The features here measure that directly:

1. Every frame's landmarks are pose-normalised (:func:`kinefake.synth.bases.normalize.normalize`:
   similarity onto the canonical face, IOD units) and centred on the clip's mean shape,
   so what is left is the clip's expression motion, not the person's face shape.
2. A :class:`CouplingModel` predicts each region's centred coordinates from all other
   regions' by ridge regression, fitted on *real* clips only (a detector's training
   reals): the learned coupling of natural faces.
3. Per region, :func:`kinematic_features` describe the residual (what the rest of the face
   does not explain) against the region's own motion over the whole clip: its energy, its
   peak over 8-frame windows, the ratio to the region's motion energy, its frame-to-frame
   part (the ``kinematic`` detector's gradient boosting reads them). :func:`frame_features`
   keep the same quantities per frame for a :class:`KinematicNet` (temporal convolutions,
   max over time) trained on paired batches (the ``kinematic_paired`` detector).

The landmarks are those a detector can measure on the clip's pixels
(:func:`kinefake.synth.landmarks.redetect.redetect_crops`), never a fake's stored targets: train
and test see the same detector noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from kinefake.synth.bases.model import REGION_NAMES
from kinefake.synth.bases.normalize import normalize
from kinefake.synth.landmarks.regions import IBUG68_REGIONS

#: Frames of the sliding window whose peak residual is a feature (a blink lasts 6-10).
WINDOW = 8
#: Floor added inside logarithms, IOD² (far below any measurable motion).
EPS = 1e-8
#: Per-region feature names, in order.
REGION_FEATURES = (
    "log_residual",
    "log_residual_peak",
    "log_motion",
    "log_predicted",
    "log_residual_share",
    "log_residual_speed",
    "log_residual_contrast",
)
FEATURE_NAMES = tuple(f"{region}.{name}" for region in REGION_NAMES for name in REGION_FEATURES)


def centred_shapes(points: np.ndarray) -> np.ndarray:
    """``(T, 68, 2)`` iBUG-68 landmarks (pixels, any frame of reference) -> pose-normalised
    shapes minus the clip's mean shape, ``(T, 136)`` float64, IOD units.

    Raises:
        ValueError: not ``(T, 68, 2)`` floats, or fewer than 2 frames.
    """
    if points.ndim != 3 or points.shape[1:] != (68, 2) or len(points) < 2:
        raise ValueError(f"expected (T, 68, 2) landmarks with T >= 2, got {points.shape}")
    shapes, _ = normalize(np.asarray(points, np.float64))
    return (shapes - shapes.mean(0)).reshape(len(shapes), 136)


def _columns(region: str) -> np.ndarray:
    """``(136,)`` bool: the x, y columns of ``region``'s points in a flattened shape."""
    return np.repeat(np.isin(np.arange(68), IBUG68_REGIONS[region]), 2)


@dataclass(frozen=True)
class CouplingModel:
    """One ridge regression per region: its ``(T, 2n)`` centred coordinates from the other regions'.

    Attributes:
        weights: ``(R, 136, 136)`` float64; ``weights[r]`` maps a flattened centred shape with
            region ``r``'s columns zeroed to the prediction of the full shape (only region
            ``r``'s output columns are used).
        alpha: the ridge penalty it was fitted with.
    """

    weights: np.ndarray
    alpha: float

    @classmethod
    def fit(cls, clips: list[np.ndarray], alpha: float = 1.0) -> CouplingModel:
        """Fit on real clips' :func:`centred_shapes` (each ``(T, 136)``).

        Raises:
            ValueError: no clips, or fewer frames than it takes to fit.
        """
        if not clips:
            raise ValueError("expected at least one real clip to fit the coupling model")
        x = np.concatenate(clips)
        if len(x) < 8:
            raise ValueError(f"expected at least 8 frames of real clips, got {len(x)}")
        weights = np.zeros((len(REGION_NAMES), 136, 136))
        for r, region in enumerate(REGION_NAMES):
            own = _columns(region)
            a = x[:, ~own]
            solved = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ x[:, own])
            weights[r][np.ix_(~own, own)] = solved
        return cls(weights, alpha)

    def residuals(self, shapes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per region (``REGION_NAMES`` order): ``(own, residual)``, both ``(T, 2n)``, for one
        clip's ``(T, 136)`` centred shapes."""
        out = []
        for r, region in enumerate(REGION_NAMES):
            own = _columns(region)
            predicted = shapes @ self.weights[r][:, own]
            out.append((shapes[:, own], shapes[:, own] - predicted))
        return out


def _log(x: np.ndarray | float) -> float:
    return float(np.log(np.mean(x) + EPS))


def kinematic_features(shapes: np.ndarray, model: CouplingModel) -> np.ndarray:
    """``(F,)`` float64 features (``FEATURE_NAMES``) of one clip's ``(T, 136)`` centred shapes."""
    features = []
    window = min(WINDOW, len(shapes))
    kernel = np.ones(window) / window
    for own, residual in model.residuals(shapes):
        energy = (residual**2).sum(1)
        peaks = np.convolve(energy, kernel, mode="valid")
        speed = (np.diff(residual, axis=0) ** 2).sum(1)
        motion = (own**2).sum(1)
        features += [
            _log(energy),
            _log(peaks.max()),
            _log(motion),
            _log(((own - residual) ** 2).sum(1)),
            _log(energy) - _log(motion),
            _log(speed),
            _log(peaks.max()) - _log(peaks.min()),
        ]
    return np.array(features, np.float64)


#: iBUG-68 point of the mirror image of each point (the subject's right and left swapped).
IBUG68_MIRROR = np.array(
    [*range(16, -1, -1),  # jaw
     *range(26, 16, -1),  # brows
     27, 28, 29, 30, 35, 34, 33, 32, 31,  # nose
     45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,  # eyes
     54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,  # outer mouth
     64, 63, 62, 61, 60, 67, 66, 65],  # inner mouth
    dtype=np.int64,
)  # fmt: skip


def mirrored(points: np.ndarray) -> np.ndarray:
    """``(T, 68, 2)`` iBUG-68 landmarks of a clip -> those of its left-right mirror image (x negated)."""
    flipped = points[:, IBUG68_MIRROR].copy()
    flipped[..., 0] *= -1
    return flipped


def frame_features(shapes: np.ndarray, model: CouplingModel) -> np.ndarray:
    """``(3R, T)`` float32 per-frame features of one clip's ``(T, 136)`` centred shapes, per region
    (``REGION_NAMES`` order): the log energy of its residual (what the other regions do not
    explain), of its own motion, and of the residual's frame-to-frame change (0 at frame 0)."""
    rows = []
    for own, residual in model.residuals(shapes):
        speed = np.concatenate([[0.0], (np.diff(residual, axis=0) ** 2).sum(1)])
        rows += [np.log((residual**2).sum(1) + EPS), np.log((own**2).sum(1) + EPS), np.log(speed + EPS)]
    return np.stack(rows).astype(np.float32)


class KinematicNet(nn.Module):
    """Temporal conv net over per-frame features, global max over time:
    ``(B, F, T)`` -> ``(B,)`` logits (fake > 0). Inputs are standardised by ``mean`` and ``std``
    (``(F,)``, fitted on the training reals and saved with the weights)."""

    def __init__(self, features: int = 3 * len(REGION_NAMES), width: int = 64) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("std", torch.ones(features))
        self.features = nn.Sequential(
            nn.Conv1d(features, width, 5, padding=2, bias=False),
            nn.BatchNorm1d(width),
            nn.ReLU(inplace=True),
            nn.Conv1d(width, width, 5, padding=4, dilation=2, bias=False),
            nn.BatchNorm1d(width),
            nn.ReLU(inplace=True),
            nn.Conv1d(width, width, 3, padding=1, bias=False),
            nn.BatchNorm1d(width),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean[:, None]) / self.std[:, None]
        return self.head(self.features(x).amax(2))[:, 0]

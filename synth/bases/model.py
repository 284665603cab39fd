"""Motion bases: a mean face plus k displacement fields, fitted as PCA or a regional autoencoder.

Both kinds share one inference class, :class:`LinearBases`: a configuration is
``mean + sum_j c_j * component_j`` with unit-norm components (so ``c_j`` is in canonical
units, IOD), and encoding is the least-squares fit of the coefficients. What differs is
how the components are learned:

- **PCA** (:func:`fit_pca`): the best k-dimensional linear subspace for reconstruction;
  its components are global (a "smile" component also moves the brows and the jaw).
- **Regional autoencoder** (:mod:`kinefake.synth.bases.autoencoder`, the only part that needs torch): a
  linear decoder whose columns are the bases, kept unit-norm, and a tied encoder that is
  the decoder's least-squares inverse. The loss is reconstruction error plus a group
  penalty ``locality * sum_j sum_r sqrt(E_rj)`` on each basis's share of displacement
  energy in each facial region ``r``, which is smallest when a basis moves one region and
  grows as it spreads, plus a penalty keeping the bases near-orthonormal. So bases
  become regional, yet one basis can still couple the regions that move together in real
  faces (both eyes in a blink, the outer and inner lips).
  Training starts from the PCA components, is full-batch and single-threaded, and so is
  deterministic for a seed. With a linear decoder it cannot beat PCA on reconstruction at
  equal k; it wins on editability (locality), which the perturbation stage needs.

The landmark set is the iBUG-68 layout: both backends produce it (MediaPipe through the
fixed mapping), so one model serves either; its eight named regions are what the
perturbation operators address; and 136 numbers per frame keep the model tiny and the
training within seconds on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinefake.synth.landmarks.regions import IBUG68_REGIONS

REGION_NAMES = tuple(IBUG68_REGIONS)


def region_matrix() -> np.ndarray:
    """``(R, 68)`` 0/1 matrix: row ``r`` marks the points of region ``REGION_NAMES[r]``."""
    m = np.zeros((len(REGION_NAMES), 68))
    for r, name in enumerate(REGION_NAMES):
        m[r, list(IBUG68_REGIONS[name])] = 1.0
    return m


@dataclass(frozen=True)
class LinearBases:
    """``mean`` ``(68, 2)`` plus ``components`` ``(k, 68, 2)`` (unit norm), canonical units.

    Attributes:
        kind: ``"autoencoder"`` or ``"pca"``.
        coeff_std: ``(k,)`` standard deviation of each coefficient on the training data,
            the natural unit for perturbation strengths and previews.
    """

    kind: str
    mean: np.ndarray
    components: np.ndarray
    coeff_std: np.ndarray

    def __post_init__(self) -> None:
        k = self.components.shape[0]
        if self.mean.shape != (68, 2) or self.components.shape != (k, 68, 2) or self.coeff_std.shape != (k,):
            raise ValueError(
                f"expected mean (68, 2), components (k, 68, 2), coeff_std (k,); "
                f"got {self.mean.shape}, {self.components.shape}, {self.coeff_std.shape}"
            )

    @property
    def k(self) -> int:
        return self.components.shape[0]

    def encode(self, shapes: np.ndarray) -> np.ndarray:
        """Least-squares coefficients ``(T, k)`` of normalised ``(T, 68, 2)`` shapes."""
        if shapes.ndim != 3 or shapes.shape[1:] != (68, 2):
            raise ValueError(f"expected (T, 68, 2) normalised shapes, got {shapes.shape}")
        w = self.components.reshape(self.k, 136).T
        x = (shapes - self.mean).reshape(len(shapes), 136).T
        return np.linalg.solve(w.T @ w, w.T @ x).T

    def decode(self, coeffs: np.ndarray) -> np.ndarray:
        """Shapes ``(T, 68, 2)`` from coefficients ``(T, k)``."""
        if coeffs.ndim != 2 or coeffs.shape[1] != self.k:
            raise ValueError(f"expected (T, {self.k}) coefficients, got {coeffs.shape}")
        return self.mean + np.einsum("tk,knd->tnd", coeffs, self.components)


def _with_std(kind: str, mean: np.ndarray, components: np.ndarray, shapes: np.ndarray) -> LinearBases:
    provisional = LinearBases(kind, mean, components, np.ones(components.shape[0]))
    return LinearBases(kind, mean, components, provisional.encode(shapes).std(0))


def fit_pca(shapes: np.ndarray, k: int) -> LinearBases:
    """PCA bases of normalised ``(T, 68, 2)`` shapes: the top-k principal directions."""
    mean = shapes.mean(0)
    _, _, vt = np.linalg.svd((shapes - mean).reshape(len(shapes), 136), full_matrices=False)
    # Fix each component's sign (largest entry positive) so fits are reproducible.
    comps = vt[:k] * np.sign(vt[:k][np.arange(k), np.abs(vt[:k]).argmax(1)])[:, None]
    return _with_std("pca", mean, comps.reshape(k, 68, 2), shapes)


@dataclass(frozen=True)
class TrainConfig:
    """Autoencoder training settings (recorded in the model file).

    Attributes:
        k: number of bases.
        locality: weight of the regional group penalty.
        orthogonality: weight of the penalty on overlapping bases. Without it several bases
            share a region with nearly parallel directions, the least-squares coefficients
            blow up (condition number 3e4 at k=16) and cancel each other, and an edit of
            one coefficient means nothing; with it the bases are orthonormal to 1e-2.
        steps: full-batch Adam steps (cosine-annealed learning rate).
        lr: initial learning rate.
        seed: seeds the small perturbation of the PCA initialisation.
        init_noise: size of that perturbation (breaks PCA's rotational ties).
    """

    k: int = 16
    locality: float = 0.001
    orthogonality: float = 0.1
    steps: int = 1500
    lr: float = 0.01
    seed: int = 0
    init_noise: float = 0.01

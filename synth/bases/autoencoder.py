"""The regional autoencoder's training (see :mod:`kinefake.synth.bases.model`): the one place torch is
needed to make motion bases, so jobs that only use a saved model never import it."""

from __future__ import annotations

import numpy as np
import torch

from kinefake.synth.bases.model import LinearBases, TrainConfig, _with_std, fit_pca, region_matrix


def _reconstruct(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``x`` ``(B, 136)`` through its least-squares coefficients on unit columns ``w`` ``(136, k)``."""
    return torch.linalg.solve(w.T @ w, w.T @ x.T).T @ w.T


def autoencoder_loss(
    directions: torch.Tensor, regions: torch.Tensor, x: torch.Tensor, locality: float, orthogonality: float
) -> torch.Tensor:
    """The regional autoencoder's training loss, as a pure function of its decoder directions.

    Relative reconstruction error + ``locality`` x regional group penalty +
    ``orthogonality`` x ``||W^T W - I||^2 / k``, where ``W`` is ``directions`` ``(136, k)``
    with unit columns, the encoder is ``W``'s least-squares inverse, ``regions`` is
    ``(R, 68)`` and ``x`` ``(B, 136)`` centred configurations.
    """
    w = directions / directions.norm(dim=0, keepdim=True)
    recon = ((_reconstruct(w, x) - x) ** 2).sum(1).mean() / (x**2).sum(1).mean()
    energy = regions @ (w.reshape(68, 2, -1) ** 2).sum(1)
    spread = energy.clamp_min(1e-12).sqrt().sum(0).mean()
    gram = w.T @ w
    overlap = ((gram - torch.eye(gram.shape[0], dtype=gram.dtype)) ** 2).sum() / gram.shape[0]
    return recon + locality * spread + orthogonality * overlap


class RegionalAutoencoder(torch.nn.Module):
    """Linear decoder with unit-norm columns, tied least-squares encoder, regional penalty.

    Args:
        directions: ``(136, k)`` initial decoder columns (normalised in :meth:`bases`).
        regions: ``(R, 68)`` region membership (:func:`region_matrix`).
    """

    def __init__(self, directions: torch.Tensor, regions: torch.Tensor) -> None:
        super().__init__()
        self.directions = torch.nn.Parameter(directions.clone())
        self.register_buffer("regions", regions)

    def bases(self) -> torch.Tensor:
        """``(136, k)`` unit-norm decoder columns."""
        return self.directions / self.directions.norm(dim=0, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 136)`` centred configurations -> their reconstruction through k coefficients."""
        return _reconstruct(self.bases(), x)

    def loss(self, x: torch.Tensor, locality: float, orthogonality: float) -> torch.Tensor:
        return autoencoder_loss(self.directions, self.regions, x, locality, orthogonality)


def fit_autoencoder(shapes: np.ndarray, config: TrainConfig) -> LinearBases:
    """Train a :class:`RegionalAutoencoder` on normalised ``(T, 68, 2)`` shapes (float64, CPU)."""
    if shapes.ndim != 3 or shapes.shape[1:] != (68, 2):
        raise ValueError(f"expected (T, 68, 2) normalised shapes, got {shapes.shape}")
    if len(shapes) <= config.k:
        raise ValueError(f"expected more than k={config.k} frames to fit, got {len(shapes)}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # reduction order fixed: same seed, same bytes
    try:
        generator = torch.Generator().manual_seed(config.seed)
        pca = fit_pca(shapes, config.k)
        init = torch.tensor(pca.components.reshape(config.k, 136).T.copy())
        init += config.init_noise * torch.randn(init.shape, generator=generator, dtype=torch.float64)
        model = RegionalAutoencoder(init, torch.tensor(region_matrix()))
        x = torch.tensor((shapes - pca.mean).reshape(len(shapes), 136))
        opt = torch.optim.Adam(model.parameters(), lr=config.lr)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.steps)
        for _ in range(config.steps):
            opt.zero_grad()
            model.loss(x, config.locality, config.orthogonality).backward()
            opt.step()
            schedule.step()
        with torch.no_grad():
            comps = model.bases().numpy().T.reshape(config.k, 68, 2).copy()
    finally:
        torch.set_num_threads(threads)
    return _with_std("autoencoder", pca.mean, comps, shapes)

"""The pixel detector: a video conv net on windows of the face crop at its own resolution.

What it sees: a ``window``² square of the ``(T, S, S)`` crop, never resampled, over
``snippet`` consecutive frames, as RGB (centred on 0) plus 8x the grey-level difference to
the previous frame: ``(4, snippet, window, window)``. A 1-2 pixel edit of an eyelid or a
sub-pixel blur is therefore on the input grid; the first convolution sees every pixel.

The net (``backbone``):

- ``small`` (the CPU default): four (2+1)D blocks, each a 3x3 spatial convolution with
  stride 2 and a 3-tap temporal one, then a global **soft max** over space and time
  (:func:`soft_max_pool`), so one local artifact can decide, and one linear unit;
- ``r2plus1d_18`` / ``r3d_18`` (:mod:`kinefake.corpus.detectors.backbones`): the standard video
  ResNets, chosen by ``auto`` when a GPU is present, optionally started from weights a
  user already has (``init_weights``).

Training (:func:`train_pixel_net`) uses **paired batches** (:mod:`kinefake.corpus.detectors.pairs`):
each fake with the real sample of its own clip under the same window, frames and flip.
A window is centred, with probability ``focus``, on where the fake's mask says the edit is
(its ``(T, 14, 14)`` patch mask: the snippet drawn in proportion to the mask's mass, the
window's centre in a patch drawn likewise, jittered within it), and anywhere otherwise, so
the detector also learns what an untouched window of a fake looks like. At test time a
clip's score is the mean over its snippets of the largest logit over a ``grid`` x ``grid``
lattice of windows covering the crop. Everything is seeded and torch's deterministic
algorithms are on: one seed gives one model on one machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from kinefake.corpus.detectors.backbones import BACKBONES, VideoResNet18, soft_max_pool
from kinefake.corpus.detectors.pairs import PairedBatches, clip_pairs, train_paired

#: Backbone choices: ``auto`` is ``r2plus1d_18`` on a GPU and ``small`` on the CPU.
BACKBONE_CHOICES = ("auto", "small", *BACKBONES)


#: Bounds of :class:`PixelConfig`: a window and snippet as large as a crop clip can be, and a
#: batch that fits in memory (a saved model's settings are checked against them before a net is built).
MIN_WINDOW, MAX_WINDOW = 16, 1024
MAX_SNIPPET, MAX_PAIRS, MAX_GRID = 256, 256, 16


@dataclass(frozen=True)
class PixelConfig:
    """The pixel detector's input, network and training.

    Attributes:
        window: side of the square window, crop pixels (the crop's side when smaller).
        snippet: frames per window.
        steps: optimiser steps; pairs: ``(real, fake)`` pairs per batch.
        lr, weight_decay: AdamW's settings.
        channels: widths of the ``small`` net's four blocks.
        backbone: one of :data:`BACKBONE_CHOICES`.
        focus: share of training windows placed on the fake's mask.
        grid: test-time windows per side (``grid``² windows per snippet).
    """

    window: int = 128
    snippet: int = 8
    steps: int = 600
    pairs: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    channels: tuple[int, ...] = (16, 32, 64, 96)
    backbone: str = "auto"
    focus: float = 0.5
    grid: int = 3

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONE_CHOICES:
            raise ValueError(f"expected a backbone in {BACKBONE_CHOICES}, got {self.backbone!r}")
        if not (
            MIN_WINDOW <= self.window <= MAX_WINDOW
            and 2 <= self.snippet <= MAX_SNIPPET
            and self.steps >= 1
            and 1 <= self.pairs <= MAX_PAIRS
            and 1 <= self.grid <= MAX_GRID
        ):
            raise ValueError(
                f"expected window {MIN_WINDOW}-{MAX_WINDOW}, snippet 2-{MAX_SNIPPET}, steps >= 1, pairs 1-{MAX_PAIRS}, "
                f"grid 1-{MAX_GRID}, got {self.window}, {self.snippet}, {self.steps}, {self.pairs}, {self.grid}"
            )
        if not 0 <= self.focus <= 1:
            raise ValueError(f"expected 0 <= focus <= 1, got {self.focus}")
        if not 1 <= len(self.channels) <= 6 or not all(1 <= c <= 512 for c in self.channels):
            raise ValueError(f"expected 1-6 channel widths of 1-512, got {self.channels}")

    def resolved(self) -> PixelConfig:
        """This config with ``auto`` replaced by the backbone this machine gets."""
        if self.backbone != "auto":
            return self
        return PixelConfig(**{**asdict(self), "backbone": "r2plus1d_18" if torch.cuda.is_available() else "small"})


def _tensor(windows: Sequence[np.ndarray]) -> torch.Tensor:
    """``B`` x ``(t, w, w, 3)`` uint8 -> ``(B, 4, t, w, w)`` float32: RGB - 0.5 and 8x the grey difference."""
    x = torch.from_numpy(np.stack(windows)).float().div_(255.0)  # (B, t, w, w, 3)
    grey = x.mean(-1)
    diff = torch.zeros_like(grey)
    diff[:, 1:] = (grey[:, 1:] - grey[:, :-1]) * 8.0
    # Channels last: torch's CPU 3D convolutions run about twice as fast on it (measured 0.39 -> 0.19 s
    # a training step of 16 windows of 8 x 128 x 128).
    return torch.cat([(x - 0.5).permute(0, 4, 1, 2, 3), diff[:, None]], 1).contiguous(
        memory_format=torch.channels_last_3d
    )


class SmallNet(nn.Module):
    """(2+1)D conv net, global soft-max pooling: ``(B, 4, t, w, w)`` -> ``(B,)`` logits (fake > 0)."""

    def __init__(self, channels: tuple[int, ...] = PixelConfig.channels) -> None:
        super().__init__()
        layers, c_in = [], 4
        for c in channels:
            layers += [
                nn.Conv3d(c_in, c, (1, 3, 3), (1, 2, 2), (0, 1, 1), bias=False),
                nn.BatchNorm3d(c),
                nn.ReLU(inplace=True),
                nn.Conv3d(c, c, (3, 1, 1), 1, (1, 0, 0), bias=False),
                nn.BatchNorm3d(c),
                nn.ReLU(inplace=True),
            ]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(soft_max_pool(self.features(x)))[:, 0]


def make_net(config: PixelConfig) -> nn.Module:
    """An untrained net of ``config``'s (resolved) backbone, its weights channels last (as its inputs)."""
    backbone = config.resolved().backbone
    net = SmallNet(config.channels) if backbone == "small" else VideoResNet18(backbone)
    return net.to(memory_format=torch.channels_last_3d)


def _fit(size: int, frames: int, config: PixelConfig) -> tuple[int, int]:
    """The window side and snippet length for a ``(frames, size, size)`` clip."""
    return min(config.window, size), min(config.snippet, frames)


def draw_window(
    rng: np.random.Generator, frames: int, size: int, config: PixelConfig, focus: np.ndarray | None
) -> tuple[int, int, int]:
    """``(first frame, top, left)`` of a training window of a ``(frames, size, size)`` clip.

    Args:
        focus: ``(frames, g, g)`` the fake's patch mask (where the edit is), or None: then,
            and with probability ``1 - config.focus``, the window is placed uniformly.
    """
    side, snippet = _fit(size, frames, config)
    starts = frames - snippet + 1
    if focus is None or float(focus.sum()) <= 0 or rng.random() >= config.focus:
        return int(rng.integers(starts)), int(rng.integers(size - side + 1)), int(rng.integers(size - side + 1))
    focus = np.asarray(focus, np.float64)
    mass = np.convolve(focus.sum((1, 2)), np.ones(snippet), "valid")
    t0 = int(rng.choice(starts, p=mass / mass.sum()) if mass.sum() > 0 else rng.integers(starts))
    cells = focus[t0 : t0 + snippet].sum(0)
    if cells.sum() <= 0:
        cells = focus.sum(0)
    grid = cells.shape[0]
    cell = int(rng.choice(cells.size, p=(cells / cells.sum()).ravel()))
    cy, cx = ((np.array(divmod(cell, grid)) + rng.random(2)) * size / grid).tolist()
    top = int(np.clip(round(cy - side / 2), 0, size - side))
    left = int(np.clip(round(cx - side / 2), 0, size - side))
    return t0, top, left


def _cut(clip: np.ndarray, t0: int, top: int, left: int, side: int, snippet: int, flip: bool) -> np.ndarray:
    window = clip[t0 : t0 + snippet, top : top + side, left : left + side]
    return np.ascontiguousarray(window[:, :, ::-1] if flip else window)


def train_pixel_net(
    clips: Sequence[np.ndarray],
    labels: np.ndarray,
    clip_ids: Sequence[str],
    focus: Sequence[np.ndarray | None],
    config: PixelConfig,
    seed: int,
    init_weights: dict[str, torch.Tensor] | None = None,
) -> tuple[nn.Module, list[float]]:
    """Train on paired windows of ``(T, S, S, 3)`` uint8 crops.

    Args:
        clips: the samples' decoded crops; labels: ``(n,)`` 0 real, 1 fake.
        clip_ids: ``(n,)`` the clip each sample was made from (pairs a fake with its real).
        focus: ``(n,)`` each fake's ``(T, 14, 14)`` patch mask, or None.
        init_weights: a torchvision checkpoint for a ``r3d_18`` / ``r2plus1d_18`` backbone.

    Returns:
        The trained net (on the CPU, in eval mode) and the loss of every step.

    Raises:
        ValueError: no fake with a real of its own clip, crops of different sizes, or
            ``init_weights`` with the ``small`` backbone.
    """
    labels = np.asarray(labels)
    batches = PairedBatches(clip_pairs(clip_ids, labels), config.pairs, seed)
    sizes = {c.shape[1:] for c in clips}
    if len(sizes) != 1 or next(iter(sizes))[0] != next(iter(sizes))[1]:
        raise ValueError(f"expected square crops of one size, got {sorted(sizes)}")
    torch.manual_seed(seed)
    net = make_net(config)
    if init_weights is not None:
        if not isinstance(net, VideoResNet18):
            raise ValueError("expected an r3d_18 or r2plus1d_18 backbone for --init-weights, got the small net")
        net.load_pretrained(init_weights)
    rng = np.random.default_rng(seed)
    size = clips[0].shape[1]
    side = min(config.window, size)

    def cut(pairs: list[tuple[int, int]]) -> torch.Tensor:
        windows = []
        for real, fake in pairs:
            length = min(len(clips[real]), len(clips[fake]))
            t0, top, left = draw_window(rng, length, size, config, focus[fake])
            snippet, flip = min(config.snippet, length), bool(rng.random() < 0.5)
            windows += [_cut(clips[i], t0, top, left, side, snippet, flip) for i in (real, fake)]
        return _tensor(windows)

    losses = train_paired(net, batches, cut, config.steps, config.lr, config.weight_decay, seed)
    return net, losses


def _lattice(size: int, side: int, grid: int) -> list[int]:
    """Offsets of ``grid`` windows of ``side`` spread evenly over ``size`` pixels."""
    return sorted({round(v) for v in np.linspace(0, size - side, grid)})


@torch.no_grad()
def pixel_scores(net: nn.Module, clips: Sequence[np.ndarray], config: PixelConfig) -> np.ndarray:
    """``(n,)`` float64 clip scores (higher is more likely fake): the mean over the clip's
    non-overlapping snippets of the largest logit over the ``grid`` x ``grid`` windows."""
    net.eval()
    dev = next(net.parameters()).device
    scores = []
    for clip in clips:
        side, snippet = _fit(clip.shape[1], len(clip), config)
        offsets = _lattice(clip.shape[1], side, config.grid)
        per_snippet = []
        for t0 in range(0, len(clip) - snippet + 1, snippet):
            windows = [_cut(clip, t0, top, left, side, snippet, False) for top in offsets for left in offsets]
            per_snippet.append(float(net(_tensor(windows).to(dev)).max()))
        scores.append(float(np.mean(per_snippet)))
    return np.array(scores, np.float64)


def config_dict(config: PixelConfig) -> dict:
    """JSON form of ``config`` (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}

"""A small pixel-temporal detector: a (2+1)D convolutional net on face crops and frame differences.

Input per clip: the crop resized to ``size``² (RGB, centred on 0) and the grey-level
difference to the previous frame (amplified x8), ``(4, T, size, size)``. Each block is a
spatial 3x3 convolution (stride 2) followed by a temporal 3-tap one, so appearance and
motion are both seen; global average pooling and one linear unit give a logit.

Training draws balanced batches (as many reals as fakes) of random ``SNIPPET``-frame
windows, flipped left-right at random; a clip's score is the mean logit over its
non-overlapping windows. Everything is seeded (torch, numpy, data order), CPU threads
are fixed, and torch's deterministic algorithms are on, so one seed gives one model on
one machine. It runs on a GPU when one is present and on the CPU otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch
from torch import nn

#: Frames per training window and per scoring window.
SNIPPET = 16


@dataclass(frozen=True)
class PixelConfig:
    """Input size (pixels), training length and optimiser settings of the pixel net."""

    size: int = 64
    epochs: int = 12
    batch: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    channels: tuple[int, ...] = (16, 32, 64, 64)


def pixel_input(frames: np.ndarray, size: int) -> np.ndarray:
    """``(T, S, S, 3)`` uint8 crops -> ``(T, size, size, 3)`` uint8 (area resampling)."""
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])


def _tensor(clips: list[np.ndarray]) -> torch.Tensor:
    """``B`` x ``(T, s, s, 3)`` uint8 -> ``(B, 4, T, s, s)`` float32: RGB - 0.5 and 8x the grey difference."""
    x = torch.from_numpy(np.stack(clips)).float().div_(255.0)  # (B, T, s, s, 3)
    grey = x.mean(-1)
    diff = torch.zeros_like(grey)
    diff[:, 1:] = (grey[:, 1:] - grey[:, :-1]) * 8.0
    return torch.cat([(x - 0.5).permute(0, 4, 1, 2, 3), diff[:, None]], 1)


class PixelNet(nn.Module):
    """(2+1)D conv net: ``(B, 4, T, s, s)`` -> ``(B,)`` logits (fake > 0)."""

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
        return self.head(self.features(x).mean((2, 3, 4)))[:, 0]


def device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _windows(frames: int) -> list[int]:
    """Start frames of the non-overlapping ``SNIPPET`` windows covering a clip (one if shorter)."""
    if frames <= SNIPPET:
        return [0]
    return list(range(0, frames - SNIPPET + 1, SNIPPET))


def train_pixel_net(clips: list[np.ndarray], labels: np.ndarray, config: PixelConfig, seed: int) -> PixelNet:
    """Train on ``(T, s, s, 3)`` uint8 clips (:func:`pixel_input`) with 0/1 ``labels``.

    Raises:
        ValueError: no real or no fake clip, or clips of another size than ``config.size``.
    """
    labels = np.asarray(labels)
    if not (labels == 0).any() or not (labels == 1).any():
        raise ValueError("expected both real (0) and fake (1) clips to train on")
    if any(c.shape[1:] != (config.size, config.size, 3) for c in clips):
        raise ValueError(f"expected clips of (T, {config.size}, {config.size}, 3)")
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    rng = np.random.default_rng(seed)
    dev = device()
    net = PixelNet(config.channels).to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    reals, fakes = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    half = max(1, config.batch // 2)
    steps = max(1, config.epochs * len(labels) // (2 * half))
    net.train()
    for _ in range(steps):
        picked = np.concatenate([rng.choice(reals, half), rng.choice(fakes, half)])
        batch = []
        for i in picked:
            clip = clips[i]
            start = int(rng.integers(0, max(1, len(clip) - SNIPPET + 1)))
            window = clip[start : start + SNIPPET]
            batch.append(window[:, :, ::-1] if rng.random() < 0.5 else window)
        x = _tensor([np.ascontiguousarray(b) for b in batch]).to(dev)
        y = torch.from_numpy(labels[picked].astype(np.float32)).to(dev)
        loss = loss_fn(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval().cpu()


@torch.no_grad()
def pixel_scores(net: PixelNet, clips: list[np.ndarray]) -> np.ndarray:
    """``(n,)`` float64: each clip's mean logit over its windows (higher is more likely fake)."""
    net.eval()
    scores = []
    for clip in clips:
        windows = [clip[s : s + SNIPPET] for s in _windows(len(clip))]
        scores.append(float(net(_tensor(windows)).mean()))
    return np.array(scores, np.float64)


def config_dict(config: PixelConfig) -> dict:
    """JSON form of ``config`` (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}

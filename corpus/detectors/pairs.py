"""Paired batches: every fake trained beside the real clip it was made from (SBI, FakeSTormer).

A pseudo-fake differs from its real clip by the edit alone; trained side by side (same
window, frames and flip), a detector's only way to tell them apart is the edit, not the
person, the lighting or the camera. A batch is ``per_batch`` pairs ``(real, fake)`` of the
same clip; the fakes are visited in a seeded random order, epoch after epoch.
:func:`train_paired` is the training loop both trained detectors share.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from functools import partial

import numpy as np
import torch


def clip_pairs(clips: Sequence[str], labels: Sequence[int]) -> list[tuple[int, int]]:
    """``(real index, fake index)`` for every fake whose clip has a real sample.

    Args:
        clips: ``(n,)`` the clip each sample was made from (``{video_id}_{clip:04d}``).
        labels: ``(n,)`` 0 real, 1 fake.

    Raises:
        ValueError: lengths differ, or a clip has more than one real sample.
    """
    if len(clips) != len(labels):
        raise ValueError(f"expected as many clips as labels, got {len(clips)} and {len(labels)}")
    reals: dict[str, int] = {}
    for i, (clip, label) in enumerate(zip(clips, labels, strict=True)):
        if label == 0:
            if clip in reals:
                raise ValueError(f"expected one real sample per clip, got two of {clip!r}")
            reals[clip] = i
    return [(reals[c], i) for i, (c, y) in enumerate(zip(clips, labels, strict=True)) if y == 1 and c in reals]


class PairedBatches:
    """An endless, seeded stream of batches of ``(real, fake)`` index pairs.

    Args:
        pairs: from :func:`clip_pairs`.
        per_batch: pairs per batch (fewer when there are fewer pairs).
        seed: the order's seed.

    Raises:
        ValueError: no pairs, or ``per_batch < 1``.
    """

    def __init__(self, pairs: Sequence[tuple[int, int]], per_batch: int, seed: int) -> None:
        if not pairs or per_batch < 1:
            raise ValueError(f"expected pairs and per_batch >= 1, got {len(pairs)} pairs, per_batch={per_batch}")
        self.pairs = list(pairs)
        self.per_batch = min(per_batch, len(self.pairs))
        self.rng = np.random.default_rng(seed)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order: list[int] = []
        while True:
            if len(order) < self.per_batch:
                order += self.rng.permutation(len(self.pairs)).tolist()
            batch, order = order[: self.per_batch], order[self.per_batch :]
            yield [self.pairs[i] for i in batch]


def warmup_cosine(step: int, steps: int) -> float:
    """The learning-rate factor at ``step`` of ``steps``: a linear warm-up over the first tenth
    (at least one step), then a cosine down to 0. Any ``steps >= 1`` works (torch's
    ``OneCycleLR`` divides by zero at 10 steps)."""
    warm = max(1, steps // 10)
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))


def train_paired(
    net: torch.nn.Module,
    batches: PairedBatches,
    cut: Callable[[list[tuple[int, int]]], torch.Tensor],
    steps: int,
    lr: float,
    weight_decay: float,
    seed: int,
) -> list[float]:
    """Train ``net`` (``(2B, ...) -> (2B,)`` logits, fake > 0) on ``steps`` paired batches.

    Args:
        batches: the stream of ``(real, fake)`` index pairs.
        cut: a batch of pairs -> the input tensor, real then fake for each pair (``(2B, ...)``),
            both members under the same window and flip.
        steps: optimiser steps (AdamW, learning rate :func:`warmup_cosine` x ``lr``).

    Returns:
        The loss of every step; ``net`` is left on the CPU in eval mode.
    """
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    net.to(dev).train()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, partial(warmup_cosine, steps=steps))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    losses = []
    for _, pairs in zip(range(steps), batches, strict=False):
        targets = torch.tensor([0.0, 1.0] * len(pairs), device=dev)
        loss = loss_fn(net(cut(pairs).to(dev)), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
        losses.append(loss.item())
    net.eval().cpu()
    return losses

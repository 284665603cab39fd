"""Folds split by source video, and AUROC tables: overall, per operator, per strength bin.

A detector evaluated on clips of videos it trained on learns the person, not the fake, so
every fold holds out whole source videos (scikit-learn's ``GroupKFold``, shuffled by the
seed). Per-operator and per-bin AUROCs compare that operator's (or bin's) fakes with
*all* real clips of the held-out folds: the question is always "would this fake be
flagged among real videos".
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

#: Strength bins, IOD of the largest landmark displacement (a fake's ``max_displacement_iod``).
STRENGTH_EDGES = (0.0, 0.02, 0.04, 0.06, 0.08, 0.12, float("inf"))


def video_folds(videos: Sequence[str], folds: int, seed: int) -> np.ndarray:
    """``(n,)`` int fold index of each sample; all samples of a video share a fold.

    Raises:
        ValueError: fewer distinct videos than folds, or ``folds < 2``.
    """
    distinct = sorted(set(videos))
    if folds < 2 or len(distinct) < folds:
        raise ValueError(f"expected 2 <= folds <= distinct source videos ({len(distinct)}), got folds={folds}")
    index = np.empty(len(videos), np.int64)
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(videos)), groups=list(videos))):
        index[test] = k
    return index


def auroc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve, or None when only one class is present."""
    labels = np.asarray(labels)
    if labels.size == 0 or labels.min() == labels.max():
        return None
    return float(roc_auc_score(labels, scores))


def strength_bin(value: float | None) -> str | None:
    """``"0.04-0.06"`` for a fake's largest displacement (IOD); None for a real sample."""
    if value is None:
        return None
    for low, high in itertools.pairwise(STRENGTH_EDGES):
        if low <= value < high:
            return f"{low:g}-{high:g}" if np.isfinite(high) else f">={low:g}"
    return None


def auroc_table(
    labels: np.ndarray, scores: np.ndarray, operators: Sequence, strengths: Sequence, families: Sequence | None = None
) -> dict:
    """AUROC overall, per family, per operator and per strength bin (each: that group's fakes vs all reals).

    Args:
        labels: ``(n,)`` 0 real, 1 fake; scores: ``(n,)`` higher is more likely fake.
        operators: ``(n,)`` operator name of each fake (ignored for reals).
        strengths: ``(n,)`` largest displacement (IOD) of each fake, None where it has none (ignored for reals).
        families: ``(n,)`` family of each fake (ignored for reals); None: no family table.

    Returns:
        ``{"overall": {"auroc", "reals", "fakes"}, "by_family": {family: {...}}, "by_operator": {op: {...}},
        "by_strength": {bin: {...}}}``.
    """
    labels, scores = np.asarray(labels), np.asarray(scores, np.float64)
    real = labels == 0

    def cell(fake: np.ndarray) -> dict:
        keep = real | fake
        return {"auroc": auroc(labels[keep], scores[keep]), "reals": int(real.sum()), "fakes": int(fake.sum())}

    fake = labels == 1
    ops = np.array([o if f else None for o, f in zip(operators, fake, strict=True)], object)
    bins = np.array([strength_bin(s) if f else None for s, f in zip(strengths, fake, strict=True)], object)
    fams = np.array([f_ if f else None for f_, f in zip(families or [None] * len(fake), fake, strict=True)], object)
    return {
        "overall": cell(fake),
        "by_family": {f: cell(fams == f) for f in sorted({f for f in fams if f is not None})},
        "by_operator": {o: cell(ops == o) for o in sorted({o for o in ops if o is not None})},
        "by_strength": {b: cell(bins == b) for b in sorted({b for b in bins if b is not None}, key=_bin_low)},
    }


def _bin_low(name: str) -> float:
    return float(name.lstrip(">=").split("-")[0])

"""``bases-preview``: each basis drawn as arrows on the mean face, one panel per basis."""

from __future__ import annotations

import cv2
import numpy as np

from kinefake.synth.bases.model import REGION_NAMES, LinearBases
from kinefake.synth.bases.quality import coupling, locality
from kinefake.synth.landmarks.regions import IBUG68_REGIONS

PANEL = 240
#: Arrows show a coefficient change of this many training standard deviations ...
STDS = 2.0
#: ... drawn this many times longer than life, so small motions are visible.
EXAGGERATE = 3.0
#: iBUG regions drawn as closed outlines (the others as open polylines).
CLOSED = {"eye_right", "eye_left", "mouth_outer", "mouth_inner"}


def _panel(bases: LinearBases, j: int) -> np.ndarray:
    img = np.full((PANEL, PANEL, 3), 255, np.uint8)
    lo, hi = bases.mean.min(0), bases.mean.max(0)
    scale = 0.7 * PANEL / (hi - lo).max()
    offset = PANEL / 2 - scale * (lo + hi) / 2 + np.array([0, 10])

    def px(p: np.ndarray) -> np.ndarray:
        return np.round(p * scale + offset).astype(np.int32)

    for name, idx in IBUG68_REGIONS.items():
        cv2.polylines(img, [px(bases.mean[list(idx)])], name in CLOSED, (190, 190, 190), 1, cv2.LINE_AA)
    move = bases.components[j] * STDS * bases.coeff_std[j] * EXAGGERATE
    for start, end in zip(px(bases.mean), px(bases.mean + move), strict=True):
        if np.abs(end - start).sum() >= 2:
            cv2.arrowedLine(img, tuple(map(int, start)), tuple(map(int, end)), (30, 60, 220), 1, cv2.LINE_AA, 0, 0.3)
        cv2.circle(img, tuple(map(int, start)), 1, (0, 0, 0), -1)
    shares = coupling(bases)[:, j]
    top = np.argsort(shares)[::-1][:2]
    text = " + ".join(f"{REGION_NAMES[r]} {shares[r]:.2f}" for r in top)
    cv2.putText(img, f"basis {j}  std {bases.coeff_std[j]:.3f} IOD", (6, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.38, 0, 1)
    cv2.putText(img, text, (6, PANEL - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.33, 0, 1)
    return img


def draw_bases(bases: LinearBases, columns: int = 4) -> np.ndarray:
    """A grid of panels, one per basis, ``(H, W, 3)`` uint8 BGR (ready for ``cv2.imwrite``).

    Each panel shows the mean face with arrows for a change of ``STDS`` training standard
    deviations in that coefficient, exaggerated ``EXAGGERATE`` times, and the basis's two
    strongest regions with their energy shares.
    """
    panels = [_panel(bases, j) for j in range(bases.k)]
    panels += [np.full_like(panels[0], 255)] * (-len(panels) % columns)
    rows = [np.concatenate(panels[i : i + columns], 1) for i in range(0, len(panels), columns)]
    grid = np.concatenate(rows, 0)
    title = np.full((28, grid.shape[1], 3), 255, np.uint8)
    cv2.putText(
        title,
        f"{bases.kind} bases, k={bases.k}, mean locality {locality(bases).mean():.2f}; "
        f"arrows: +{STDS:g} std x{EXAGGERATE:g}",
        (6, 19),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.5,
        0,
        1,
    )
    return np.concatenate([title, grid], 0)

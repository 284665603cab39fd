"""Artifact masks from the warp's own displacement field (FakeSTormer-style targets)."""

from __future__ import annotations

import cv2
import numpy as np

from kinefake.schemas.members import PATCH_GRID

#: A pixel displaced by this fraction of the IOD (or more) gets mask value 255.
SATURATION_IOD = 0.01


def pixel_mask(displacement: np.ndarray, iod_px: float) -> np.ndarray:
    """``(H, W)`` displacement in pixels -> ``(H, W)`` uint8 soft mask, 255 at
    ``SATURATION_IOD`` x IOD or more, and 0 exactly where nothing moved (rounded up, so
    any displacement at all is at least 1: outside the mask the fake equals the real)."""
    return np.ceil(255 * np.clip(displacement / (SATURATION_IOD * iod_px), 0, 1)).astype(np.uint8)


def patch_mask(pixel: np.ndarray) -> np.ndarray:
    """``(T, H, W)`` uint8 pixel masks -> ``(T, 14, 14)`` float16 mean over each patch, in [0, 1]."""
    pooled = [
        cv2.resize(m.astype(np.float32) / 255, (PATCH_GRID, PATCH_GRID), interpolation=cv2.INTER_AREA) for m in pixel
    ]
    return np.stack(pooled).astype(np.float16)

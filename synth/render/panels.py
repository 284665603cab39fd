"""Side-by-side comparison frames of a fake: real | fake | mask overlay | |diff| x10, captioned."""

from __future__ import annotations

import cv2
import numpy as np

#: Caption of each panel, left to right.
CAPTIONS = ("real", "fake", "mask", "|diff| x10")
#: Gain on |fake - real| in the last panel: a 1-grey-level change shows as 10.
DIFF_GAIN = 10
#: Colour of the mask laid over the fake, RGB.
MASK_RGB = (255, 48, 48)
#: Opacity of the mask at its full value (255).
MASK_ALPHA = 0.6


def comparison_panels(real: np.ndarray, fake: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(T, S, 4 S, 3)`` uint8 RGB: real, fake, the mask laid over the fake in red, and
    ``|fake - real|`` times :data:`DIFF_GAIN`, each panel captioned with :data:`CAPTIONS`.

    Args:
        real: ``(T, S, S, 3)`` uint8 RGB, the real clip.
        fake: ``(T, S, S, 3)`` uint8 RGB, the fake of the same clip.
        mask: ``(T, S, S)`` uint8, 0-255, the fake's pixel mask.
    """
    if real.shape != fake.shape or mask.shape != real.shape[:3]:
        raise ValueError(f"shapes differ: real {real.shape}, fake {fake.shape}, mask {mask.shape}")
    alpha = (mask.astype(np.float32) * (MASK_ALPHA / 255.0))[..., None]
    overlay = fake * (1 - alpha) + np.asarray(MASK_RGB, np.float32) * alpha
    diff = np.abs(fake.astype(np.int16) - real) * DIFF_GAIN
    panels = [real, fake, np.rint(overlay).astype(np.uint8), np.clip(diff, 0, 255).astype(np.uint8)]
    out = np.concatenate(panels, axis=2)
    side = real.shape[2]
    scale = max(side / 256, 0.35)
    for index, caption in enumerate(CAPTIONS):
        origin = (index * side + max(2, side // 40), max(10, side // 14))
        for frame in out:
            # Dark outline under light text: readable on any content.
            cv2.putText(frame, caption, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(frame, caption, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out

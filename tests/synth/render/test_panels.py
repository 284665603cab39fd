"""Comparison panels: real | fake | mask overlay | |diff| x10."""

from __future__ import annotations

import numpy as np
import pytest

from kinefake.synth.render.panels import CAPTIONS, DIFF_GAIN, comparison_panels


def test_panels_show_each_view_and_only_the_captions_are_drawn_on_them():
    rng = np.random.default_rng(0)
    real = rng.integers(0, 200, (3, 128, 128, 3), dtype=np.uint8)
    fake = real.copy()
    fake[:, 64:80, 64:80] += 5
    mask = np.zeros((3, 128, 128), np.uint8)
    mask[:, 60:84, 60:84] = 255
    out = comparison_panels(real, fake, mask)
    assert out.shape == (3, 128, 4 * 128, 3) and out.dtype == np.uint8
    body = slice(24, None)  # below the captions
    panels = [out[:, body, i * 128 : (i + 1) * 128] for i in range(len(CAPTIONS))]
    np.testing.assert_array_equal(panels[0], real[:, body])
    np.testing.assert_array_equal(panels[1], fake[:, body])
    diff = panels[3].astype(int)
    assert (diff[:, 64 - 24 : 80 - 24, 64:80] == 5 * DIFF_GAIN).all()
    assert diff.sum() == 5 * DIFF_GAIN * 3 * 16 * 16 * 3  # nothing but the edit
    overlay = panels[2].astype(int)
    untouched = np.ones((128 - 24, 128), bool)
    untouched[60 - 24 : 84 - 24, 60:84] = False
    np.testing.assert_array_equal(overlay[:, untouched], fake[:, body][:, untouched])
    red = overlay[:, 60 - 24 : 84 - 24, 60:84]
    assert (red[..., 0] > red[..., 1] + 40).all()  # the masked square is tinted red
    assert (out[:, :24] != np.concatenate([real, fake, fake, 0 * real], axis=2)[:, :24]).any()  # captions drawn


def test_panels_refuse_mismatched_shapes():
    real = np.zeros((2, 64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match="shapes differ"):
        comparison_panels(real, real[:, :32], np.zeros((2, 64, 64), np.uint8))

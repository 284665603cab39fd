"""The outside-mask check on real frames encoded as a corpus encodes them."""

from __future__ import annotations

import cv2
import numpy as np

from kinefake.corpus.reader import decode_mp4
from kinefake.corpus.render_checks import check_outside_mask
from kinefake.synth.video import encode_mp4, probe, read_frames
from tests.conftest import face


def _encoded_pair(path):
    """``(T, 256, 256, 3)`` frames of a real clip encoded twice (crf 18, as members are) and a mask."""
    info = probe(path)
    frames = np.stack([cv2.resize(f, (256, 256), interpolation=cv2.INTER_AREA) for f in read_frames(path, 0, 16)])
    encoded, _ = decode_mp4(encode_mp4(frames, info.fps))
    pixel = np.zeros(frames.shape[:3], np.uint8)
    pixel[:, 96:160, 96:160] = 255
    return frames, encoded, pixel


def test_coding_noise_passes_and_a_repainted_corner_fails(faces):
    frames, encoded, pixel = _encoded_pair(face(faces, "first-order"))
    clean = check_outside_mask(frames, frames, pixel)
    assert (clean.outside, clean.worst_frame, clean.worst_block, clean.unmoved_changed) == (0.0, 0.0, 0.0, 0)
    noisy = check_outside_mask(frames, encoded, pixel)
    assert noisy.passes(3.0, 12.0) and 0 < noisy.worst_frame < 3.0 and noisy.worst_block < 12.0

    corner = encoded.copy()
    corner[:, :40, :40] = np.clip(corner[:, :40, :40].astype(np.int16) + 30, 0, 255)
    repainted = check_outside_mask(frames, corner, pixel)
    # The whole-frame mean dilutes a 40x40 corner to about one grey level; the window does not.
    assert repainted.worst_frame < 3.0
    assert repainted.worst_block > 25.0 and not repainted.passes(3.0, 12.0)

"""The scaling bench's mirrored corpus: other videos of the same faces, which ``generate`` keeps."""

from __future__ import annotations

import numpy as np

from bench.scaling import mirrored
from kinefake.synth.video import probe, read_frames
from tests.conftest import face


def test_mirrored_copy_is_the_clip_flipped_left_to_right(faces, tmp_path):
    clip = face(faces, "spectre__00002")  # 48 frames
    (copy,) = mirrored([clip], tmp_path)
    original, flipped = probe(str(clip)), probe(str(copy))
    assert (flipped.frame_count, flipped.fps, flipped.width, flipped.height) == (
        original.frame_count,
        original.fps,
        original.width,
        original.height,
    )
    a = read_frames(str(clip), 0, original.frame_count).astype(np.int16)
    b = read_frames(str(copy), 0, original.frame_count).astype(np.int16)
    flip_error = np.abs(a[:, :, ::-1] - b).mean()
    assert flip_error < 3, flip_error  # the frames flipped, through x264 at CRF 18
    assert np.abs(a - b).mean() > 3 * flip_error  # not the frames as they were
    assert copy.read_bytes() != clip.read_bytes()

"""The kinematic detector's inputs: mirrored landmarks and per-frame coupling residuals."""

from __future__ import annotations

import numpy as np

from kinefake.corpus.detectors.kinematic import IBUG68_MIRROR, CouplingModel, centred_shapes, frame_features, mirrored
from kinefake.synth.bases.model import REGION_NAMES
from kinefake.synth.bases.normalize import canonical_shape, normalize
from kinefake.synth.landmarks.regions import IBUG68_REGIONS


def test_the_mirror_swaps_left_and_right_and_undoes_itself():
    assert sorted(IBUG68_MIRROR.tolist()) == list(range(68))
    assert (IBUG68_MIRROR[IBUG68_MIRROR] == np.arange(68)).all()
    face = np.repeat(canonical_shape()[None], 3, 0)
    np.testing.assert_array_equal(mirrored(mirrored(face)), face)
    for right, left in (("eye_right", "eye_left"), ("brow_right", "brow_left"), ("jaw", "jaw"), ("nose", "nose")):
        assert set(IBUG68_MIRROR[list(IBUG68_REGIONS[right])]) == set(IBUG68_REGIONS[left])
    # The canonical face is nearly symmetric: its mirror image, pose-normalised, is nearly itself
    # (median 0.01 IOD; up to 0.14 on jaw points, whose mesh stand-ins are not mirror images).
    assert np.median(np.abs(normalize(mirrored(face))[0] - normalize(face)[0])) < 0.02
    flipped = mirrored(face)[0]
    assert flipped[36, 0] == -face[0, 45, 0]  # the subject's right eye corner <- the left one's, x negated


def test_frame_features_follow_each_region_over_time():
    rng = np.random.default_rng(0)
    clips = [centred_shapes(canonical_shape()[None] + rng.normal(0, 0.01, (20, 68, 2))) for _ in range(4)]
    model = CouplingModel.fit(clips)
    features = frame_features(clips[0], model)
    assert features.shape == (3 * len(REGION_NAMES), 20) and features.dtype == np.float32
    # A model that predicts nothing leaves each region's whole motion as its residual.
    blind = frame_features(clips[0], CouplingModel(np.zeros_like(model.weights), 1.0))
    np.testing.assert_allclose(blind[0::3], blind[1::3], rtol=1e-5)
    assert (features[0::3] < blind[0::3] + 1e-6).mean() > 0.5  # coupling explains part of the motion
    assert (blind[2::3, 0] == np.float32(np.log(1e-8))).all()  # no change before the first frame

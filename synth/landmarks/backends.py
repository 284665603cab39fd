"""Landmark backends: one interface, two offline models that ship inside pip wheels.

- :class:`MediaPipeBackend` (default): BlazeFace full-range detector + face mesh with iris
  refinement, 478 points (``mesh478`` layout), models bundled in ``mediapipe==0.10.14``.
- :class:`DlibBackend`: dlib's HOG detector + the 68-point predictor shipped in
  ``face-recognition-models`` (``ibug68`` layout).

A backend detects faces on a whole frame (:meth:`detect`) and fits landmarks inside a box
(:meth:`fit`); tracking, primary-face choice and gates are the tracker's job
(:mod:`kinefake.synth.landmarks.track`). Backends hold model state: build one per worker and call
:meth:`reset` between clips.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import sys
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from kinefake.synth.landmarks.regions import IBUG68, MESH478

#: Faces are detected on a copy whose longer side is at most this many pixels.
DETECT_MAX_SIDE = 640

#: MediaPipe backends whose graphs are still open; closed at exit, before the interpreter's teardown.
_OPEN_GRAPHS: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_open_graphs() -> None:
    """Close every MediaPipe graph nobody closed (a DoFn whose ``teardown`` a runner skipped, a
    backend left to the garbage collector): left to the interpreter's exit, their C++ threads
    race its teardown and abort a process that has written everything."""
    for backend in list(_OPEN_GRAPHS):
        backend.close()


@dataclass(frozen=True)
class Detection:
    """A detected face: ``box`` ``(4,)`` float32 ``x0, y0, x1, y1`` in frame pixels; ``score`` in [0, 1]."""

    box: np.ndarray
    score: float


class LandmarkBackend(Protocol):
    name: str
    layout: str
    version: str
    #: True when :meth:`fit` returns None on its own once the face is gone; False when it
    #: always returns points, so the tracker needs the detector to confirm the subject.
    fit_checks_presence: bool

    def reset(self) -> None:
        """Forget tracking state (call at the start of every clip)."""

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """All faces in an ``(H, W, 3)`` uint8 RGB frame."""

    def fit(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """Landmarks ``(N, 2)`` float32 (x, y pixels) of the face in ``box``, or None if no face there."""

    def close(self) -> None:
        """Release the models (MediaPipe's graphs); the backend is unusable afterwards."""


def _downscale(frame: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    scale = min(1.0, max_side / max(frame.shape[:2]))
    if scale == 1.0:
        return frame, 1.0
    return cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale


def square_crop_transform(box: np.ndarray, margin: float, size: int) -> np.ndarray:
    """``(2, 3)`` affine taking frame pixels to a ``size``² crop of the square around ``box``.

    The square is centred on the box, its side ``margin`` times the box's longer side.
    """
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = margin * max(box[2] - box[0], box[3] - box[1], 1.0)
    s = size / side
    return np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], np.float64)


_STDERR_REDIRECT = threading.RLock()


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to ``/dev/null`` for the block.

    MediaPipe's graphs log from C++ (absl, glog, TFLite: ``Created TensorFlow Lite XNNPACK
    delegate``, ``inference_feedback_manager ... Disabling support for feedback tensors``)
    straight to the process's stderr, which no Python logging setting reaches; a worker
    would print two such lines per clip. Errors still surface as Python exceptions.

    One thread at a time holds the block (graphs started by two worker threads at once
    would otherwise each save the other's ``/dev/null`` and leave stderr on it for good).
    """
    with _STDERR_REDIRECT:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


#: One landmark of a serialised ``NormalizedLandmarkList`` as MediaPipe's face mesh writes it:
#: field 1 (15 bytes) holding x, y, z, each a tagged little-endian float32.
_LANDMARK_RECORD = np.dtype(
    [("head", "u1", 2), ("x_tag", "u1"), ("x", "<f4"), ("y_tag", "u1"), ("y", "<f4"), ("z_tag", "u1"), ("z", "<f4")]
)
_LANDMARK_TAGS = (b"\x0a\x0f", 0x0D, 0x15, 0x1D)


def landmark_xy(landmarks) -> np.ndarray:
    """``(N, 2)`` float64 x, y of a MediaPipe ``NormalizedLandmarkList``, read from its
    serialised bytes in one pass (10x faster than 478 protobuf attribute reads, 0.2 ms a
    frame); the same float32 values. A list in any other layout (a field added, one left
    out) is read field by field."""
    data = landmarks.SerializeToString()
    n = len(landmarks.landmark)
    if len(data) == n * _LANDMARK_RECORD.itemsize:
        records = np.frombuffer(data, _LANDMARK_RECORD)
        head, x_tag, y_tag, z_tag = _LANDMARK_TAGS
        if (
            (records["head"] == np.frombuffer(head, np.uint8)).all()
            and (records["x_tag"] == x_tag).all()
            and (records["y_tag"] == y_tag).all()
            and (records["z_tag"] == z_tag).all()
        ):
            return np.stack([records["x"], records["y"]], 1).astype(np.float64)
    return np.array([(p.x, p.y) for p in landmarks.landmark], np.float64)


class MediaPipeBackend:
    """MediaPipe face mesh (478 points with iris refinement) on a square crop around the face.

    Fitting on a fixed-size crop instead of the whole frame makes the cost independent of
    the video's resolution and keeps the mesh on the tracked subject when other faces are
    in view. The mesh runs in tracking mode (its own ROI from the previous frame's points).
    """

    name = "mediapipe"
    layout = MESH478
    fit_checks_presence = True  # the mesh model scores face presence and drops lost faces

    def __init__(self, crop_size: int = 256, crop_margin: float = 1.7) -> None:
        import mediapipe as mp

        self.version = f"mediapipe {mp.__version__} face_mesh refine_landmarks"
        self.crop_size = crop_size
        self.crop_margin = crop_margin
        self._blank = np.zeros((crop_size, crop_size, 3), np.uint8)
        with native_stderr_silenced():
            self._detector = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=False, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.5
            )
            self._settle(self._detector, self._mesh)
        _OPEN_GRAPHS.add(self)

    @staticmethod
    def _settle(*solutions) -> None:
        """Wait for the graphs' threads to finish starting (and logging) while stderr is silenced."""
        for solution in solutions:
            solution._graph.wait_until_idle()  # mediapipe 0.10.14's SolutionBase holds its CalculatorGraph here

    def reset(self) -> None:
        """Forget the face tracked so far. The mesh's only state between frames is the region
        its last landmarks give the next frame; on a blank frame it finds no face and keeps
        none, as a restarted graph would (the same landmarks, tested), for one detector run
        instead of a restart (models reloaded: 9 ms, and slower first frames after it: 1.7 ms
        a frame over 24 shared clips)."""
        if self._mesh.process(self._blank).multi_face_landmarks:  # never seen: restart to be sure
            with native_stderr_silenced():  # a restarted graph logs its TFLite set-up again
                self._mesh.reset()
                self._settle(self._mesh)

    def close(self) -> None:
        """Close both MediaPipe graphs now. Left to the interpreter's exit, their C++
        teardown races Python's and aborts the process now and then (``terminate called
        without an active exception``, exit 134) after a job has written everything.
        Idempotent; a backend nobody closes is closed at exit."""
        if self in _OPEN_GRAPHS:
            _OPEN_GRAPHS.discard(self)
            self._detector.close()
            self._mesh.close()

    def __enter__(self) -> MediaPipeBackend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def detect(self, frame: np.ndarray) -> list[Detection]:
        small, _ = _downscale(frame, DETECT_MAX_SIDE)  # boxes come back relative to the image
        found = self._detector.process(small).detections or []
        h, w = frame.shape[:2]
        out = []
        for d in found:
            b = d.location_data.relative_bounding_box
            box = np.array([b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h], np.float32)
            out.append(Detection(box=box, score=float(d.score[0])))
        return out

    def fit(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        m = square_crop_transform(box, self.crop_margin, self.crop_size)
        crop = cv2.warpAffine(frame, m, (self.crop_size, self.crop_size), flags=cv2.INTER_LINEAR)
        found = self._mesh.process(crop).multi_face_landmarks
        if not found:
            return None
        pts = landmark_xy(found[0]) * self.crop_size
        # Back to frame pixels: invert the scale-and-shift crop transform.
        pts = (pts - m[:, 2]) / m[0, 0]
        return pts.astype(np.float32)


def dlib_predictor_path() -> str:
    """Path of dlib's 68-point predictor inside face-recognition-models, found without importing it.

    The package's ``__init__`` imports ``pkg_resources``, which setuptools 81 removed.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("face-recognition-models is not installed (pip install face-recognition-models)")
    path = os.path.join(spec.submodule_search_locations[0], "models", "shape_predictor_68_face_landmarks.dat")
    if not os.path.exists(path):
        raise FileNotFoundError(f"dlib's 68-point predictor is missing at {path}")
    return path


#: Box side (px) that dlib's shape predictor fits at; smaller boxes are resampled up to it.
DLIB_FIT_SIDE = 400


class DlibBackend:
    """dlib HOG face detector + 68-point shape predictor (ensemble of regression trees)."""

    name = "dlib"
    layout = IBUG68
    fit_checks_presence = False

    def __init__(self, upsample: int = 1) -> None:
        import dlib

        self.version = f"dlib {dlib.__version__} hog + shape_predictor_68_face_landmarks"
        self.upsample = upsample
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(dlib_predictor_path())
        self._rect = dlib.rectangle

    def reset(self) -> None:
        """dlib's models are stateless between frames."""

    def close(self) -> None:
        """Nothing to release: dlib's models are plain objects."""

    def __enter__(self) -> DlibBackend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def detect(self, frame: np.ndarray) -> list[Detection]:
        small, scale = _downscale(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), DETECT_MAX_SIDE)
        rects, scores, _ = self._detector.run(small, self.upsample, 0.0)
        out = []
        for r, s in zip(rects, scores, strict=True):
            box = np.array([r.left(), r.top(), r.right(), r.bottom()], np.float32) / scale
            # HOG scores are SVM margins (about 0..3); squash to (0, 1) with 0 -> 0.5.
            out.append(Detection(box=box, score=float(1 / (1 + np.exp(-2 * s)))))
        return out

    def fit(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """Fit the 68 points in ``box``; a box smaller than ``DLIB_FIT_SIDE`` is resampled up first.

        dlib returns whole pixels (its parts are integer points), which on a 100 px face is
        1% IOD of rounding: a 2.4 px edit came back as 2 or 3 px, or 1 px against the
        edit. Fitting on the box region bilinearly resampled to ``DLIB_FIT_SIDE`` px
        brings the rounding down to ``side / DLIB_FIT_SIDE`` px.
        """
        x0, y0, x1, y1 = (float(v) for v in box)
        side = max(x1 - x0, y1 - y0)
        if side < 8:
            return None
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        scale = DLIB_FIT_SIDE / side
        if scale <= 1:
            shape = self._predictor(gray, self._rect(round(x0), round(y0), round(x1), round(y1)))
            return np.array([(p.x, p.y) for p in shape.parts()], np.float32)
        # The box plus a quarter of its side around it, so the trees' pixel probes land on the image.
        ox, oy = x0 - side / 4, y0 - side / 4
        width, height = round((x1 - x0 + side / 2) * scale), round((y1 - y0 + side / 2) * scale)
        to_patch = np.array([[scale, 0, -ox * scale], [0, scale, -oy * scale]])
        patch = cv2.warpAffine(gray, to_patch, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        rect = self._rect(
            *(round(v) for v in ((x0 - ox) * scale, (y0 - oy) * scale, (x1 - ox) * scale, (y1 - oy) * scale))
        )
        shape = self._predictor(patch, rect)
        parts = np.array([(p.x, p.y) for p in shape.parts()], np.float64)
        return (parts / scale + (ox, oy)).astype(np.float32)


BACKENDS = {"mediapipe": MediaPipeBackend, "dlib": DlibBackend}


def make_backend(name: str) -> LandmarkBackend:
    """A fresh backend by name (``mediapipe`` or ``dlib``).

    Raises:
        ValueError: unknown name.
    """
    if name not in BACKENDS:
        raise ValueError(f"expected backend in {sorted(BACKENDS)}, got {name!r}")
    return BACKENDS[name]()

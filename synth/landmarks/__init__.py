"""Stage 2: per-frame facial landmarks of a clip's subject, with pose and quality gates."""

from schemas.landmarks import ClipLandmarks
from synth.landmarks.backends import BACKENDS, DlibBackend, LandmarkBackend, MediaPipeBackend, make_backend
from synth.landmarks.extract import GateConfig, extract_landmarks
from synth.landmarks.track import TrackConfig

__all__ = [
    "BACKENDS",
    "ClipLandmarks",
    "DlibBackend",
    "GateConfig",
    "LandmarkBackend",
    "MediaPipeBackend",
    "TrackConfig",
    "extract_landmarks",
    "make_backend",
]

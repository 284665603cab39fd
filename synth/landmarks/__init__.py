"""Stage 2: per-frame facial landmarks of a clip's subject, with pose and quality gates."""

from kinefake.schemas.landmarks import ClipLandmarks
from kinefake.synth.landmarks.backends import BACKENDS, DlibBackend, LandmarkBackend, MediaPipeBackend, make_backend
from kinefake.synth.landmarks.extract import GateConfig, extract_landmarks
from kinefake.synth.landmarks.track import TrackConfig

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

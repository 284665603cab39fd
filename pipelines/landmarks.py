"""Landmarks stage: ClipRecord -> decoded frames -> ClipLandmarks, or a reject naming the gate."""

from __future__ import annotations

import apache_beam as beam
import cv2
from apache_beam.metrics import Metrics

from pipelines.fs import open_source
from pipelines.rejects import REJECTS, reject_record
from schemas import ClipRecord, landmarks_table
from synth.errors import Rejected
from synth.landmarks import GateConfig, TrackConfig, extract_landmarks, make_backend
from synth.video import DEFAULT_TIMEOUT_S, read_frames

STAGE = "landmarks"


def decode_clip(clip: ClipRecord, timeout_s: float):
    """The clip's frames ``(T, H, W, 3)`` uint8 RGB, decoded from its video."""
    with open_source(clip.uri) as src:
        return read_frames(src, clip.start_frame, clip.num_frames, clip.start_pts, timeout_s=timeout_s)


class ExtractLandmarksFn(beam.DoFn):
    """ClipRecord -> (ClipRecord, ClipLandmarks); the landmark model loads once per worker."""

    def __init__(self, backend: str, track: TrackConfig, gates: GateConfig, timeout_s: float) -> None:
        self.backend_name = backend
        self.track = track
        self.gates = gates
        self.timeout_s = timeout_s
        self.frames = Metrics.counter(STAGE, "frames")
        self.rejected = Metrics.counter(STAGE, "rejected_clips")

    def setup(self) -> None:
        cv2.setNumThreads(1)
        self.backend = make_backend(self.backend_name)

    def process(self, clip: ClipRecord):
        try:
            frames = decode_clip(clip, self.timeout_s)
            lm = extract_landmarks(frames, self.backend, float(clip.fps_num / clip.fps_den), self.track, self.gates)
        except Rejected as exc:
            self.rejected.inc()
            yield beam.pvalue.TaggedOutput(REJECTS, reject_record(STAGE, clip.uri, clip.video_id, exc, clip.clip))
            return
        self.frames.inc(clip.num_frames)
        yield clip, lm


def to_table(item):
    clip, lm = item
    return landmarks_table(clip.video_id, clip.clip, clip.start_frame, clip.width, clip.height, lm)


class ExtractLandmarks(beam.PTransform):
    """PCollection[ClipRecord] -> {"landmarks": (ClipRecord, ClipLandmarks), "rejects": RejectRecord}."""

    def __init__(
        self,
        backend: str = "mediapipe",
        track: TrackConfig | None = None,
        gates: GateConfig | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        super().__init__()
        self.fn = ExtractLandmarksFn(backend, track or TrackConfig(), gates or GateConfig(), timeout_s)

    def expand(self, clips):
        out = clips | "ExtractLandmarksFn" >> beam.ParDo(self.fn).with_outputs(REJECTS, main="landmarks")
        return {"landmarks": out.landmarks, "rejects": out[REJECTS]}

"""The landmarks stage as a Beam pipeline: tracked clips out, gate failures to rejects."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.landmarks import ExtractLandmarks
from schemas import InputRecord
from synth.landmarks import GateConfig
from synth.shard import plan_clips, video_id_for
from synth.video import probe
from tests.conftest import face


def clips_of(path, frames=16):
    ref = InputRecord(str(path), video_id_for(str(path)))
    return plan_clips(probe(path), ref, clip_frames=frames, max_clips_per_video=1)


def test_extract_landmarks_routes_gate_failures(faces):
    good = face(faces, "first-order")
    crowd = face(faces, "facenet-pytorch")
    small = face(faces, "styletalk")  # IOD ~41 px, against ~62 for first-order
    clips = clips_of(good) + clips_of(crowd) + clips_of(small)
    with TestPipeline() as p:
        out = p | beam.Create(clips) | ExtractLandmarks(gates=GateConfig(min_iod_px=50))
        assert_that(
            out["landmarks"] | beam.Map(lambda item: (item[0].uri, item[1].points.shape, item[1].backend)),
            equal_to([(str(good), (16, 478, 2), "mediapipe")]),
            label="Tracked",
        )
        assert_that(
            out["rejects"] | beam.Map(lambda r: (r.uri, r.clip, r.stage, r.reason, r.threshold)),
            equal_to(
                [
                    (str(crowd), 0, "landmarks", "competing faces", 0.35),
                    (str(small), 0, "landmarks", "face too small", 50.0),
                ]
            ),
            label="Rejected",
        )

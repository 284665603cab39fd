"""The shard stage as a Beam pipeline: good inputs become clips, bad ones become rejects."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.shard import ShardVideos
from synth.shard import video_id_for
from tests.conftest import face
from tests.media import copy_to_odd_path, make_bad_inputs


def test_shard_stage_accounts_for_every_input(faces, tmp_path):
    bad = make_bad_inputs(tmp_path / "bad", face(faces, "LivePortrait__d3"), face(faces, "LivePortrait__s18"))
    good = face(faces, "spectre__00002")  # 48 frames: one clip of 32, or 3 of 16
    odd = copy_to_odd_path(face(faces, "first-order"), tmp_path)  # 150 frames
    missing = tmp_path / "gone.mp4"
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"uri,split\n{good},train\n{missing},train\n{odd},test\n")
    specs = [str(tmp_path / "bad"), str(manifest), str(tmp_path / "nothing-*.mp4"), str(good)]

    with TestPipeline() as p:
        out = p | beam.Create(specs) | ShardVideos(clip_frames=32, max_clips_per_video=3)
        assert_that(
            out["clips"] | "ClipKeys" >> beam.Map(lambda c: (c.uri, c.clip, c.start_frame, c.split)),
            equal_to(
                [
                    (str(good), 0, 0, "train"),
                    (str(odd), 0, 0, "test"),
                    (str(odd), 2, 64, "test"),
                    (str(odd), 3, 96, "test"),
                ]
            ),
            label="Clips",
        )
        expected_rejects = [(str(path), "shard", reason) for path, reason in bad.values()]
        expected_rejects += [
            (str(missing), "shard", "file not found"),
            (str(tmp_path / "nothing-*.mp4"), "shard", "no input matched"),
            (str(good), "shard", "duplicate input"),
        ]
        assert_that(
            out["rejects"] | "RejectKeys" >> beam.Map(lambda r: (r.uri, r.stage, r.reason)),
            equal_to(expected_rejects),
            label="Rejects",
        )
        assert_that(
            out["rejects"]
            | "Details" >> beam.Map(lambda r: bool(r.detail) and r.video_id in (None, video_id_for(r.uri))),
            equal_to([True] * len(expected_rejects)),
            label="EveryRejectExplained",
        )

"""The shard stage as a Beam pipeline: good inputs become clips, bad ones become rejects."""

from __future__ import annotations

import os
import shutil

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from kinefake.pipelines.shard_videos import ShardVideos
from kinefake.schemas.inputs import VIDEO_ID_PATTERN
from kinefake.synth.sharding import ClipPlan, local_input
from tests.conftest import face, local_pipeline
from tests.media import copy_to_odd_path, make_bad_inputs


def test_shard_stage_accounts_for_every_input(faces, tmp_path):
    bad = make_bad_inputs(tmp_path / "bad", face(faces, "LivePortrait__d3"), face(faces, "LivePortrait__s18"))
    (tmp_path / "bad" / "folder.mp4").mkdir()  # a folder input must not skip these silently
    (tmp_path / "bad" / "dangling.mp4").symlink_to(tmp_path / "nowhere.mp4")
    os.mkfifo(tmp_path / "bad" / "pipe.mp4")  # would block a reader forever
    good = face(faces, "spectre__00002")  # 48 frames: one clip of 32, or 3 of 16
    odd = copy_to_odd_path(face(faces, "first-order"), tmp_path)  # 150 frames
    other, d3 = face(faces, "LivePortrait__s18"), face(faces, "LivePortrait__d3")
    renamed = tmp_path / "copy of s18.mp4"
    shutil.copyfile(other, renamed)
    missing = tmp_path / "gone.mp4"
    manifest = tmp_path / "manifest.csv"
    roundabout = f"{good.parent}/../{good.parent.name}/{good.name}"  # the same file named another way
    manifest.write_text(
        "uri,split,video_id\n"
        f"{good},train,\n{missing},train,\n{odd},test,\n{roundabout},test,\n"
        f"{tmp_path / 'bad'},train,\nhttps://example.com/a.mp4,,\nfile://{good},,\n"
        f"{other},train,../../escape\n{other},train,john.doe\n{other},test,s18\n{renamed},test,\n"
        f"{d3},test,s18\n"
    )
    specs = [str(tmp_path / "bad"), str(manifest), str(tmp_path / "nothing-*.mp4"), str(good)]

    with local_pipeline() as p:
        out = p | beam.Create(specs) | ShardVideos(ClipPlan(32, max_clips=3))
        assert_that(
            out["clips"] | "ClipKeys" >> beam.Map(lambda c: (c.uri, c.video_id, c.clip, c.start_frame, c.split)),
            equal_to(
                [
                    (str(good), local_input(good).video_id, 0, 0, "train"),
                    (str(odd), local_input(odd).video_id, 0, 0, "test"),
                    (str(odd), local_input(odd).video_id, 2, 64, "test"),
                    (str(odd), local_input(odd).video_id, 3, 96, "test"),
                    (str(renamed), local_input(other).video_id, 0, 0, "test"),
                    (str(renamed), local_input(other).video_id, 4, 128, "test"),
                    (str(renamed), local_input(other).video_id, 7, 224, "test"),
                    (str(d3), "s18", 0, 0, "test"),
                    (str(d3), "s18", 5, 160, "test"),
                    (str(d3), "s18", 10, 320, "test"),
                ]
            ),
            label="Clips",
        )
        expected_rejects = [(str(path), "shard", reason) for path, reason in bad.values()]
        expected_rejects += [
            (str(tmp_path / "bad" / "folder.mp4"), "shard", "not a file"),
            (str(tmp_path / "bad" / "dangling.mp4"), "shard", "file not found"),
            (str(tmp_path / "bad" / "pipe.mp4"), "shard", "not a file"),
            (str(missing), "shard", "file not found"),
            (str(tmp_path / "nothing-*.mp4"), "shard", "no input matched"),
            (str(good), "shard", "duplicate input"),
            (roundabout, "shard", "duplicate input"),
            (str(tmp_path / "bad"), "shard", "not a file"),
            ("https://example.com/a.mp4", "shard", "unsupported scheme"),
            (f"file://{good}", "shard", "unsupported scheme"),
            (str(other), "shard", "bad video_id"),
            (str(other), "shard", "bad video_id"),
            (str(other), "shard", "duplicate video_id"),  # d3 was given the same id and sorts first
        ]
        assert_that(
            out["rejects"] | "RejectKeys" >> beam.Map(lambda r: (r.uri, r.stage, r.reason)),
            equal_to(expected_rejects),
            label="Rejects",
        )
        assert_that(
            out["rejects"]
            | "Details"
            >> beam.Map(
                lambda r: bool(r.detail) and (r.video_id is None or bool(VIDEO_ID_PATTERN.fullmatch(r.video_id)))
            ),
            equal_to([True] * len(expected_rejects)),
            label="EveryRejectExplained",
        )


def test_a_remote_folder_is_found_with_or_without_its_trailing_slash():
    from kinefake.pipelines.shard_videos import ExpandInputSpecs
    from tests.object_store import OBJECTS

    OBJECTS.clear()
    for name in ("a.mp4", "b.mov", "notes.txt", "deeper/c.mp4"):
        OBJECTS[f"kfmem://bucket/videos/{name}"] = b"x"
    OBJECTS["kfmem://bucket/videos.mp4"] = b"x"  # a sibling object whose name starts like the folder's
    expand = ExpandInputSpecs()

    def found(spec):
        return [record.uri for record in expand.process(spec)]  # InputRecords only: a reject is tagged

    folder = ["kfmem://bucket/videos/a.mp4", "kfmem://bucket/videos/b.mov"]
    assert found("kfmem://bucket/videos") == found("kfmem://bucket/videos/") == folder
    assert found("kfmem://bucket/videos.mp4") == ["kfmem://bucket/videos.mp4"]
    assert found("kfmem://bucket/videos/a.mp4") == ["kfmem://bucket/videos/a.mp4"]
    (nothing,) = [r.value for r in expand.process("kfmem://bucket/vid")]
    assert (nothing.uri, nothing.reason) == ("kfmem://bucket/vid", "no input matched")
    OBJECTS.clear()

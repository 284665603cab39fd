"""Stages 2-6 as a Beam pipeline: shards written and read back, gate failures to rejects."""

from __future__ import annotations

import dataclasses
import json

import apache_beam as beam
import numpy as np
import webdataset as wds
from apache_beam.testing.util import assert_that, equal_to

from kinefake.pipelines.synthesize import Synthesize, SynthesizeGroupFn
from kinefake.schemas.layout import shard_name
from kinefake.synth.clip_samples import SampleConfig
from kinefake.synth.donor_group import SynthConfig
from kinefake.synth.landmarks import GateConfig
from kinefake.synth.perturb.policy import PerturbPolicy
from kinefake.synth.sharding import ClipPlan, local_input
from kinefake.synth.video import probe
from tests.conftest import face, local_pipeline


def clips_of(path, frames=16, clips=1):
    return ClipPlan(frames, max_clips=clips).clips(probe(path), dataclasses.replace(local_input(path), split="train"))


def synthesize_fn(out, landmarks_only=False, gates=None, policy=None):
    config = SynthConfig(
        gates=gates or GateConfig(),
        policy=policy or PerturbPolicy(),
        samples=SampleConfig(fakes=1, size=128),
        seed=3,
        landmarks_only=landmarks_only,
    )
    return SynthesizeGroupFn(str(out), "mediapipe", None, config)


def test_gate_failures_are_routed_and_tracked_clips_kept(faces, tmp_path):
    good = face(faces, "first-order")
    crowd = face(faces, "facenet-pytorch")
    small = face(faces, "styletalk")  # IOD ~41 px, against ~62 for first-order
    clips = clips_of(good) + clips_of(crowd) + clips_of(small)
    fn = synthesize_fn(tmp_path, landmarks_only=True, gates=GateConfig(min_iod_px=50))
    with local_pipeline() as p:
        out = p | beam.Create(clips) | Synthesize(2, fn)
        assert_that(
            out["landmarks"]
            | beam.Map(
                lambda item: (
                    item[0].uri,
                    item[1].num_rows,
                    item[1]["num_points"][0].as_py(),
                    item[1]["backend"][0].as_py(),
                )
            ),
            equal_to([(str(good), 16, 478, "mediapipe")]),
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
        assert_that(out["samples"], equal_to([]), label="NoSamples")
    assert not list(tmp_path.rglob("*.tar"))


def test_shards_hold_every_sample_and_transplant_finds_donors(faces, tmp_path):
    clips = clips_of(face(faces, "first-order"), clips=3) + clips_of(face(faces, "LivePortrait__d3"), clips=2)
    transplant_only = PerturbPolicy(weights={"transplant": 1.0})
    with local_pipeline() as p:
        out = p | beam.Create(clips) | Synthesize(3, synthesize_fn(tmp_path, policy=transplant_only))
        rows = out["samples"] | beam.Map(lambda r: (r.key, r.shard, r.label, r.operator))
        assert_that(rows | beam.combiners.Count.Globally(), equal_to([10]), label="TenSamples")
        assert_that(out["rejects"], equal_to([]), label="NoRejects")
    tars = sorted(tmp_path.glob("webdataset/*/*.tar"))
    expected = [shard_name("train", i, 2) for i in range(2)]  # no gaps; no split given: train
    assert [t.relative_to(tmp_path).as_posix() for t in tars] == expected
    assert not list(tmp_path.rglob("*.tmp-*")) and not list(tmp_path.rglob("*.part*"))
    read = list(wds.WebDataset([str(t) for t in tars], shardshuffle=False))
    assert sorted(s["__key__"] for s in read) == sorted(f"{c.key}_{v}" for c in clips for v in ("real", "fake0"))
    for sample in read:
        assert set(sample) >= {"__key__", "mp4", "json", "landmarks.npy", "mask.npz"}
        label = json.loads(sample["json"])
        assert label["key"] == sample["__key__"]
        if label["label"]:
            donor = label["perturbation"]["params"]["donor"]
            assert donor != sample["__key__"].rsplit("_", 1)[0] and donor in {c.key for c in clips}
    points = wds.WebDataset([str(tars[0])], shardshuffle=False).decode()
    first = next(iter(points))
    assert first["landmarks.npy"].shape == (16, 68, 2) and first["landmarks.npy"].dtype == np.float32

"""synthesize_group, the Beam-free stages 2-6: the same events whatever the decode settings,
bad clips rejected without stopping the group, no decode left running; groups taken one
behind (SamplesBehind) give the events each gives alone."""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import CancelledError

import pytest

from kinefake.synth.bases.storage import load_bases
from kinefake.synth.clip_samples import SampleConfig
from kinefake.synth.donor_group import (
    Bases,
    DonorGroup,
    Landmarks,
    Made,
    SamplesBehind,
    SynthConfig,
    VideoReader,
    synthesize_group,
)
from kinefake.synth.sharding import ClipPlan, local_input
from kinefake.synth.video import probe
from tests.conftest import face

CONFIG = SynthConfig(samples=SampleConfig(fakes=1, size=128), seed=5)


@pytest.fixture(scope="module")
def bases():
    return Bases.of(*load_bases())


@pytest.fixture(scope="module")
def group(faces, tmp_path_factory):
    """Three clips of one video, one of another, and one whose file is gone."""
    clips = []
    for prefix, count in (("LivePortrait__d0", 2), ("spectre__00002", 1)):
        path = face(faces, prefix)
        clips += ClipPlan(16, max_clips=count).clips(probe(path), local_input(path))
    gone = tmp_path_factory.mktemp("gone") / "gone.mp4"
    gone.write_bytes(face(faces, "spectre__00002").read_bytes())
    clips += ClipPlan(16, max_clips=1).clips(probe(gone), local_input(gone))
    gone.unlink()
    return clips


def summary(events) -> list:
    """Each event as comparable plain data (sample members as bytes)."""
    out = []
    for e in events:
        if isinstance(e, Landmarks):
            out.append(("landmarks", e.clip.key, e.landmarks.points.tobytes()))
        elif isinstance(e, Made):
            out.append(("made", e.clip.key, e.sample.key, sorted(e.sample.members.items())))
        else:
            out.append(("failed", e.stage, e.clip.key, e.error.reason, e.variant))
    return out


def run(group, backend, bases, config) -> list:
    with config.reader() as reader:
        return summary(synthesize_group(group, reader, backend, bases, config))


def test_decode_settings_change_nothing_and_a_missing_file_is_rejected(group, mediapipe_backend, bases):
    inline = run(group, mediapipe_backend, bases, dataclasses.replace(CONFIG, decode_ahead=0, sample_threads=1))
    failed = [e for e in inline if e[0] == "failed"]
    gone = ("failed", "landmarks", group[-1].key, "file not found", None)
    assert [e for e in failed if e[1] == "landmarks"] == [gone]
    assert sum(e[0] == "landmarks" for e in inline) == 3
    # A real sample and a fake for each tracked clip, or a reason for the fake that was not made.
    assert sum(e[0] == "made" for e in inline) + sum(e[1] == "samples" for e in failed) == 6
    for ahead, threads, samples in ((1, 1, 1), (1, 1, 2), (3, 0, 3)):
        config = dataclasses.replace(CONFIG, decode_ahead=ahead, decode_threads=threads, sample_threads=samples)
        assert run(group, mediapipe_backend, bases, config) == inline, (ahead, threads, samples)


def test_landmarks_only_makes_no_samples(group, mediapipe_backend, bases):
    events = run(group, mediapipe_backend, bases, dataclasses.replace(CONFIG, landmarks_only=True))
    assert [e[0] for e in events].count("made") == 0
    assert [e[0] for e in events].count("landmarks") == 3


def test_a_consumer_that_stops_early_leaves_no_thread_running(group, mediapipe_backend, bases):
    for stop_after in (Landmarks, Made):  # while decoding, while making samples
        with VideoReader(ahead=2) as reader:
            events = synthesize_group(group, reader, mediapipe_backend, bases, CONFIG)
            assert any(isinstance(e, stop_after) for e in events)
            events.close()
        assert not [t for t in threading.enumerate() if t.name.startswith(("decode", "samples"))]


def fitted(clips, backend, bases) -> tuple[DonorGroup, list]:
    group = DonorGroup(clips, backend, bases, CONFIG)
    with CONFIG.reader() as reader:
        return group, summary(group.fit(reader))


def test_groups_taken_one_behind_give_the_events_each_gives_alone(group, mediapipe_backend, bases):
    groups = [group[:2], group[2:]]  # two clips of one video; a clip of another and the missing file
    alone = [run(clips, mediapipe_backend, bases, CONFIG) for clips in groups]
    handed = []
    with SamplesBehind() as behind:
        for clips in groups:
            donor, events = fitted(clips, mediapipe_backend, bases)
            handed.append(behind.push(donor, lambda samples, events=events: events + summary(samples)))
        handed.append(behind.drain())
    assert handed == [[], [alone[0]], [alone[1]]]  # each group's events, one push late
    assert not [t for t in threading.enumerate() if t.name.startswith(("group-samples", "samples"))]


def test_closing_abandons_the_group_behind_between_two_samples(group, mediapipe_backend, bases):
    taken, first, ended = [], threading.Event(), []

    def finish(samples):
        try:
            for event in samples:
                taken.append(event)
                first.set()
                time.sleep(0.5)  # close() comes meanwhile
        except BaseException as exc:
            ended.append(exc)
            raise

    donor, _ = fitted(group[:2], mediapipe_backend, bases)  # 4 samples: a real and a fake for each clip
    behind = SamplesBehind()
    behind.push(donor, finish)
    assert first.wait(60)
    behind.close()  # returns once the thread behind is idle
    assert len(taken) == 1 and [type(e) for e in ended] == [CancelledError]
    assert not [t for t in threading.enumerate() if t.name.startswith(("group-samples", "samples"))]


def test_decode_settings_are_checked():
    with pytest.raises(ValueError, match="0 <= decode_ahead <= 8"):
        SynthConfig(decode_ahead=-1)
    with pytest.raises(ValueError, match="1 <= sample_threads <= 8"):
        SynthConfig(sample_threads=0)
    with pytest.raises(ValueError, match="threads >= 0"):
        VideoReader(threads=-2)

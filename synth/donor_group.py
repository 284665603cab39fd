"""Stages 2-6 without Beam: a donor group of clips -> landmarks, samples and rejects.

:func:`synthesize_group` runs one group on the caller's thread (``render-preview``,
``bench/e2e.py``, the tests); the Beam DoFn (:mod:`kinefake.pipelines.synthesize`) runs groups
one after another through :class:`SamplesBehind`, each group's samples overlapping the next
group's landmarks. Each clip of a group is decoded once, its landmarks fitted and only its
face crops kept; then the group's samples are made, with the other clips of the group as
``transplant`` donors. Memory is bounded by two groups' crops.

Everything is a pure function of the clips' frames, the models and the config: the same
inputs give byte-identical samples.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from kinefake.errors import Rejected
from kinefake.schemas.clips import ClipRecord
from kinefake.schemas.landmarks import ClipLandmarks
from kinefake.synth.bases.model import LinearBases
from kinefake.synth.clip_samples import Sample, SampleConfig, crop_for_samples, fake_samples, real_sample
from kinefake.synth.landmarks import GateConfig, LandmarkBackend, TrackConfig, extract_landmarks
from kinefake.synth.perturb.motion import ClipMotion
from kinefake.synth.perturb.policy import PerturbPolicy
from kinefake.synth.video import DEFAULT_TIMEOUT_S, ClipReader, Source

T = TypeVar("T")

#: Clips whose motion serves as each other's transplant donors (and whose crops are held at once).
DONOR_GROUP = 8
#: FFmpeg's own ceiling for the decoder threads it picks (``MAX_AUTO_THREADS``).
MAX_DECODE_THREADS = 16


@dataclass(frozen=True)
class SynthConfig:
    """Everything besides the clips and the models that decides a group's outputs.

    Attributes:
        track, gates: landmark tracking and the clip gates (stage 3).
        policy: how perturbations are drawn (stage 4).
        samples: crops, fakes per clip, encoding (stages 5-6).
        seed: the job's seed.
        landmarks_only: stop after the landmarks (no samples).
        decode_timeout: seconds one clip decode may take before the clip is rejected.
        decode_threads: FFmpeg decoder threads (1: one core; 0: FFmpeg chooses).
        decode_ahead: clips decoded ahead on a background thread (see :class:`VideoReader`).
        sample_threads: clips whose samples (render, encode) are made at once, on threads.

    The decode settings change how fast, never what: the outputs are the same bytes.
    """

    track: TrackConfig = field(default_factory=TrackConfig)
    gates: GateConfig = field(default_factory=GateConfig)
    policy: PerturbPolicy = field(default_factory=PerturbPolicy)
    samples: SampleConfig = field(default_factory=SampleConfig)
    seed: int = 0
    landmarks_only: bool = False
    decode_timeout: float = DEFAULT_TIMEOUT_S
    decode_threads: int = 1
    decode_ahead: int = 1
    sample_threads: int = 2

    def __post_init__(self) -> None:
        if not self.decode_timeout > 0:  # NaN fails too
            raise ValueError(f"expected a decode timeout > 0 s, got {self.decode_timeout}")
        # Past a group's clips more threads or clips ahead do nothing but hold memory, and
        # FFmpeg advises against more than 16 decoder threads (each frame thread holds frames).
        if not (0 <= self.decode_threads <= MAX_DECODE_THREADS and 0 <= self.decode_ahead <= DONOR_GROUP):
            raise ValueError(
                f"expected 0 <= decode_threads <= {MAX_DECODE_THREADS} and 0 <= decode_ahead <= {DONOR_GROUP}, "
                f"got {self.decode_threads}, {self.decode_ahead}"
            )
        if not 1 <= self.sample_threads <= DONOR_GROUP:
            raise ValueError(f"expected 1 <= sample_threads <= {DONOR_GROUP}, got {self.sample_threads}")

    def reader(self, opener: Callable[[str], contextlib.AbstractContextManager[Source]] | None = None) -> VideoReader:
        """A :class:`VideoReader` with this config's decode settings."""
        return VideoReader(opener, self.decode_timeout, self.decode_threads, self.decode_ahead)


@dataclass(frozen=True)
class Landmarks:
    """A clip's landmarks (stage 3 passed)."""

    clip: ClipRecord
    landmarks: ClipLandmarks


@dataclass(frozen=True)
class Made:
    """One sample of a clip (stage 6)."""

    clip: ClipRecord
    sample: Sample


@dataclass(frozen=True)
class Failed:
    """A clip (``variant`` None) or one of its fakes that was not made, and why."""

    stage: str
    clip: ClipRecord
    error: Rejected
    variant: str | None = None


@dataclass(frozen=True)
class Bases:
    """The motion-bases model and its summary for the labels (``kind``, ``k``, ``data_sha256``)."""

    model: LinearBases
    summary: dict

    @classmethod
    def of(cls, model: LinearBases, info: dict) -> Bases:
        """From :func:`kinefake.synth.bases.storage.load_bases`'s ``(model, info)``."""
        return cls(model, {"kind": model.kind, "k": model.k, "data_sha256": info.get("data_sha256")})


class VideoReader:
    """Decodes clips that arrive sorted by video, keeping one video open at a time, so a
    video's consecutive clips are decoded forward instead of each seeking from a keyframe
    (:class:`kinefake.synth.video.ClipReader`); up to ``ahead`` clips are decoded on a background
    thread while the caller works on the current one.

    At 1080p decoding is a third of a clip's cost (FFmpeg's H.264 decoder alone ~3.5 ms a
    frame); decoding ahead overlaps it with the landmarks of the clip before, on a core the
    process would otherwise leave idle (MediaPipe, OpenCV and FFmpeg release the GIL). A
    clip decoded ahead holds its frames until it is taken: ``ahead`` clips more in memory.

    Args:
        opener: ``uri -> context manager`` giving a local path or a seekable binary file
            (default: the URI is a local path).
        timeout_s: wall-clock budget of one clip's decode.
        threads: FFmpeg decoder threads (1: one core; 0: FFmpeg chooses).
        ahead: clips decoded ahead (0: each clip is decoded when the caller asks for it).
    """

    def __init__(
        self,
        opener: Callable[[str], contextlib.AbstractContextManager[Source]] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        threads: int = 1,
        ahead: int = 0,
    ) -> None:
        if threads < 0 or ahead < 0:
            raise ValueError(f"expected threads >= 0 and ahead >= 0, got {threads}, {ahead}")
        self.opener = opener or contextlib.nullcontext
        self.timeout_s, self.threads, self.ahead = timeout_s, threads, ahead
        self.uri: str | None = None
        self.stack: contextlib.ExitStack | None = None
        self.reader: ClipReader | None = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def decode(self, clips: Sequence[ClipRecord]) -> Iterator[tuple[ClipRecord, Future]]:
        """``(clip, future)`` for each clip in order; ``future.result()`` is the clip's frames
        ``(T, H, W, 3)`` uint8 RGB or raises :class:`~kinefake.errors.Rejected` (the video cannot
        be opened or decoded, see :func:`kinefake.synth.video.read_frames`)."""
        pending: collections.deque[tuple[ClipRecord, Future]] = collections.deque()
        with ThreadPoolExecutor(1, thread_name_prefix="decode") as pool:
            try:
                for clip in clips:
                    pending.append((clip, pool.submit(self._read, clip)))
                    if len(pending) > self.ahead:
                        yield pending.popleft()
                while pending:
                    yield pending.popleft()
            finally:
                for _, future in pending:
                    future.cancel()

    def _read(self, clip: ClipRecord) -> np.ndarray:
        if clip.uri != self.uri:
            self.close()
            self.stack = contextlib.ExitStack()
            try:
                src = self.stack.enter_context(self.opener(clip.uri))
                self.reader = self.stack.enter_context(ClipReader(src, self.threads, self.timeout_s))
            except BaseException:
                self.close()
                raise
            self.uri = clip.uri
        return self.reader.read(clip.start_frame, clip.num_frames, clip.start_pts)

    def close(self) -> None:
        """Close the open video (call when no :meth:`decode` is running)."""
        if self.stack is not None:
            self.stack.close()
        self.uri, self.stack, self.reader = None, None, None


class DonorGroup:
    """Stages 2-6 of one donor group in two halves: :meth:`fit` (decode, landmarks, crops, on
    the caller's thread, the one that owns the landmark model) and :meth:`samples` (the
    group's samples, in order), which may be taken on another thread: that is how
    :class:`SamplesBehind` overlaps a group's samples with the next group's landmarks.

    Samples are made on ``config.sample_threads`` threads (OpenCV's warp, x264 and numpy
    release the GIL): a clip's real sample as soon as its crops are cut, while the landmarks
    of the next clips are fitted; its fakes as soon as the group's landmarks (their
    transplant donors) are in, at the end of :meth:`fit`.

    Args:
        clips: the group's clips (at most :data:`DONOR_GROUP`; see :func:`kinefake.synth.sharding.assign_groups`).
        backend: the landmark model.
        bases: the motion-bases model.
        config: the rest.
    """

    def __init__(
        self, clips: Sequence[ClipRecord], backend: LandmarkBackend, bases: Bases, config: SynthConfig
    ) -> None:
        self.clips = sorted(clips, key=lambda c: (c.video_id, c.clip))
        self.backend, self.bases, self.config = backend, bases, config
        self.pool = ThreadPoolExecutor(config.sample_threads, "samples") if config.sample_threads > 1 else None
        self.prepared: list = []  # (clip, landmarks, crops, motion, future of the real sample)
        self.fakes: list[Future] = []  # the fakes of each prepared clip

    def __enter__(self) -> DonorGroup:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Drop the samples not started; wait for those being made."""
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def fit(self, reader: VideoReader) -> Iterator[Landmarks | Failed]:
        """Decode the clips through ``reader`` (a video's clips arriving in order are decoded
        forward) and fit their landmarks: :class:`Landmarks` for each clip that passes the
        gates, a :class:`Failed` (``stage`` "landmarks") for each clip that cannot be decoded
        or fails them, in (video id, clip) order. Unless ``config.landmarks_only``, every
        sample of the group is being made when it returns."""
        config = self.config
        run = self.pool.submit if self.pool is not None else _done
        for clip, decoded in reader.decode(self.clips):
            try:
                frames = decoded.result()
                lm = extract_landmarks(frames, self.backend, clip.fps_num / clip.fps_den, config.track, config.gates)
            except Rejected as exc:
                yield Failed("landmarks", clip, exc)
            else:
                yield Landmarks(clip, lm)
                if not config.landmarks_only:
                    crops = crop_for_samples(clip, frames, lm, config.samples)
                    real = run(real_sample, clip, crops, lm, self.bases.summary, config.seed, config.samples)
                    motion = ClipMotion.from_points(lm.ibug68, self.bases.model)
                    self.prepared.append((clip, lm, crops, motion, real))
            frames = decoded = None  # only the crops are kept; the next clip may be decoding already
        self.fakes = [run(self._fakes_of, item) for item in self.prepared]

    def samples(self) -> Iterator[Made | Failed]:
        """After :meth:`fit`: for each clip that passed, a :class:`Failed` (``stage``
        "samples") for each fake not made, then its :class:`Made` samples, real first."""
        for (clip, *_, real), made in zip(self.prepared, self.fakes, strict=True):
            samples, failed = made.result()
            for variant, exc in failed:
                yield Failed("samples", clip, exc, variant)
            for sample in (real.result(), *samples):
                yield Made(clip, sample)

    def _fakes_of(self, item) -> tuple[list[Sample], list[tuple[str, Rejected]]]:
        clip, lm, crops, motion, _ = item
        donors = [(other.key, m.coeffs) for other, _, _, m, _ in self.prepared if other.key != clip.key]
        config = self.config
        return fake_samples(
            clip, crops, lm, motion, self.bases.summary, config.policy, config.seed, config.samples, donors
        )


def synthesize_group(
    clips: Sequence[ClipRecord],
    reader: VideoReader,
    backend: LandmarkBackend,
    bases: Bases,
    config: SynthConfig,
) -> Iterator[Landmarks | Made | Failed]:
    """Stages 2-6 of one donor group on this thread (:class:`DonorGroup`): its :meth:`~DonorGroup.fit`
    events, then (unless ``config.landmarks_only``) its :meth:`~DonorGroup.samples`."""
    with DonorGroup(clips, backend, bases, config) as group:
        yield from group.fit(reader)
        yield from group.samples()


class SamplesBehind:
    """Takes each donor group's samples on a background thread while the caller fits the next
    group's landmarks (:class:`DonorGroup`), one group behind.

    Within a group the landmark model's thread waits for the last fakes (they need every
    clip's landmarks) and the next group's first clip starts decoding only when the group is
    done; one group behind, those waits overlap the next group's work (``bench/RESULTS.md``,
    2026-12-07: 0.92x the wall time of a whole ``generate`` on 3,648 input frames). Memory:
    two groups' crops instead of one.

    ``push`` and ``drain`` hand back the ``finish`` results of finished groups in the order
    they were pushed; :meth:`close` (or leaving the ``with`` block) abandons the group behind,
    if any: its samples stop between two events (``finish`` sees
    :class:`concurrent.futures.CancelledError`) and the samples being made are waited for.
    """

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(1, "group-samples")
        self._behind: Future | None = None
        self._abandoned = False

    def __enter__(self) -> SamplesBehind:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def push(self, group: DonorGroup, finish: Callable[[Iterator[Made | Failed]], T]) -> list[T]:
        """Start ``finish(group.samples())`` behind (the group is closed after it); the
        previous group's result, waited for, if there was one."""
        future = self._thread.submit(self._finish, group, finish)
        previous, self._behind = self._behind, future
        return [] if previous is None else [previous.result()]

    def drain(self) -> list[T]:
        """The last group's result, waited for, if a group is behind."""
        previous, self._behind = self._behind, None
        return [] if previous is None else [previous.result()]

    def close(self) -> None:
        """Abandon the group behind, if any, and wait until its thread is idle."""
        self._abandoned = True
        self._thread.shutdown(cancel_futures=True)
        self._behind = None

    def _finish(self, group: DonorGroup, finish: Callable[[Iterator[Made | Failed]], T]) -> T:
        def events() -> Iterator[Made | Failed]:
            for event in group.samples():
                if self._abandoned:
                    raise CancelledError
                yield event

        with group:
            return finish(events())


def _done(fn: Callable, *args) -> Future:
    """``fn(*args)`` run now, its result in a finished :class:`Future` (``sample_threads`` 1: no threads)."""
    future: Future = Future()
    future.set_result(fn(*args))
    return future

"""Stages 2-6 per WebDataset shard: decode each clip once, landmarks, samples, one tar.

Clips are assigned to ``num_shards = ceil(clips / clips_per_shard)`` shards, counted
before any heavy work, as contiguous runs of (video id, clip) order whose sizes differ by
at most one (:func:`synth.shard.shard_of_rank`): shard names have no gaps, shards are
balanced, a video's neighbouring clips share a shard, and the assignment does not depend
on the runner. One ``process`` call owns one shard and walks its clips in key order, in groups of
``DONOR_GROUP``: each clip is decoded once (a video's consecutive clips through one open
decoder, decoding forward instead of seeking from a keyframe for each), its landmarks
fitted and only its face crops kept; then the group's samples are made, with the other
clips of the group as ``transplant`` donors, and streamed into
``webdataset/shard-SSSSS-of-NNNNN.tar`` (a temporary name, renamed when complete).
Memory is bounded by one group's crops, whatever the shard's size.
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath

import apache_beam as beam
import cv2
import webdataset as wds
from apache_beam.metrics import Metrics

from pipelines.fs import atomic_writer, local_copy, open_source
from pipelines.rejects import REJECTS, reject_record
from schemas import ClipRecord, FileRecord, SampleRecord
from schemas.layout import shard_name
from schemas.sample import LABEL, MP4
from synth.bases.io import load_bases
from synth.errors import Rejected
from synth.landmarks import GateConfig, TrackConfig, extract_landmarks, make_backend
from synth.perturb.motion import ClipMotion
from synth.perturb.policy import PerturbPolicy
from synth.samples import Sample, SampleConfig, crop_for_samples, make_samples
from synth.shard import shard_count, shard_of_rank, video_offsets
from synth.video import ClipReader

#: Tag of the (ClipRecord, ClipLandmarks) output.
LANDMARKS = "landmarks"
#: Tag of the FileRecord of each tar written.
FILES = "files"
#: Clips whose motion serves as each other's transplant donors (and whose crops are held at once).
DONOR_GROUP = 8


class VideoReader:
    """Decodes clips that arrive sorted by video, keeping one video open at a time, so a
    video's consecutive clips are decoded forward instead of each seeking from a keyframe
    (:class:`synth.video.ClipReader`)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.uri: str | None = None
        self.stack: contextlib.ExitStack | None = None
        self.reader: ClipReader | None = None

    def read(self, clip: ClipRecord):
        """The clip's frames ``(T, H, W, 3)`` uint8 RGB.

        Raises:
            Rejected: the video cannot be opened or decoded (see :func:`synth.video.read_frames`).
        """
        if clip.uri != self.uri:
            self.close()
            self.stack = contextlib.ExitStack()
            try:
                src = self.stack.enter_context(open_source(clip.uri))
                self.reader = self.stack.enter_context(ClipReader(src, timeout_s=self.timeout_s))
            except BaseException:
                self.close()
                raise
            self.uri = clip.uri
        return self.reader.read(clip.start_frame, clip.num_frames, clip.start_pts)

    def close(self) -> None:
        if self.stack is not None:
            self.stack.close()
        self.uri, self.stack, self.reader = None, None, None


def donor_groups(clips: list[ClipRecord]) -> list[list[ClipRecord]]:
    """A shard's clips in key order, cut into the groups of ``DONOR_GROUP`` whose clips are
    each other's transplant donors (a clip the landmark stage rejects stays in its group's
    slot, so a re-run or :mod:`pipelines.validate` finds the same groups)."""
    ordered = sorted(clips, key=lambda c: (c.video_id, c.clip))
    return [ordered[i : i + DONOR_GROUP] for i in range(0, len(ordered), DONOR_GROUP)]


def sample_record(clip: ClipRecord, sample: Sample, shard: str, size: int, seed: int) -> SampleRecord:
    label = sample.label
    p = label["perturbation"] or {}
    active = p.get("active_frames") or [None, None]
    mp4 = sample.members[MP4]
    return SampleRecord(
        key=sample.key,
        video_id=clip.video_id,
        clip=clip.clip,
        variant=label["variant"],
        label=label["label"],
        shard=shard,
        uri=clip.uri,
        split=clip.split,
        start_frame=clip.start_frame,
        num_frames=clip.num_frames,
        fps_num=clip.fps_num,
        fps_den=clip.fps_den,
        size=size,
        operator=p.get("operator"),
        region=p.get("region"),
        partner=p.get("partner"),
        strength_iod=p.get("strength_iod"),
        max_displacement_iod=p.get("max_displacement_iod"),
        active_start=active[0],
        active_end=active[1],
        seed=seed,
        sample_seed=label["sample_seed"],
        mp4_bytes=len(mp4),
        mp4_sha256=hashlib.sha256(mp4).hexdigest(),
        label_json=sample.members[LABEL].decode(),
    )


class SynthesizeShardFn(beam.DoFn):
    """``(shard index, clips)`` -> sample rows; tagged ``landmarks`` and ``rejects`` outputs.

    With ``landmarks_only`` the samples (crops, perturbations, renders, tar) are skipped.
    The landmark model and the motion bases load once per worker, in ``setup``.
    """

    def __init__(
        self,
        out: str,
        backend: str,
        track: TrackConfig,
        gates: GateConfig,
        timeout_s: float,
        bases: str | None,
        policy: PerturbPolicy,
        config: SampleConfig,
        seed: int,
        landmarks_only: bool = False,
    ) -> None:
        self.out = out.rstrip("/")
        self.backend_name = backend
        self.track, self.gates, self.timeout_s = track, gates, timeout_s
        self.bases_path = bases
        self.policy, self.config, self.seed = policy, config, seed
        self.landmarks_only = landmarks_only
        self.frames = Metrics.counter("samples", "input_frames")
        self.written = Metrics.counter("samples", "samples")
        self.rejected = Metrics.counter("samples", "rejected")

    def setup(self) -> None:
        cv2.setNumThreads(1)
        self.backend = make_backend(self.backend_name)
        with local_copy(self.bases_path) if self.bases_path else contextlib.nullcontext() as local:
            self.bases, info = load_bases(local)
        self.bases_info = {"kind": self.bases.kind, "k": self.bases.k, "data_sha256": info.get("data_sha256")}

    def teardown(self) -> None:
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.close()

    def _reject(self, stage: str, clip: ClipRecord, exc: Rejected, variant: str | None = None):
        self.rejected.inc()
        return beam.pvalue.TaggedOutput(REJECTS, reject_record(stage, clip.uri, clip.video_id, exc, clip.clip, variant))

    def _prepare(self, clip: ClipRecord, videos: VideoReader):
        """Decode once and fit landmarks; yields outputs, returns (clip, lm, crops, motion) or None."""
        try:
            frames = videos.read(clip)
            lm = extract_landmarks(frames, self.backend, clip.fps_num / clip.fps_den, self.track, self.gates)
        except Rejected as exc:
            yield self._reject("landmarks", clip, exc)
            return None
        self.frames.inc(clip.num_frames)
        yield beam.pvalue.TaggedOutput(LANDMARKS, (clip, lm))
        if self.landmarks_only:
            return None
        crops = crop_for_samples(clip, frames, lm, self.config)
        return clip, lm, crops, ClipMotion.from_points(lm.ibug68, self.bases)

    def process(self, item, num_shards: int):
        index, clips = item
        shard = shard_name(index, num_shards)
        writer = sink = None
        written = 0
        with contextlib.ExitStack() as stack:
            videos = VideoReader(self.timeout_s)
            stack.callback(videos.close)
            for members in donor_groups(list(clips)):
                group = []
                for clip in members:
                    prepared = yield from self._prepare(clip, videos)
                    if prepared is not None:
                        group.append(prepared)
                for clip, lm, crops, motion in group:
                    donors = [(other.key, m.coeffs) for other, _, _, m in group if other.key != clip.key]
                    made, failed = make_samples(
                        clip, crops, lm, motion, self.bases_info, self.policy, self.seed, self.config, donors
                    )
                    for variant, exc in failed:
                        yield self._reject("samples", clip, exc, variant)
                    if writer is None:
                        sink = HashingWriter(stack.enter_context(atomic_writer(posixpath.join(self.out, shard))))
                        writer = wds.TarWriter(sink, encoder=False, mtime=0.0)  # fixed mtime: same bytes on re-runs
                    for sample in made:
                        writer.write({"__key__": sample.key, **sample.members})
                        written += 1
                        self.written.inc()
                        yield sample_record(clip, sample, shard, self.config.size, self.seed)
            if writer is not None:
                writer.close()
                yield beam.pvalue.TaggedOutput(
                    FILES, FileRecord(shard, sink.digest.hexdigest(), sink.bytes, samples=written)
                )


class HashingWriter:
    """A write-only file that passes bytes on to ``f`` and keeps their SHA-256 and count, so
    a shard is checksummed as it is written instead of read back."""

    def __init__(self, f) -> None:
        self.f = f
        self.digest = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.bytes += len(data)
        return self.f.write(data)


def assign_video(item, offsets: tuple[dict[str, int], int], clips_per_shard: int):
    """``(video id, clips)`` -> ``(shard, clip)`` for each, from the video's offset in the corpus."""
    video_id, clips = item
    first, total = offsets[0][video_id], offsets[1]
    for i, clip in enumerate(sorted(clips, key=lambda c: c.clip)):
        yield shard_of_rank(first + i, total, clips_per_shard), clip


class Synthesize(beam.PTransform):
    """PCollection[ClipRecord] -> {"samples": SampleRecord, "landmarks": (ClipRecord, ClipLandmarks),
    "rejects": RejectRecord, "files": FileRecord of each tar}; the WebDataset shards are written
    on the way (see the module doc)."""

    def __init__(self, clips_per_shard: int, fn: SynthesizeShardFn) -> None:
        super().__init__()
        if clips_per_shard < 1:
            raise ValueError(f"expected clips_per_shard >= 1, got {clips_per_shard}")
        self.clips_per_shard = clips_per_shard
        self.fn = fn

    def expand(self, clips):
        per_shard = self.clips_per_shard
        by_video = clips | "KeyByVideo" >> beam.Map(lambda c: (c.video_id, c)) | "GroupByVideo" >> beam.GroupByKey()
        offsets = (
            by_video
            | "ClipsPerVideo" >> beam.Map(lambda item: (item[0], len(list(item[1]))))
            | "AllVideos" >> beam.combiners.ToList()
            | "VideoOffsets" >> beam.Map(video_offsets)
        )
        num_shards = offsets | "NumShards" >> beam.Map(lambda o: shard_count(o[1], per_shard))
        out = (
            by_video
            | "AssignShards" >> beam.FlatMap(assign_video, beam.pvalue.AsSingleton(offsets), per_shard)
            | "GroupShards" >> beam.GroupByKey()
            | "SynthesizeShard"
            >> beam.ParDo(self.fn, num_shards=beam.pvalue.AsSingleton(num_shards)).with_outputs(
                REJECTS, LANDMARKS, FILES, main="samples"
            )
        )
        return {"samples": out.samples, "landmarks": out[LANDMARKS], "rejects": out[REJECTS], "files": out[FILES]}

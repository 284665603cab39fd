"""Stages 2-6 on Beam: donor groups in parallel, then one WebDataset tar per shard.

Clips are assigned to ``num_shards = ceil(clips / clips_per_shard)`` shards, counted
before any heavy work, as contiguous runs of (video id, clip) order whose sizes differ by
at most one (:func:`kinefake.synth.sharding.shard_of_rank`), and each shard's clips are cut
in order into donor groups of at most ``DONOR_GROUP``, of equal size
(:func:`kinefake.synth.sharding.group_of_rank`): shard names have no gaps, shards are
balanced, a video's neighbouring clips share a group, and none of it depends on the runner.
A group is the unit of parallel work: one ``process`` call runs
:func:`kinefake.synth.donor_group.synthesize_group` on it and streams its samples into a part file
``webdataset/shard-SSSSS-of-NNNNN.tar.partGGGGG``; once every group of a shard is done,
:class:`JoinShardFn` joins the parts in group order into the shard's tar (a temporary name
renamed when complete) and deletes them. So a shard's work spreads over workers, and its
tar is the same bytes as if one process had written it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import posixpath

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from kinefake.fs import atomic_writer, local_copy, open_source
from kinefake.pipelines.output import file_record
from kinefake.pipelines.progress import write_record
from kinefake.pipelines.reject_rows import REJECTS, reject_record
from kinefake.pipelines.tars import HashingWriter, SampleTarWriter, read_samples
from kinefake.schemas import ClipRecord, FileRecord, SampleRecord
from kinefake.schemas.label import Label
from kinefake.schemas.layout import part_name, shard_name
from kinefake.schemas.members import LABEL, MP4
from kinefake.shutdown import skip_final_collections
from kinefake.synth.bases.storage import load_bases
from kinefake.synth.clip_samples import Sample
from kinefake.synth.donor_group import DONOR_GROUP, Bases, Failed, Landmarks, Made, SynthConfig, synthesize_group
from kinefake.synth.landmarks import make_backend
from kinefake.synth.sharding import group_of_rank, shard_count, video_offsets
from kinefake.synth.threads import one_thread_per_library

#: Tag of the (ClipRecord, ClipLandmarks) output.
LANDMARKS = "landmarks"
#: Tag of the ``(shard index, (group, part uri, samples))`` of each part file written.
PARTS = "parts"


def sample_record(clip: ClipRecord, sample: Sample, shard: str, size: int, seed: int) -> SampleRecord:
    label = Label.from_json(sample.label)
    p = label.perturbation
    active = (p.active_frames if p is not None else None) or [None, None]
    mp4 = sample.members[MP4]
    return SampleRecord(
        key=sample.key,
        video_id=clip.video_id,
        clip=clip.clip,
        variant=label.variant,
        label=label.label,
        shard=shard,
        uri=clip.uri,
        split=clip.split,
        start_frame=clip.start_frame,
        num_frames=clip.num_frames,
        fps_num=clip.fps_num,
        fps_den=clip.fps_den,
        size=size,
        operator=None if p is None else p.operator,
        region=None if p is None else p.region,
        partner=None if p is None else p.partner,
        strength_iod=None if p is None else p.strength_iod,
        max_displacement_iod=None if p is None else p.max_displacement_iod,
        active_start=active[0],
        active_end=active[1],
        seed=seed,
        sample_seed=label.sample_seed,
        mp4_bytes=len(mp4),
        mp4_sha256=hashlib.sha256(mp4).hexdigest(),
        label_json=sample.members[LABEL].decode(),
    )


class SynthesizeGroupFn(beam.DoFn):
    """``((shard, group), clips)`` -> sample rows; tagged ``landmarks``, ``rejects`` and ``parts`` outputs.

    The landmark model and the motion bases load once per worker, in ``setup``.
    """

    def __init__(
        self, out: str, backend: str, bases: str | None, config: SynthConfig, progress: str | None = None
    ) -> None:
        self.out = out.rstrip("/")
        self.backend_name, self.bases_path, self.config = backend, bases, config
        self.progress = progress  # local folder for kinefake.pipelines.progress.Progress (local runs only)
        self.clips = Metrics.counter("samples", "clips")
        self.frames = Metrics.counter("samples", "input_frames")
        self.written = Metrics.counter("samples", "samples")
        self.rejected = Metrics.counter("samples", "rejected")

    def setup(self) -> None:
        one_thread_per_library()
        skip_final_collections()
        self.backend = make_backend(self.backend_name)
        with local_copy(self.bases_path) if self.bases_path else contextlib.nullcontext() as local:
            self.bases = Bases.of(*load_bases(local))

    def teardown(self) -> None:
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.close()

    def process(self, item, num_shards: int, total: int):
        (index, group), clips = item
        shard = shard_name(index, num_shards)
        uri = posixpath.join(self.out, part_name(shard, group))
        written = frames = rejected = 0
        with contextlib.ExitStack() as stack:
            videos = stack.enter_context(self.config.reader(open_source))
            writer = None
            for event in synthesize_group(list(clips), videos, self.backend, self.bases, self.config):
                if isinstance(event, Landmarks):
                    frames += event.clip.num_frames
                    self.frames.inc(event.clip.num_frames)
                    yield beam.pvalue.TaggedOutput(LANDMARKS, (event.clip, event.landmarks))
                elif isinstance(event, Failed):
                    rejected += 1
                    self.rejected.inc()
                    record = reject_record(
                        event.stage, event.clip.uri, event.clip.video_id, event.error, event.clip.clip, event.variant
                    )
                    yield beam.pvalue.TaggedOutput(REJECTS, record)
                elif isinstance(event, Made):
                    if writer is None:
                        writer = SampleTarWriter(stack.enter_context(atomic_writer(uri)))
                    writer.write({"__key__": event.sample.key, **event.sample.members})
                    written += 1
                    self.written.inc()
                    yield sample_record(event.clip, event.sample, shard, self.config.samples.size, self.config.seed)
            if writer is not None:
                writer.close()
        self.clips.inc(len(clips))
        if self.progress:
            record = {"clips": len(clips), "frames": frames, "samples": written, "rejects": rejected, "total": total}
            write_record(self.progress, f"{index:05d}-{group:05d}", record)
        if written:
            yield beam.pvalue.TaggedOutput(PARTS, (index, (group, uri, written)))


class JoinShardFn(beam.DoFn):
    """``(shard index, parts)`` -> the :class:`FileRecord` of the shard's tar, written from its
    parts in group order (the same bytes one writer would have written); the parts are
    deleted once the tar is complete."""

    def __init__(self, out: str) -> None:
        self.out = out.rstrip("/")

    def process(self, item, num_shards: int):
        index, parts = item
        parts = sorted(parts)
        shard = shard_name(index, num_shards)
        uri = posixpath.join(self.out, shard)
        if not FileSystems.exists(parts[0][1]) and FileSystems.exists(uri):
            # A retry after the parts were joined and deleted: the tar is complete.
            yield dataclasses.replace(file_record(uri, self.out), samples=sum(n for _, _, n in parts))
            return
        samples = 0
        with atomic_writer(uri) as f:
            sink = HashingWriter(f)
            writer = SampleTarWriter(sink)
            for _, part, _ in parts:
                for sample in read_samples(part):
                    writer.write(sample)
                    samples += 1
            writer.close()
        FileSystems.delete([part for _, part, _ in parts])
        yield FileRecord(shard, sink.digest.hexdigest(), sink.bytes, samples=samples)


def assign_groups(item, offsets: tuple[dict[str, int], int], clips_per_shard: int):
    """``(video id, clips)`` -> ``((shard, group), clip)`` for each, from the video's offset in the corpus."""
    video_id, clips = item
    first, total = offsets[0][video_id], offsets[1]
    for i, clip in enumerate(sorted(clips, key=lambda c: c.clip)):
        yield group_of_rank(first + i, total, clips_per_shard, DONOR_GROUP), clip


class Synthesize(beam.PTransform):
    """PCollection[ClipRecord] -> {"samples": SampleRecord, "landmarks": (ClipRecord, ClipLandmarks),
    "rejects": RejectRecord, "files": FileRecord of each tar, "clips": the number of clips (a
    singleton)}; the WebDataset shards are written on the way (see the module doc)."""

    def __init__(self, clips_per_shard: int, fn: SynthesizeGroupFn) -> None:
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
        num_shards = beam.pvalue.AsSingleton(offsets | "NumShards" >> beam.Map(lambda o: shard_count(o[1], per_shard)))
        total = offsets | "Clips" >> beam.Map(lambda o: o[1])
        out = (
            by_video
            | "AssignGroups" >> beam.FlatMap(assign_groups, beam.pvalue.AsSingleton(offsets), per_shard)
            | "GroupClips" >> beam.GroupByKey()
            | "SynthesizeGroup"
            >> beam.ParDo(self.fn, num_shards=num_shards, total=beam.pvalue.AsSingleton(total)).with_outputs(
                REJECTS, LANDMARKS, PARTS, main="samples"
            )
        )
        files = (
            out[PARTS]
            | "GroupParts" >> beam.GroupByKey()
            | "JoinShards" >> beam.ParDo(JoinShardFn(self.fn.out), num_shards=num_shards)
        )
        return {
            "samples": out.samples,
            "landmarks": out[LANDMARKS],
            "rejects": out[REJECTS],
            "files": files,
            "clips": total,
        }

"""Stages 2-6 on Beam: donor groups in parallel, then one WebDataset tar per shard.

Each split's clips are assigned to ``num_shards = ceil(clips / clips_per_shard)`` shards of
that split, counted before any heavy work, as contiguous runs of (video id, clip) order whose sizes differ by
at most one (:func:`kinefake.synth.sharding.shard_of_rank`), and each shard's clips are cut
in order into donor groups of at most ``DONOR_GROUP``, of equal size
(:func:`kinefake.synth.sharding.group_of_rank`): shard names have no gaps, shards are
balanced, a video's neighbouring clips share a group, and none of it depends on the runner.
A group is the unit of parallel work: one ``process`` call fits its landmarks
(:class:`kinefake.synth.donor_group.DonorGroup`), and its samples, made while the next group
is fitted, are streamed into a part file
``webdataset/{split}/shard-SSSSS-of-NNNNN.tar.partGGGGG``; once every group of a shard is done,
:class:`JoinShardFn` joins the parts in group order into the shard's tar (a temporary name
renamed when complete) and deletes them. So a shard's work spreads over workers, and its
tar is the same bytes as if one process had written it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import posixpath
from collections.abc import Iterator

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from kinefake.fs import atomic_writer, local_copy, open_source
from kinefake.pipelines.group_records import GroupRows, read_group, write_group
from kinefake.pipelines.output import file_record
from kinefake.pipelines.progress import write_record
from kinefake.pipelines.reject_rows import REJECTS, reject_record
from kinefake.pipelines.tars import HashingWriter, SampleTarWriter, read_samples
from kinefake.schemas import ClipRecord, FileRecord, RejectRecord, SampleRecord
from kinefake.schemas.label import Label
from kinefake.schemas.landmarks import landmarks_table
from kinefake.schemas.layout import group_record, part_name, shard_name
from kinefake.schemas.members import LABEL, MP4
from kinefake.shutdown import skip_final_collections
from kinefake.synth.bases.storage import load_bases
from kinefake.synth.clip_samples import Sample
from kinefake.synth.donor_group import (
    DONOR_GROUP,
    Bases,
    DonorGroup,
    Failed,
    Landmarks,
    Made,
    SamplesBehind,
    SynthConfig,
)
from kinefake.synth.landmarks import make_backend
from kinefake.synth.sharding import group_of_rank, shard_count, video_offsets
from kinefake.synth.threads import one_thread_per_library
from kinefake.synth.video import working_size

#: Tag of the ``(ClipRecord, its landmark table rows)`` output.
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


def clip_landmark_rows(clip: ClipRecord, landmarks) -> pa.Table:
    """A clip's landmark table rows; their width and height are the working frame's (the
    source's size up to ``MAX_WORK_PIXELS``), whose pixels the coordinates are in."""
    width, height = working_size(clip.width, clip.height)
    return landmarks_table(clip.video_id, clip.clip, clip.split, clip.start_frame, width, height, landmarks)


@dataclasses.dataclass(frozen=True)
class ShardGroup:
    """A donor group's place: its shard's split and index, its number in the shard, its
    clips, its part file and the job's clip count (for the progress record)."""

    split: str
    index: int
    group: int
    clips: list[ClipRecord]
    uri: str
    total: int


class SynthesizeGroupFn(beam.DoFn):
    """``((split, shard, group), clips)`` -> sample rows; tagged ``landmarks`` (``(clip, its
    landmark rows)``), ``rejects`` and ``parts`` outputs.

    The landmark model and the motion bases load once per worker, in ``setup``. A group with
    a complete record from an earlier, interrupted run (:mod:`kinefake.pipelines.group_records`)
    is read back instead of made again; every group made leaves one. A group's landmarks are
    fitted in ``process``; its samples are made while the bundle's next group is fitted
    (:class:`~kinefake.synth.donor_group.SamplesBehind`), so a group's outputs come from
    the next ``process`` call, or from ``finish_bundle`` for the bundle's last group.
    """

    def __init__(
        self,
        out: str,
        backend: str,
        bases: str | None,
        config: SynthConfig,
        progress: str | None = None,
        batch: int = 0,
    ) -> None:
        self.out = out.rstrip("/")
        self.batch = batch
        self.backend_name, self.bases_path, self.config = backend, bases, config
        self.progress = progress  # local folder for kinefake.pipelines.progress.Progress (local runs only)
        self.clips = Metrics.counter("samples", "clips")
        self.frames = Metrics.counter("samples", "input_frames")
        self.written = Metrics.counter("samples", "samples")
        self.rejected = Metrics.counter("samples", "rejected")
        self.groups_made = Metrics.counter("samples", "groups_made")
        self.groups_kept = Metrics.counter("samples", "groups_kept")

    def setup(self) -> None:
        one_thread_per_library()
        skip_final_collections()
        self.backend = make_backend(self.backend_name)
        with local_copy(self.bases_path) if self.bases_path else contextlib.nullcontext() as local:
            self.bases = Bases.of(*load_bases(local))

    def teardown(self) -> None:
        behind = getattr(self, "behind", None)
        if behind is not None:
            behind.close()
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.close()

    def start_bundle(self) -> None:
        self.behind = SamplesBehind()

    def process(self, item, num_shards: dict[str, int], total: int):
        try:
            yield from self.group_outputs(item, num_shards, total)
        except BaseException:
            self.behind.close()  # the group behind writes nothing after an error (or a Ctrl-C) here
            raise

    def group_outputs(self, item, num_shards: dict[str, int], total: int):
        (split, index, group), clips = item
        clips = list(clips)
        shard = shard_name(split, index, num_shards[split], self.batch)
        part = ShardGroup(split, index, group, clips, posixpath.join(self.out, part_name(shard, group)), total)
        record = posixpath.join(self.out, group_record(shard, group))
        rows = read_group(record, clips)
        if rows is not None and rows.samples and not FileSystems.exists(part.uri):
            rows = rows if FileSystems.exists(posixpath.join(self.out, shard)) else None  # joined, or lost
        if rows is not None:
            yield from self.outputs(part, rows, kept=True)
            return
        for made, rows in self.start(part, shard, record):
            yield from self.outputs(made, rows)

    def finish_bundle(self):
        try:
            finished = self.behind.drain()
        finally:
            self.behind.close()
        for made, rows in finished:
            for output in self.outputs(made, rows):
                if isinstance(output, beam.pvalue.TaggedOutput):
                    yield beam.pvalue.TaggedOutput(output.tag, GlobalWindows.windowed_value(output.value))
                else:
                    yield GlobalWindows.windowed_value(output)

    def start(self, part: ShardGroup, shard: str, record: str) -> list[tuple[ShardGroup, GroupRows]]:
        """Fit a group's landmarks on this thread and leave its samples to :class:`SamplesBehind`
        (streamed into its part file, then its record written); the group that was behind,
        finished, if there was one."""
        group = DonorGroup(part.clips, self.backend, self.bases, self.config)
        rows = GroupRows()
        try:
            with self.config.reader(open_source) as videos:
                for event in group.fit(videos):
                    if isinstance(event, Landmarks):
                        rows.landmarks.append((event.clip, clip_landmark_rows(event.clip, event.landmarks)))
                    else:
                        rows.rejects.append(self.reject(event))
        except BaseException:
            group.close()
            raise
        return self.behind.push(group, functools.partial(self.finish, part, rows, shard, record))

    def finish(
        self, part: ShardGroup, rows: GroupRows, shard: str, record: str, events: Iterator[Made | Failed]
    ) -> tuple[ShardGroup, GroupRows]:
        """Stream a group's samples into its part file and write the group's record."""
        size, seed = self.config.samples.size, self.config.seed
        with contextlib.ExitStack() as stack:
            writer = None
            for event in events:
                if isinstance(event, Failed):
                    rows.rejects.append(self.reject(event))
                    continue
                if writer is None:
                    writer = stack.enter_context(SampleTarWriter(stack.enter_context(atomic_writer(part.uri))))
                writer.write({"__key__": event.sample.key, **event.sample.members})
                rows.samples.append(sample_record(event.clip, event.sample, shard, size, seed))
        write_group(record, part.clips, rows)
        return part, rows

    @staticmethod
    def reject(event: Failed) -> RejectRecord:
        clip = event.clip
        return reject_record(event.stage, clip.uri, clip.video_id, event.error, clip.clip, event.variant)

    def outputs(self, part: ShardGroup, rows: GroupRows, kept: bool = False):
        """A finished group's outputs, its metrics counted and its progress reported; ``kept``:
        read back from an earlier run's record."""
        (self.groups_kept if kept else self.groups_made).inc()
        self.clips.inc(len(part.clips))
        self.frames.inc(rows.frames)
        self.written.inc(len(rows.samples))
        self.rejected.inc(len(rows.rejects))
        yield from rows.samples
        for landmarks in rows.landmarks:
            yield beam.pvalue.TaggedOutput(LANDMARKS, landmarks)
        for reject in rows.rejects:
            yield beam.pvalue.TaggedOutput(REJECTS, reject)
        if self.progress:
            done = {"clips": len(part.clips), "frames": rows.frames, "samples": len(rows.samples)}
            done.update(rejects=len(rows.rejects), total=part.total)
            write_record(self.progress, f"{part.split}-{part.index:05d}-{part.group:05d}", done)
        if rows.samples:
            yield beam.pvalue.TaggedOutput(PARTS, ((part.split, part.index), (part.group, part.uri, len(rows.samples))))


class JoinShardFn(beam.DoFn):
    """``((split, shard index), parts)`` -> the :class:`FileRecord` of the shard's tar, written from its
    parts in group order (the same bytes one writer would have written); the parts are
    deleted once the tar is complete."""

    def __init__(self, out: str, batch: int = 0) -> None:
        self.out = out.rstrip("/")
        self.batch = batch

    def process(self, item, num_shards: dict[str, int]):
        (split, index), parts = item
        parts = sorted(parts)
        shard = shard_name(split, index, num_shards[split], self.batch)
        uri = posixpath.join(self.out, shard)
        if FileSystems.exists(uri) and not all(FileSystems.exists(part) for _, part, _ in parts):
            # A retry, or a resumed run, after the parts were joined (and some or all deleted):
            # the tar is complete (it is renamed into place before any part is deleted).
            yield dataclasses.replace(file_record(uri, self.out), samples=sum(n for _, _, n in parts))
            return
        samples = 0
        with atomic_writer(uri) as f:
            sink = HashingWriter(f)
            with SampleTarWriter(sink) as writer:
                for _, part, _ in parts:
                    for sample in read_samples(part):
                        writer.write(sample)
                        samples += 1
        FileSystems.delete([part for _, part, _ in parts])
        yield FileRecord(shard, sink.digest.hexdigest(), sink.bytes, samples=samples)


def assign_groups(item, offsets: tuple[dict[tuple[str, str], int], dict[str, int]], clips_per_shard: int):
    """``((split, video id), clips)`` -> ``((split, shard, group), clip)`` for each, from the
    video's offset in its split."""
    (split, video_id), clips = item
    first, total = offsets[0][split, video_id], offsets[1][split]
    for i, clip in enumerate(sorted(clips, key=lambda c: c.clip)):
        yield (split, *group_of_rank(first + i, total, clips_per_shard, DONOR_GROUP)), clip


class Synthesize(beam.PTransform):
    """PCollection[ClipRecord] -> {"samples": SampleRecord, "landmarks": (ClipRecord, pa.Table of its rows),
    "rejects": RejectRecord, "files": FileRecord of each tar, "clips": ``{split: clips}`` (a
    singleton)}; the WebDataset shards are written on the way, numbered within each split
    (see the module doc)."""

    def __init__(self, clips_per_shard: int, fn: SynthesizeGroupFn) -> None:
        super().__init__()
        if clips_per_shard < 1:
            raise ValueError(f"expected clips_per_shard >= 1, got {clips_per_shard}")
        self.clips_per_shard = clips_per_shard
        self.fn = fn

    def expand(self, clips):
        per_shard = self.clips_per_shard
        by_video = (
            clips | "KeyByVideo" >> beam.Map(lambda c: ((c.split, c.video_id), c)) | "GroupByVideo" >> beam.GroupByKey()
        )
        offsets = (
            by_video
            | "ClipsPerVideo" >> beam.Map(lambda item: (*item[0], len(list(item[1]))))
            | "AllVideos" >> beam.combiners.ToList()
            | "VideoOffsets" >> beam.Map(video_offsets)
        )
        num_shards = beam.pvalue.AsSingleton(
            offsets | "NumShards" >> beam.Map(lambda o: {s: shard_count(n, per_shard) for s, n in o[1].items()})
        )
        per_split = offsets | "Clips" >> beam.Map(lambda o: o[1])
        total = per_split | "AllClips" >> beam.Map(lambda counts: sum(counts.values()))
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
            | "JoinShards" >> beam.ParDo(JoinShardFn(self.fn.out, self.fn.batch), num_shards=num_shards)
        )
        return {
            "samples": out.samples,
            "landmarks": out[LANDMARKS],
            "rejects": out[REJECTS],
            "files": files,
            "clips": per_split,
        }

"""Shard stage: input specs -> probed videos -> clips, and a rejects row for every loss."""

from __future__ import annotations

import io
import os
import posixpath

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipelines.fs import is_remote, list_files, open_source, read_bytes
from pipelines.rejects import REJECTS, reject_record
from schemas import InputRecord, RejectRecord
from synth.errors import Rejected
from synth.shard import is_manifest, is_video_name, plan_clips, read_manifest, video_id_for
from synth.video import DEFAULT_TIMEOUT_S, probe

STAGE = "shard"


def _is_folder(spec: str) -> bool:
    """A local directory, or a remote prefix written with a trailing slash."""
    return spec.endswith("/") if is_remote(spec) else os.path.isdir(spec)


class ExpandInputSpecs(beam.DoFn):
    """An input spec (glob, folder or manifest) -> one :class:`InputRecord` per video.

    A folder yields the video files directly inside it (by extension); a glob yields
    everything it matches; a manifest yields its rows. A spec that matches nothing or a
    manifest that cannot be read goes to the ``rejects`` output.
    """

    def __init__(self) -> None:
        self.unmatched = Metrics.counter(STAGE, "unmatched_specs")

    def process(self, spec: str):
        try:
            if is_manifest(spec) and "*" not in spec:
                yield from self._manifest(spec)
                return
            folder = _is_folder(spec)
            paths = list_files(posixpath.join(spec, "*") if folder else spec)
            if folder:
                paths = [p for p in paths if is_video_name(p)]
            if not paths:
                raise Rejected("no input matched", f"{spec!r} matches no {'video ' if folder else ''}file")
            for path in paths:
                yield InputRecord(uri=path, video_id=video_id_for(path))
        except Rejected as exc:
            self.unmatched.inc()
            yield beam.pvalue.TaggedOutput(REJECTS, reject_record(STAGE, spec, None, exc))

    def _manifest(self, spec: str):
        if not FileSystems.exists(spec):
            raise Rejected("file not found", f"no manifest at {spec!r}")
        records, empty_rows = read_manifest(io.BytesIO(read_bytes(spec)), spec)
        yield from records
        for row in empty_rows:
            yield beam.pvalue.TaggedOutput(
                REJECTS, RejectRecord(f"{spec}#row={row}", None, None, STAGE, "bad manifest", "the 'uri' cell is empty")
            )


class DropDuplicateInputs(beam.DoFn):
    """(video_id, records) -> one record kept, the rest rejected as duplicates.

    Two specs naming the same file (a glob and a manifest, say) would otherwise yield
    every sample twice. The kept one is the smallest URI, preferring a row that names a
    split (a manifest's) over one that does not (a glob's), so the choice is deterministic.
    """

    def process(self, item):
        video_id, records = item
        ordered = sorted(records, key=lambda r: (r.uri, r.split is None, r.split or ""))
        yield ordered[0]
        for dup in ordered[1:]:
            yield beam.pvalue.TaggedOutput(
                REJECTS,
                RejectRecord(
                    dup.uri,
                    video_id,
                    None,
                    STAGE,
                    "duplicate input",
                    f"video_id {video_id} is already {ordered[0].uri}",
                ),
            )


class ProbeAndPlanClips(beam.DoFn):
    """:class:`InputRecord` -> :class:`ClipRecord` per clip, or a reject naming why not."""

    def __init__(self, clip_frames: int, clip_stride: int | None, max_clips_per_video: int | None, timeout_s: float):
        self.clip_frames = clip_frames
        self.clip_stride = clip_stride
        self.max_clips_per_video = max_clips_per_video
        self.timeout_s = timeout_s
        self.videos = Metrics.counter(STAGE, "videos")
        self.clips = Metrics.counter(STAGE, "clips")
        self.rejected = Metrics.counter(STAGE, "rejected_videos")

    def process(self, ref: InputRecord):
        try:
            with open_source(ref.uri) as src:
                info = probe(src, timeout_s=self.timeout_s)
            clips = plan_clips(info, ref, self.clip_frames, self.clip_stride, self.max_clips_per_video)
        except Rejected as exc:
            self.rejected.inc()
            yield beam.pvalue.TaggedOutput(REJECTS, reject_record(STAGE, ref.uri, ref.video_id, exc))
            return
        self.videos.inc()
        self.clips.inc(len(clips))
        yield from clips


class ShardVideos(beam.PTransform):
    """PCollection[str] of input specs -> {"clips": ClipRecord, "rejects": RejectRecord}."""

    def __init__(
        self,
        clip_frames: int = 32,
        clip_stride: int | None = None,
        max_clips_per_video: int | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        super().__init__()
        if clip_frames < 1 or (clip_stride is not None and clip_stride < 1):
            raise ValueError(f"expected --clip-frames >= 1 and --clip-stride >= 1, got {clip_frames}, {clip_stride}")
        if max_clips_per_video is not None and max_clips_per_video < 1:
            raise ValueError(f"expected --max-clips-per-video >= 1, got {max_clips_per_video}")
        self.plan = ProbeAndPlanClips(clip_frames, clip_stride, max_clips_per_video, timeout_s)

    def expand(self, specs):
        expanded = specs | "ExpandInputSpecs" >> beam.ParDo(ExpandInputSpecs()).with_outputs(REJECTS, main="inputs")
        unique = (
            expanded.inputs
            | "KeyByVideoId" >> beam.Map(lambda r: (r.video_id, r))
            | "GroupByVideoId" >> beam.GroupByKey()
            | "DropDuplicateInputs" >> beam.ParDo(DropDuplicateInputs()).with_outputs(REJECTS, main="inputs")
        )
        planned = unique.inputs | "ProbeAndPlanClips" >> beam.ParDo(self.plan).with_outputs(REJECTS, main="clips")
        rejects = (expanded[REJECTS], unique[REJECTS], planned[REJECTS]) | "FlattenRejects" >> beam.Flatten()
        return {"clips": planned.clips, "rejects": rejects}

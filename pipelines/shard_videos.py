"""Shard stage: input specs -> probed videos -> clips, and a rejects row for every loss."""

from __future__ import annotations

import dataclasses
import io
import os
import posixpath

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from kinefake.errors import Rejected
from kinefake.fs import is_folder, is_remote, list_entries, open_source, read_bytes, source_size
from kinefake.pipelines.reject_rows import REJECTS, reject_record
from kinefake.schemas import InputRecord, RejectRecord
from kinefake.synth.sharding import (
    ClipPlan,
    SplitPlan,
    content_digest,
    identify,
    is_manifest,
    is_video_name,
    read_input_manifest,
)
from kinefake.synth.video import DEFAULT_TIMEOUT_S, probe

STAGE = "shard"


class ExpandInputSpecs(beam.DoFn):
    """An input spec (glob, folder or manifest) -> one :class:`InputRecord` per named input.

    A folder yields every entry directly inside it named like a video (by extension), a
    glob everything it matches, directories and broken links included (the next step
    rejects them by name rather than skip them); a manifest yields its rows. A spec that
    matches nothing, a manifest that cannot be read and a manifest row that cannot be used
    go to the ``rejects`` output.
    """

    def __init__(self) -> None:
        self.unmatched = Metrics.counter(STAGE, "unmatched_specs")

    def process(self, spec: str):
        try:
            if is_manifest(spec) and "*" not in spec:
                yield from self._manifest(spec)
                return
            folder = is_folder(spec)
            paths = list_entries(posixpath.join(spec, "*") if folder else spec)
            if folder:
                paths = [p for p in paths if is_video_name(p)]
            if not paths:
                raise Rejected("no input matched", f"{spec!r} matches no {'video ' if folder else ''}file")
            for path in paths:
                yield InputRecord(uri=path)
        except Rejected as exc:
            self.unmatched.inc()
            yield beam.pvalue.TaggedOutput(REJECTS, reject_record(STAGE, spec, None, exc))

    def _manifest(self, spec: str):
        if not FileSystems.exists(spec):
            raise Rejected("file not found", f"no manifest at {spec!r}")
        records, rejected = read_input_manifest(io.BytesIO(read_bytes(spec)), spec)
        yield from records
        for uri, exc in rejected:
            yield beam.pvalue.TaggedOutput(REJECTS, reject_record(STAGE, uri, None, exc))


def identify_input(ref: InputRecord) -> InputRecord:
    """``ref`` with its content digest and video id (local or remote).

    Raises:
        Rejected: it is not a readable file (see :func:`kinefake.fs.source_size`).
    """
    size = source_size(ref.uri)
    try:
        with FileSystems.open(ref.uri, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            return identify(ref, content_digest(f, size))
    except OSError as exc:
        raise Rejected("unreadable", f"cannot read {ref.uri!r}: {exc}") from None


class IdentifyVideos(beam.DoFn):
    """:class:`InputRecord` -> the same with its content digest and video id, or a reject."""

    def process(self, ref: InputRecord):
        try:
            yield identify_input(ref)
        except Rejected as exc:
            yield beam.pvalue.TaggedOutput(REJECTS, reject_record(STAGE, ref.uri, ref.video_id, exc))


def preference(ref: InputRecord) -> tuple:
    """Sort key of duplicate inputs, the one to keep first (see :class:`DropDuplicates`)."""
    normal = ref.uri if is_remote(ref.uri) else os.path.normpath(ref.uri)
    return (not ref.given_id, ref.split is None, normal != ref.uri, ref.uri, ref.split or "")


class DropDuplicates(beam.DoFn):
    """(key, records) -> one record kept, the rest rejected as duplicates of it: "duplicate
    input" when a record has the kept one's content, "duplicate video_id" when it is
    another file under the same id.

    Used twice: by video id (two files a manifest gives one id; two names of one file
    get one content-derived id), then by content digest (copies the manifest names
    differently), so the same video never lands in train and test. The kept one is, in
    this order of preference: a row that gives a video id, one that names a split (a
    manifest's over a glob's), one whose URI is in normal form (no ``..`` or ``//``),
    the smallest URI; so the choice is deterministic.
    """

    def process(self, item):
        _, records = item
        kept, *dups = sorted(records, key=preference)
        yield kept
        for dup in dups:
            if dup.digest == kept.digest:
                reason, detail = "duplicate input", f"same content as {kept.uri}"
            else:
                reason, detail = "duplicate video_id", f"video_id {kept.video_id} is already given to {kept.uri}"
            yield beam.pvalue.TaggedOutput(REJECTS, RejectRecord(dup.uri, dup.video_id, None, STAGE, reason, detail))


@dataclasses.dataclass(frozen=True)
class KnownVideos:
    """The videos a corpus already holds (``generate --append``): content digest -> source
    URI, and video id -> source URI, from its clips table."""

    digests: dict[str, str] = dataclasses.field(default_factory=dict)
    ids: dict[str, str] = dataclasses.field(default_factory=dict)


class DropKnown(beam.DoFn):
    """:class:`InputRecord` -> itself, or a reject when the corpus being appended to holds its
    content ("duplicate input") or its video id under another file ("duplicate video_id")."""

    def __init__(self, known: KnownVideos) -> None:
        self.known = known

    def process(self, ref: InputRecord):
        if ref.digest in self.known.digests:
            reason = "duplicate input"
            detail = f"same content as {self.known.digests[ref.digest]}, already in the corpus"
        elif ref.video_id in self.known.ids:
            reason = "duplicate video_id"
            detail = f"video_id {ref.video_id} is already given to {self.known.ids[ref.video_id]} in the corpus"
        else:
            yield ref
            return
        yield beam.pvalue.TaggedOutput(REJECTS, RejectRecord(ref.uri, ref.video_id, None, STAGE, reason, detail))


class ProbeAndPlanClips(beam.DoFn):
    """:class:`InputRecord` -> :class:`ClipRecord` per clip, or a reject naming why not."""

    def __init__(self, plan: ClipPlan, timeout_s: float):
        self.plan = plan
        self.timeout_s = timeout_s
        self.videos = Metrics.counter(STAGE, "videos")
        self.clips = Metrics.counter(STAGE, "clips")
        self.rejected = Metrics.counter(STAGE, "rejected_videos")

    def process(self, ref: InputRecord):
        try:
            with open_source(ref.uri) as src:
                info = probe(src, timeout_s=self.timeout_s)
            clips = self.plan.clips(info, ref)
        except Rejected as exc:
            self.rejected.inc()
            yield beam.pvalue.TaggedOutput(REJECTS, reject_record(STAGE, ref.uri, ref.video_id, exc))
            return
        self.videos.inc()
        self.clips.inc(len(clips))
        yield from clips


class ShardVideos(beam.PTransform):
    """PCollection[str] of input specs -> {"clips": ClipRecord, "rejects": RejectRecord}; each
    video's clips carry its split (``splits``, after duplicates are dropped: one video, one
    split) and the run's ``batch``; a video in ``known`` (a corpus appended to) is a reject."""

    def __init__(
        self,
        plan: ClipPlan,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        splits: SplitPlan | None = None,
        batch: int = 0,
        known: KnownVideos | None = None,
    ) -> None:
        super().__init__()
        self.plan = ProbeAndPlanClips(plan, timeout_s)
        self.splits = splits or SplitPlan()
        self.batch, self.known = batch, known or KnownVideos()

    def expand(self, specs):
        expanded = specs | "ExpandInputSpecs" >> beam.ParDo(ExpandInputSpecs()).with_outputs(REJECTS, main="inputs")
        identified = (
            expanded.inputs
            | "SpreadInputs" >> beam.Reshuffle()
            | "IdentifyVideos" >> beam.ParDo(IdentifyVideos()).with_outputs(REJECTS, main="inputs")
        )
        same_id = (
            identified.inputs
            | "KeyByVideoId" >> beam.Map(lambda r: (r.video_id, r))
            | "GroupByVideoId" >> beam.GroupByKey()
            | "DropSameId" >> beam.ParDo(DropDuplicates()).with_outputs(REJECTS, main="inputs")
        )
        unique = (
            same_id.inputs
            | "KeyByDigest" >> beam.Map(lambda r: (r.digest, r))
            | "GroupByDigest" >> beam.GroupByKey()
            | "DropSameContent" >> beam.ParDo(DropDuplicates()).with_outputs(REJECTS, main="inputs")
        )
        new = unique.inputs | "DropKnown" >> beam.ParDo(DropKnown(self.known)).with_outputs(REJECTS, main="inputs")
        splits, batch = self.splits, self.batch
        planned = (
            new.inputs
            | "AssignSplits" >> beam.Map(lambda r: dataclasses.replace(r, split=splits.split_of(r)))
            | "ProbeAndPlanClips" >> beam.ParDo(self.plan).with_outputs(REJECTS, main="clips")
        )
        clips = planned.clips | "Batch" >> beam.Map(lambda c: dataclasses.replace(c, batch=batch) if batch else c)
        rejects = (
            expanded[REJECTS],
            identified[REJECTS],
            same_id[REJECTS],
            unique[REJECTS],
            new[REJECTS],
            planned[REJECTS],
        ) | "FlattenRejects" >> beam.Flatten()
        return {"clips": clips, "rejects": rejects}

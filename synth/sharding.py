"""Shard stage, Beam-free: video ids, manifest parsing and clip planning."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import posixpath
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq

from kinefake.errors import Rejected
from kinefake.schemas.clips import ClipRecord
from kinefake.schemas.inputs import (
    CONTENT_ID_HEX,
    DEFAULT_SPLIT,
    SPLIT_COLUMN,
    SPLIT_PATTERN,
    URI_COLUMN,
    VIDEO_ID_COLUMN,
    VIDEO_ID_PATTERN,
    InputRecord,
)
from kinefake.synth.video import VideoInfo

#: File endings treated as videos when a whole folder is given as input.
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".3gp"}
)
#: File endings read as manifests rather than videos.
MANIFEST_EXTENSIONS = frozenset({".csv", ".parquet"})


#: Bytes hashed from each end of a video for its content digest.
DIGEST_SPAN = 1 << 20


def content_digest(f: BinaryIO, size: int) -> str:
    """SHA-256 hex of a video's size and its first and last :data:`DIGEST_SPAN` bytes (the
    whole file when it is smaller than twice that): one digest however the file is named.

    Args:
        f: the file, opened for binary reading at its start.
        size: its length in bytes.
    """
    digest = hashlib.sha256(size.to_bytes(8, "little"))
    if size <= 2 * DIGEST_SPAN:
        digest.update(f.read())
    else:
        digest.update(f.read(DIGEST_SPAN))
        f.seek(size - DIGEST_SPAN)
        digest.update(f.read(DIGEST_SPAN))
    return digest.hexdigest()


def identify(ref: InputRecord, digest: str) -> InputRecord:
    """``ref`` with its content ``digest``, and a video id from it unless the manifest gave one."""
    return dataclasses.replace(ref, digest=digest, video_id=ref.video_id or digest[:CONTENT_ID_HEX])


def local_input(path: str | os.PathLike) -> InputRecord:
    """A local video file as an input record, identified by its content."""
    with open(path, "rb") as f:
        return identify(InputRecord(os.fspath(path)), content_digest(f, os.fstat(f.fileno()).st_size))


def check_video_id(video_id: str) -> None:
    """Raises:
    Rejected: "bad video_id" when ``video_id`` is not :data:`~kinefake.schemas.inputs.VIDEO_ID_PATTERN`
        (it names tar members and keys, so ``../x``, ``/abs`` or ``a.b`` would escape or split them).
    """
    if not VIDEO_ID_PATTERN.fullmatch(video_id):
        raise Rejected(
            "bad video_id",
            f"video_id {video_id!r} is not 1-64 characters of A-Z, a-z, 0-9, '_' and '-' "
            "(it starts every sample key and tar member name)",
        )


def check_split(split: str) -> None:
    """Raises: Rejected: "bad split" when ``split`` is not a :data:`~kinefake.schemas.inputs.SPLIT_PATTERN` name."""
    if not SPLIT_PATTERN.fullmatch(split):
        raise Rejected(
            "bad split",
            f"split {split!r}: expected a lower-case letter then up to 31 lower-case letters, digits or _ "
            "(it names a folder and a HuggingFace split)",
        )


@dataclasses.dataclass(frozen=True)
class SplitPlan:
    """How source videos are assigned to splits: the one owner of ``--splits`` and its checks.

    A video keeps the split its manifest row names; any other video is drawn by its content
    digest and ``seed`` alone (:meth:`split_of`), so a video's split never depends on which
    other videos are in the run (appending videos leaves the others where they were), and the
    copies of one video, which the shard stage drops by digest, could never straddle splits.
    With no fractions every such video goes to :data:`~kinefake.schemas.inputs.DEFAULT_SPLIT`.

    Attributes:
        fractions: ``(split, fraction)`` pairs in the order given; fractions > 0 summing to 1.
        seed: the run's ``--seed``.

    Raises:
        ValueError: a bad name, a repeated name, a fraction outside (0, 1] or a sum other than 1.
    """

    fractions: tuple[tuple[str, float], ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        names = [name for name, _ in self.fractions]
        for name in names:
            if not SPLIT_PATTERN.fullmatch(name):
                raise ValueError(f"--splits: expected names like train or val_2, got {name!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"--splits: expected each split once, got {', '.join(names)}")
        if any(not 0 < f <= 1 for _, f in self.fractions):
            raise ValueError(f"--splits: expected fractions in (0, 1], got {dict(self.fractions)}")
        if self.fractions and abs(sum(f for _, f in self.fractions) - 1) > 1e-6:
            raise ValueError(f"--splits: expected fractions summing to 1, got {sum(f for _, f in self.fractions):g}")

    @classmethod
    def parse(cls, text: str | None, seed: int = 0) -> SplitPlan:
        """``train=0.8,val=0.1,test=0.1`` (or None) -> the plan.

        Raises:
            ValueError: not ``name=fraction`` pairs, or a check of the class fails.
        """
        if text is None:
            return cls((), seed)
        pairs = []
        for item in text.split(","):
            name, eq, value = item.strip().partition("=")
            try:
                pairs.append((name.strip(), float(value)))
            except ValueError:
                eq = ""
            if not eq:
                raise ValueError(f"--splits: expected name=fraction pairs like train=0.8,test=0.2, got {text!r}")
        return cls(tuple(pairs), seed)

    def split_of(self, ref: InputRecord) -> str:
        """The split of an identified input (``ref.digest`` set): its manifest's, else drawn."""
        if ref.split is not None:
            return ref.split
        if not self.fractions:
            return DEFAULT_SPLIT
        draw = hashlib.sha256(f"kinefake-split:{self.seed}:{ref.digest}".encode()).digest()
        u = int.from_bytes(draw[:8], "big") / 2.0**64
        total = 0.0
        for name, fraction in self.fractions:
            total += fraction
            if u < total:
                return name
        return self.fractions[-1][0]


def is_manifest(uri: str) -> bool:
    return posixpath.splitext(uri.lower())[1] in MANIFEST_EXTENSIONS


def is_video_name(uri: str) -> bool:
    return posixpath.splitext(uri.lower())[1] in VIDEO_EXTENSIONS


def resolve_uri(uri: str, manifest_uri: str) -> str:
    """``uri`` as given when absolute or with a scheme, else relative to the manifest's folder."""
    if "://" in uri or uri.startswith("/"):
        return uri
    return posixpath.join(posixpath.dirname(manifest_uri), uri)


def read_input_manifest(f: BinaryIO, manifest_uri: str) -> tuple[list[InputRecord], list[tuple[str, Rejected]]]:
    """Parse a CSV or Parquet manifest with a ``uri`` column, optional ``video_id``, ``split``.

    Args:
        f: the manifest's bytes, opened by the caller.
        manifest_uri: where it came from; decides CSV vs Parquet and anchors relative URIs.

    Returns:
        The usable rows (``video_id`` None where the manifest gives none), and for each
        unusable row what to report: its URI (``{manifest}#row={n}``, 1-based, when the
        ``uri`` cell is empty) and why (empty ``uri``, a ``video_id`` outside
        :data:`~kinefake.schemas.inputs.VIDEO_ID_PATTERN`, a ``split`` outside
        :data:`~kinefake.schemas.inputs.SPLIT_PATTERN`). An empty ``split`` cell is no split.

    Raises:
        Rejected: "bad manifest" when it cannot be parsed or has no ``uri`` column.
    """
    data = f.read()
    try:
        if manifest_uri.lower().endswith(".parquet"):
            table = pq.ParquetFile(io.BytesIO(data)).read(use_threads=False)  # why: kinefake.fs.read_columns
        else:
            table = pyarrow.csv.read_csv(
                io.BytesIO(data),
                convert_options=pyarrow.csv.ConvertOptions(
                    column_types={c: pa.string() for c in (URI_COLUMN, VIDEO_ID_COLUMN, SPLIT_COLUMN)}
                ),
            )
    except (pa.ArrowInvalid, OSError) as exc:
        raise Rejected("bad manifest", f"cannot parse {manifest_uri}: {exc}") from None
    if URI_COLUMN not in table.column_names:
        raise Rejected("bad manifest", f"no '{URI_COLUMN}' column; columns are {table.column_names}")
    records = []
    rejected = []
    for number, row in enumerate(table.to_pylist(), start=1):
        uri = row[URI_COLUMN]
        if not uri:
            rejected.append((f"{manifest_uri}#row={number}", Rejected("bad manifest", "the 'uri' cell is empty")))
            continue
        uri = resolve_uri(str(uri), manifest_uri)
        video_id = row.get(VIDEO_ID_COLUMN) or None  # an empty cell: derive the id from content
        split = row.get(SPLIT_COLUMN) or None
        try:
            if video_id is not None:
                check_video_id(str(video_id))
            if split is not None:
                check_split(str(split))
        except Rejected as exc:
            rejected.append((uri, exc))
            continue
        records.append(
            InputRecord(uri, None if video_id is None else str(video_id), None if split is None else str(split))
        )
    return records, rejected


@dataclasses.dataclass(frozen=True)
class ClipPlan:
    """How every video is cut into clips: the one owner of these settings and their checks.

    Attributes:
        frames: frames per clip (``--clip-frames``).
        stride: frames between clip starts (``--clip-stride``); None: ``frames`` (back to back).
        max_clips: clips kept per video, spread evenly (``--max-clips-per-video``); None: all.

    Raises:
        ValueError: ``frames`` or ``stride`` below 1, or ``max_clips`` below 1.
    """

    frames: int = 32
    stride: int | None = None
    max_clips: int | None = None

    def __post_init__(self) -> None:
        if self.frames < 1 or self.step < 1:
            raise ValueError(f"expected --clip-frames >= 1 and --clip-stride >= 1, got {self.frames}, {self.step}")
        if self.max_clips is not None and self.max_clips < 1:
            raise ValueError(f"expected --max-clips-per-video >= 1 or none, got {self.max_clips}")

    @property
    def step(self) -> int:
        """Frames between clip starts, ``stride`` or else ``frames``."""
        return self.frames if self.stride is None else self.stride

    def clips(self, info: VideoInfo, ref: InputRecord) -> list[ClipRecord]:
        """Cut a probed video into clips of ``frames`` frames every ``step`` frames.

        Clip ``k`` always starts at frame ``k * step``, so its index means the same thing
        whatever the cap. With ``max_clips`` the kept clips are spread evenly over the video
        (first and last included), not just the first ones.

        Raises:
            Rejected: "too short" when the video holds fewer than ``frames`` frames.
        """
        n = info.frame_count
        if n < self.frames:
            plural = "frame" if n == 1 else "frames"
            raise Rejected(
                "too short",
                f"the video has {n} {plural}; one clip needs {self.frames} (--clip-frames)",
                measured=float(n),
                threshold=float(self.frames),
            )
        candidates = (n - self.frames) // self.step + 1
        keep = np.arange(candidates)
        if self.max_clips is not None and candidates > self.max_clips:
            keep = np.unique(np.round(np.linspace(0, candidates - 1, self.max_clips)).astype(int))
        return [clip_record(info, ref, k, k * self.step, self.frames) for k in keep.tolist()]


def clip_record(info: VideoInfo, ref: InputRecord, index: int, start: int, frames: int) -> ClipRecord:
    """Clip ``index`` of a probed video: ``frames`` frames from frame ``start``."""
    return ClipRecord(
        video_id=ref.video_id,
        clip=index,
        uri=ref.uri,
        split=ref.split,
        start_frame=start,
        num_frames=frames,
        start_pts=info.frame_pts[start] if info.frame_pts else None,
        fps_num=info.fps_num,
        fps_den=info.fps_den,
        width=info.width,
        height=info.height,
        rotation=info.rotation,
        codec=info.codec,
        video_frames=info.frame_count,
        stream=info.stream,
        digest=ref.digest or "",
    )


def shard_count(clips: int, clips_per_shard: int) -> int:
    """How many WebDataset shards ``clips`` clips fill at ``clips_per_shard`` on average."""
    return max(1, -(-clips // clips_per_shard))


def shard_of_rank(rank: int, clips: int, clips_per_shard: int) -> int:
    """The shard (0-based) of the clip at ``rank`` in (video id, clip) order among ``clips``.

    Shards are contiguous runs of that order whose sizes differ by at most one, so shard
    names have no gaps, shards are balanced, and a video's neighbouring clips share one.
    """
    return rank * shard_count(clips, clips_per_shard) // clips


def video_offsets(counts: list[tuple[str, str, int]]) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """``(split, video id, clips)`` triples -> the rank of each ``(split, video id)``'s first
    clip in its split's (video id, clip) order, and each split's number of clips."""
    offsets, totals = {}, {}
    for split, video_id, n in sorted(counts):
        offsets[split, video_id] = totals.get(split, 0)
        totals[split] = totals.get(split, 0) + n
    return offsets, totals


def shard_start(shard: int, clips: int, clips_per_shard: int) -> int:
    """The rank of the first clip of ``shard`` (the inverse of :func:`shard_of_rank`)."""
    n = shard_count(clips, clips_per_shard)
    return -(-shard * clips // n)


def group_of_rank(rank: int, clips: int, clips_per_shard: int, group_size: int) -> tuple[int, int]:
    """``(shard, group)`` of the clip at ``rank``: its shard's clips in order, cut into the
    fewest contiguous runs of at most ``group_size`` whose sizes differ by at most one (the
    donor groups of :func:`kinefake.synth.donor_group.synthesize_group`; equal sizes keep the units of
    parallel work equal)."""
    shard = shard_of_rank(rank, clips, clips_per_shard)
    start, end = shard_start(shard, clips, clips_per_shard), shard_start(shard + 1, clips, clips_per_shard)
    size = end - start
    return shard, (rank - start) * -(-size // group_size) // size


def assign_groups(
    clips: list[ClipRecord], clips_per_shard: int, group_size: int
) -> dict[str, tuple[int, str, int, int]]:
    """Every clip's ``(batch, split, shard, donor group)``, by clip key (what the pipeline
    computes, in one place): shards are numbered within a run's batch and a split, so a donor
    group never mixes splits, nor an ``--append``'s videos with the corpus's."""
    by_part: dict[tuple[int, str], list[ClipRecord]] = {}
    for clip in clips:
        by_part.setdefault((clip.batch, clip.split), []).append(clip)
    groups = {}
    for part, members in by_part.items():
        ordered = sorted(members, key=lambda c: (c.video_id, c.clip))
        for i, c in enumerate(ordered):
            groups[c.key] = (*part, *group_of_rank(i, len(ordered), clips_per_shard, group_size))
    return groups

"""Reading a finished corpus back: its manifest, and its samples as WebDataset members.

Works on local folders and ``gs://`` alike (Beam's filesystems open the files); the tars
are expanded with webdataset's own tar iterators, so a sample is grouped exactly as a
user's ``webdataset.WebDataset`` loader groups it. :mod:`kinefake.corpus.reader` decodes the members.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import tarfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from kinefake.errors import CorpusError, Rejected
from kinefake.fs import is_remote, list_files, parquet_footer, read_bytes, read_columns, sha256_of
from kinefake.pipelines.tars import tar_members
from kinefake.schemas import CLIP_SCHEMA, FILE_SCHEMA, LANDMARK_SCHEMA, REJECT_SCHEMA, SAMPLE_SCHEMA, SCHEMA_VERSION
from kinefake.schemas.layout import MANIFEST, TABLE_FOLDERS, corpus_file_kind, shard_glob, table_glob
from kinefake.schemas.members import SAMPLE_KEY_PATTERN

#: Each table's schema, by the name its folder and files carry.
TABLE_SCHEMAS = {"clips": CLIP_SCHEMA, "samples": SAMPLE_SCHEMA, "landmarks": LANDMARK_SCHEMA, "files": FILE_SCHEMA,
                 "rejects": REJECT_SCHEMA}  # fmt: skip


def read_manifest(out: str) -> dict:
    """``OUT/manifest.json`` as a dict.

    Raises:
        CorpusError: no manifest (not a corpus, or a run that did not finish) or not JSON.
    """
    path = posixpath.join(out.rstrip("/"), MANIFEST)
    if not FileSystems.exists(path):
        raise CorpusError(f"{out} has no {MANIFEST}: not a kinefake corpus, or its run did not finish")
    try:
        manifest = json.loads(read_bytes(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise CorpusError(f"{path} is not a kinefake manifest: a JSON {type(manifest).__name__}, not an object")
    return manifest


def table_files(out: str, name: str) -> list[str]:
    """Every Parquet file of table ``name`` (``clips``, ``samples``, ...) of corpus ``out``, sorted."""
    return list_files(posixpath.join(out.rstrip("/"), table_glob(name)))


def read_table(out: str, name: str, columns: list[str]) -> pa.Table:
    """``columns`` of every file of table ``name`` of corpus ``out``, as one table (only those
    column chunks are read)."""
    parts = [read_columns(path, columns) for path in table_files(out, name)]
    return pa.concat_tables(parts) if parts else pa.table({c: pa.array([]) for c in columns})


def shard_paths(out: str, manifest: dict) -> list[str]:
    """The corpus's WebDataset tars, as listed in its manifest, sorted (only names a run
    writes: :func:`inspect_corpus` reports any other)."""
    return sorted(
        posixpath.join(out.rstrip("/"), path) for path in listed_files(manifest) if corpus_file_kind(path) == "shards"
    )


def listed_files(manifest: dict) -> dict[str, dict]:
    """The manifest's file entries by path, only those whose path is a name a run writes
    (never absolute, never ``..``): what a reader may open."""
    shards = manifest.get("shards")
    entries = shards if isinstance(shards, list) else []
    return {
        e["path"]: e
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("path"), str) and corpus_file_kind(e["path"])
    }


def leaves(out: str, uri: str) -> bool:
    """Whether local ``uri`` inside ``out`` resolves (through links) to a place outside ``out``."""
    if is_remote(out):
        return False
    root = os.path.realpath(out)
    return os.path.commonpath([root, os.path.realpath(uri)]) != root


def is_sample_key(key) -> bool:
    """Whether ``key`` (read from a table or a tar) is a sample key, safe to show or look up."""
    return isinstance(key, str) and SAMPLE_KEY_PATTERN.fullmatch(key) is not None


def shown(value, limit: int = 80) -> str:
    """A value read from a corpus, for a one-line message: quoted and cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: What reading a member a corpus stores can raise when its bytes are not what the contract
#: says (bad JSON, a label of another shape, an mp4 FFmpeg cannot read, an npz that is no zip).
MEMBER_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError, EOFError, OSError, zipfile.BadZipFile,
                 Rejected)  # fmt: skip


def one_line(exc: BaseException, limit: int = 160) -> str:
    """An exception as ``Type: message`` on one line, cut to ``limit`` characters."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def schema_misfit(schema: pa.Schema, expected: pa.Schema) -> str | None:
    """The first column of ``expected`` that ``schema`` (a file's) lacks or holds as another type."""
    for column in expected:
        index = schema.get_field_index(column.name)
        if index < 0:
            return f"no column {column.name!r}"
        if not schema.field(index).type.equals(column.type):
            return f"column {column.name!r} is {schema.field(index).type}, expected {column.type}"
    return None


#: Counts a manifest must carry, as non-negative integers.
COUNTED = ("samples", "real_samples", "fake_samples", "clips", "rejects")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass
class Inspection:
    """What :func:`inspect_corpus` found. Paths are relative to ``OUT``.

    Attributes:
        checked: files the manifest lists.
        missing: listed files that are not there.
        mismatched: listed files whose size or SHA-256 is not the manifest's (altered, truncated).
        damaged: ``"path: problem"``: a manifest entry that is not a name a run writes, a
            file that cannot be read as what it is, a file the manifest does not list.
        counts: ``"counts.samples: ..."``: the manifest's counts against its files.
        unreadable: listed files that are there but cannot be read as what they are (or
            lead outside the corpus): no sample is read from them.
    """

    checked: int = 0
    missing: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    counts: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def unusable(self) -> list[str]:
        """Listed files not to read samples from: missing, altered, unreadable."""
        return self.missing + self.mismatched + self.unreadable

    @property
    def readable(self) -> bool:
        """Every listed file is there and reads as what it is: the samples can be read."""
        return not (self.missing or self.unreadable)

    def problems(self) -> list[str]:
        """One line per problem, the file first."""
        return (
            [f"{p}: missing" for p in self.missing]
            + [f"{p}: size or SHA-256 differs from the manifest's (altered or truncated)" for p in self.mismatched]
            + self.damaged
            + self.counts
        )

    def as_dict(self) -> dict:
        return {"checked": self.checked, "missing": self.missing, "mismatched": self.mismatched,
                "damaged": self.damaged, "counts": self.counts}  # fmt: skip


def inspect_corpus(out: str, manifest: dict, deep: bool) -> Inspection:
    """Check a corpus's files against its manifest, never opening a path the manifest names
    unless it is a name a run writes (inside ``OUT``).

    Always: the manifest's shape and schema version; every listed file there with the
    listed size; every Parquet file's footer, row count and columns (its table's schema);
    no table file or tar the manifest does not list; the counts against the tables' rows
    and the tars' samples. ``deep`` also hashes every file and reads every tar's headers
    (``validate``); without it the cost does not grow with the corpus's bytes (``audit``).
    """
    out = out.rstrip("/")
    found = Inspection()
    if manifest.get("schema_version") != SCHEMA_VERSION:
        found.damaged.append(
            f"{MANIFEST}: schema version {shown(manifest.get('schema_version'))}, this kinefake reads "
            f"{SCHEMA_VERSION}: its tables may not fit (make the corpus again with this version)"
        )
    shards = manifest.get("shards")
    if not isinstance(shards, list):
        found.damaged.append(f"{MANIFEST}: no 'shards' list of files")
        shards = []
    listed = listed_files(manifest)
    for i, entry in enumerate(shards):
        path = entry.get("path") if isinstance(entry, dict) else None
        if path not in listed:
            found.damaged.append(f"{MANIFEST}: shards[{i}] path {shown(path)} is not a file name kinefake writes")
    found.checked = len(listed)
    rows: Counter = Counter()
    unknown = set()  # kinds with a file that could not be counted
    for path, entry in sorted(listed.items()):
        kind = corpus_file_kind(path)
        size, sha = entry.get("bytes"), entry.get("sha256")
        expected = entry.get("samples" if kind == "shards" else "rows")
        if not (isinstance(size, int) and isinstance(expected, int) and _SHA256.fullmatch(str(sha))):
            found.damaged.append(f"{MANIFEST}: the entry of {path} lacks its bytes, sha256 or row count")
            unknown.add(kind)
            continue
        uri = posixpath.join(out, path)
        matched = FileSystems.match([uri])[0].metadata_list
        if matched and leaves(out, uri):
            found.damaged.append(f"{path}: a link to outside the corpus, not read")
            found.unreadable.append(path)
            unknown.add(kind)
            continue
        if not matched:
            found.missing.append(path)
            unknown.add(kind)
            continue
        if matched[0].size_in_bytes != size or (deep and sha256_of(uri) != sha):
            found.mismatched.append(path)
        try:
            # A tar's size is checked always, its headers only when deep.
            if kind == "shards":
                counted, misfit = tar_samples(uri) if deep else expected, None
            else:
                counted, schema = parquet_footer(uri)
                misfit = schema_misfit(schema, TABLE_SCHEMAS[kind])
        except (OSError, tarfile.TarError, pa.ArrowException) as exc:
            what = "a WebDataset tar" if kind == "shards" else "a Parquet file"
            found.damaged.append(f"{path}: cannot be read as {what} ({one_line(exc)})")
            found.unreadable.append(path)
            unknown.add(kind)
            continue
        if misfit:
            found.damaged.append(f"{path}: not a kinefake {kind} table: {misfit}")
            found.unreadable.append(path)
        if counted != expected:
            found.counts.append(f"{path}: the manifest says {expected} rows, the file holds {counted}")
        rows[kind] += counted
    for kind in ("shards", *TABLE_FOLDERS):
        pattern = shard_glob() if kind == "shards" else table_glob(kind)
        for uri in list_files(posixpath.join(out, pattern)):
            path = posixpath.relpath(uri, out)
            if path not in listed:
                found.damaged.append(f"{path}: not listed in {MANIFEST}")
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or not all(isinstance(counts.get(c), int) and counts[c] >= 0 for c in COUNTED):
        found.damaged.append(f"{MANIFEST}: 'counts' lacks one of {', '.join(COUNTED)} as a count")
        return found
    for name, table in (("samples", "samples"), ("samples", "shards"), ("clips", "clips"), ("rejects", "rejects")):
        if table not in unknown and rows[table] != counts[name]:
            what = "the tars hold" if table == "shards" else f"the {table} table holds"
            found.counts.append(f"{MANIFEST}: counts.{name} is {counts[name]}, {what} {rows[table]}")
    if counts["real_samples"] + counts["fake_samples"] != counts["samples"]:
        found.counts.append(f"{MANIFEST}: counts.real_samples + counts.fake_samples is not counts.samples")
    return found


def require_intact(out: str, manifest: dict) -> None:
    """Refuse a corpus whose files do not fit its manifest (the shallow checks of
    :func:`inspect_corpus`), before a command spends time on it.

    Raises:
        CorpusError: the first problem, and how many there are.
    """
    problems = inspect_corpus(out, manifest, deep=False).problems()
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CorpusError(f"{out} is damaged: {problems[0]}{more}; kinefake validate {out} lists every problem")


def tar_samples(uri: str) -> int:
    """The samples (distinct keys) of a WebDataset tar, read through its headers.

    Raises:
        tarfile.TarError: not a tar, or truncated.
    """
    return len({key for key, _, _ in tar_members(uri, lambda key: False)})


def iter_samples(out: str, manifest: dict | None = None) -> Iterator[dict]:
    """Every sample of the corpus: ``{"__key__": key, "mp4": bytes, "json": bytes, ...}``, shard by shard."""
    # webdataset imports torch: only the commands that read samples back pay for it.
    from webdataset.tariterators import group_by_keys, tar_file_expander

    manifest = read_manifest(out) if manifest is None else manifest
    for path in shard_paths(out, manifest):
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            yield from group_by_keys(tar_file_expander([{"url": path, "stream": f}]))

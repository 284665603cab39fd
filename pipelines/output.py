"""The output folder: refuse to mix runs, clear stale files, and write manifest.json last.

A run owns ``OUT/manifest.json`` and the folders ``webdataset/``, ``parquet/`` and
``rejects/``, and removes what ``kinefake validate`` wrote about the previous corpus
(``validate.json``, ``validate/*.png``); nothing else under ``OUT`` is touched. ``manifest.json`` is written only
after every shard is complete, so its presence marks a finished run.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
from collections import Counter

from pipelines.fs import list_files, parquet_rows, read_bytes, read_columns, sha256_of, write_atomic
from schemas import SCHEMA_VERSION, FileRecord
from synth import __version__

OWNED_FOLDERS = ("webdataset", "parquet", "rejects")
MANIFEST = "manifest.json"
#: Name prefix of the files table under ``parquet/``.
FILES_TABLE = "files"


class OutputConflict(Exception):
    """The output folder holds a finished run with a different configuration."""


def _join(out: str, *parts: str) -> str:
    return posixpath.join(out.rstrip("/"), *parts)


def owned_files(out: str) -> list[str]:
    files = []
    for folder in OWNED_FOLDERS:
        files += list_files(_join(out, folder, "*"))
    return files


def prepare_output(out: str, config: dict, overwrite: bool) -> None:
    """Make ``out`` ready for a run with ``config``, removing what a previous run left.

    Re-running the same configuration replaces the previous output (same inputs and
    seed give the same samples, so nothing is duplicated); a different configuration is
    refused unless ``overwrite``.

    Raises:
        OutputConflict: a finished run with another configuration is there.
    """
    from apache_beam.io.filesystems import FileSystems

    manifest = _join(out, MANIFEST)
    if FileSystems.exists(manifest) and not overwrite:
        previous = json.loads(read_bytes(manifest)).get("config")
        if previous != config:
            changed = sorted(k for k in set(previous or {}) | set(config) if (previous or {}).get(k) != config.get(k))
            raise OutputConflict(
                f"{out} holds a finished run with a different configuration (differs in: {', '.join(changed)}); "
                "choose another --output or pass --overwrite"
            )
    stale = owned_files(out) + list_files(_join(out, MANIFEST + "*")) + list_files(_join(out, "validate.json*"))
    stale += list_files(_join(out, "validate", "*.png*"))
    if stale:
        FileSystems.delete(stale)


def file_record(uri: str, out: str) -> FileRecord:
    """Checksum one written file (run on the worker that wrote it, not on the launcher)."""
    from apache_beam.io.filesystems import FileSystems

    size = FileSystems.match([uri])[0].metadata_list[0].size_in_bytes
    rows = parquet_rows(uri) if uri.endswith(".parquet") else None
    return FileRecord(posixpath.relpath(uri, out.rstrip("/")), sha256_of(uri), size, rows)


def write_manifest(out: str, config: dict) -> dict:
    """Count, list every file with its checksum, and write ``OUT/manifest.json`` atomically.

    Checksums come from the files table the workers wrote (``parquet/files-*.parquet``),
    so the launcher does not read the corpus back; only that table is hashed here.
    """
    counts = {
        "clips": 0,
        "videos": 0,
        "clips_with_landmarks": 0,
        "samples": 0,
        "real_samples": 0,
        "fake_samples": 0,
        "fakes_by_operator": {},
        "rejects": 0,
        "rejects_by_reason": {},
    }
    operators: Counter = Counter()
    for path in list_files(_join(out, "parquet", "samples-*.parquet")):
        table = read_columns(path, ["label", "operator"])
        for row in table.to_pylist():
            counts["samples"] += 1
            counts["fake_samples" if row["label"] else "real_samples"] += 1
            if row["label"]:
                operators[row["operator"]] += 1
    counts["fakes_by_operator"] = dict(sorted(operators.items()))
    shards = []
    for path in list_files(_join(out, "parquet", f"{FILES_TABLE}-*.parquet")):
        shards.append(file_record(path, out))
        shards += [FileRecord(**row) for row in read_columns(path).to_pylist()]
    shards = [{k: v for k, v in dataclasses.asdict(f).items() if v is not None} for f in shards]
    shards.sort(key=lambda f: f["path"])
    clip_files = list_files(_join(out, "parquet", "clips-*.parquet"))
    if clip_files:
        ids = set()
        for path in clip_files:
            table = read_columns(path, ["video_id"])
            counts["clips"] += table.num_rows
            ids.update(table.column("video_id").to_pylist())
        counts["videos"] = len(ids)
    landmark_clips = set()
    for path in list_files(_join(out, "parquet", "landmarks-*.parquet")):
        table = read_columns(path, ["video_id", "clip"])
        landmark_clips.update(zip(table.column("video_id").to_pylist(), table.column("clip").to_pylist(), strict=True))
    counts["clips_with_landmarks"] = len(landmark_clips)
    reasons: Counter = Counter()
    for path in list_files(_join(out, "rejects", "*.parquet")):
        table = read_columns(path, ["stage", "reason"])
        reasons.update(f"{row['stage']}: {row['reason']}" for row in table.to_pylist())
    counts["rejects"] = sum(reasons.values())
    counts["rejects_by_reason"] = dict(sorted(reasons.items()))
    manifest = {
        "version": __version__,
        "schema_version": SCHEMA_VERSION,
        "config": config,
        "counts": counts,
        "shards": shards,
    }
    write_atomic(_join(out, MANIFEST), (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return manifest

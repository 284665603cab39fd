"""The output folder: refuse to mix runs, clear what an earlier run left, write manifest.json last.

A run owns ``OUT/manifest.json``, the folders ``webdataset/``, ``parquet/``, ``rejects/``
and what ``kinefake validate`` wrote about the previous corpus (``validate.json``,
``validate/*.png``); see :mod:`kinefake.schemas.layout`. It deletes only files it wrote: names
listed in the previous manifest or matching its own patterns. Anything else in those
folders is the user's, and the run is refused before any work rather than delete it;
files elsewhere under ``OUT`` are never looked at. ``manifest.json`` is written only after
every shard is complete, so its presence marks a finished run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import posixpath
import re
import uuid
from collections import Counter

from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems

from kinefake import __version__
from kinefake.corpus.contents import table_files
from kinefake.errors import OutputError, describe_os_error, storage_failure
from kinefake.fs import (
    is_remote,
    list_entries,
    list_files,
    parquet_rows,
    read_bytes,
    read_columns,
    sha256_of,
    write_atomic,
)
from kinefake.pipelines.card import dataset_card, is_kinefake_card
from kinefake.schemas import SCHEMA_VERSION, FileRecord
from kinefake.schemas.layout import AUDIT, CARD, MANIFEST, SHARDS, TABLE_FOLDERS, VALIDATE, VALIDATE_PLOTS, is_owned

#: Folders a run writes into (and checks for files that are not its own).
OWNED_FOLDERS = (SHARDS, "parquet", TABLE_FOLDERS["rejects"], VALIDATE_PLOTS, AUDIT)
#: Files a run writes at the top of ``OUT``.
OWNED_TOP = (MANIFEST, CARD, VALIDATE)


class OutputConflict(Exception):
    """The output folder holds a finished run with another configuration, or files that
    kinefake did not write."""


def _join(out: str, *parts: str) -> str:
    return posixpath.join(out.rstrip("/"), *parts)


class QuietStorageFailures(logging.Filter):
    """Drops Beam's logged traceback of a storage failure (the job ends with one line
    saying what failed instead); every other error is logged as before."""

    def filter(self, record: logging.LogRecord) -> bool:
        return storage_failure(Exception(record.getMessage())) is None


def check_writable(out: str) -> None:
    """Create ``out`` if needed and write and delete a small file in it.

    Raises:
        OutputError: it cannot be written; the message says why in one line.
    """
    probe = _join(out, f".kinefake-write-check-{uuid.uuid4().hex[:12]}")
    try:
        if not is_remote(out):
            os.makedirs(out, exist_ok=True)
        with FileSystems.create(probe) as f:
            f.write(b"kinefake checks that it can write here\n")
        FileSystems.delete([probe])
    except (OSError, BeamIOError) as exc:
        raise OutputError(f"cannot write to {out}: {describe_os_error(exc)}") from None


def earlier_files(out: str) -> list[str]:
    """What an earlier run may have left in the folders and names a run owns (full paths)."""
    found = []
    for folder in OWNED_FOLDERS:
        found += list_files(_join(out, folder, "**"))
    for name in OWNED_TOP:
        found += list_files(_join(out, name + "*"))
    if not is_remote(out):  # empty beam-temp-* folders hold no file to list
        found += list_entries(_join(out, "parquet", "*", "beam-temp-*"))
        found += list_entries(_join(out, TABLE_FOLDERS["rejects"], "beam-temp-*"))
    # A beam-temp-* folder goes as a whole (deleting it and then a file inside would fail).
    return sorted({re.sub(r"(/beam-temp-[^/]+)/.*", r"\1", path) for path in found})


def _ours(path: str, rel: str) -> bool:
    """A name kinefake writes; a ``README.md`` only if it is the card kinefake wrote."""
    if rel == CARD:
        return is_kinefake_card(read_bytes(path).decode("utf-8", "replace"))
    return is_owned(rel)


def prepare_output(out: str, config: dict, overwrite: bool) -> None:
    """Make ``out`` ready for a run with ``config``, removing what a previous run left.

    Re-running the same configuration replaces the previous output (same inputs and
    seed give the same samples, so nothing is duplicated); a different configuration is
    refused unless ``overwrite``. Files in the run's folders that kinefake did not write
    are refused whatever ``overwrite`` says.

    Raises:
        OutputError: ``out`` cannot be written.
        OutputConflict: another configuration's finished run, or someone else's files.
    """
    check_writable(out)
    manifest_path = _join(out, MANIFEST)
    listed: set[str] = set()
    if FileSystems.exists(manifest_path):
        try:
            previous = json.loads(read_bytes(manifest_path))
        except ValueError:
            previous = None  # a damaged manifest of ours: its name is enough to replace it
        if isinstance(previous, dict):
            listed = {s.get("path") for s in previous.get("shards", [])}
            before = previous.get("config") or {}
            if before != config and not overwrite:
                changed = sorted(k for k in set(before) | set(config) if before.get(k) != config.get(k))
                raise OutputConflict(
                    f"{out} holds a finished run with a different configuration (differs in: {', '.join(changed)}); "
                    "choose another --output or pass --overwrite"
                )
    found = earlier_files(out)
    relative = {path: posixpath.relpath(path, out.rstrip("/")) for path in found}
    foreign = [rel for path, rel in relative.items() if rel not in listed and not _ours(path, rel)]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputConflict(
            f"{out} holds files kinefake did not write in the folders it writes ({shown}); "
            "move them or choose another --output (nothing was deleted)"
        )
    if found:
        FileSystems.delete(found)


def remove_partial_run(out: str) -> None:
    """Delete what a failed run wrote (no manifest marks it finished): only kinefake's names."""
    partial = [p for p in earlier_files(out) if _ours(p, posixpath.relpath(p, out.rstrip("/")))]
    if partial:
        FileSystems.delete(partial)


def file_record(uri: str, out: str) -> FileRecord:
    """Checksum one written file (run on the worker that wrote it, not on the launcher)."""
    from apache_beam.io.filesystems import FileSystems

    size = FileSystems.match([uri])[0].metadata_list[0].size_in_bytes
    rows = parquet_rows(uri) if uri.endswith(".parquet") else None
    return FileRecord(posixpath.relpath(uri, out.rstrip("/")), sha256_of(uri), size, rows)


def write_manifest(out: str, config: dict) -> dict:
    """Count, list every file with its checksum, and write ``OUT/manifest.json`` atomically.

    Checksums come from the files table the workers wrote (``parquet/files/``), so the
    launcher does not read the corpus back; only that table is hashed here.
    """
    counts = {
        "clips": 0,
        "videos": 0,
        "clips_with_landmarks": 0,
        "input_frames": 0,
        "samples": 0,
        "real_samples": 0,
        "fake_samples": 0,
        "fakes_by_operator": {},
        "rejects": 0,
        "rejects_by_reason": {},
    }
    operators: Counter = Counter()
    for path in table_files(out, "samples"):
        table = read_columns(path, ["label", "operator"])
        for row in table.to_pylist():
            counts["samples"] += 1
            counts["fake_samples" if row["label"] else "real_samples"] += 1
            if row["label"]:
                operators[row["operator"]] += 1
    counts["fakes_by_operator"] = dict(sorted(operators.items()))
    shards = []
    for path in table_files(out, "files"):
        shards.append(file_record(path, out))
        shards += [FileRecord(**row) for row in read_columns(path).to_pylist()]
    shards = [{k: v for k, v in dataclasses.asdict(f).items() if v is not None} for f in shards]
    shards.sort(key=lambda f: f["path"])
    clip_files = table_files(out, "clips")
    if clip_files:
        ids = set()
        for path in clip_files:
            table = read_columns(path, ["video_id"])
            counts["clips"] += table.num_rows
            ids.update(table.column("video_id").to_pylist())
        counts["videos"] = len(ids)
    landmark_clips = set()
    for path in table_files(out, "landmarks"):
        table = read_columns(path, ["video_id", "clip"])
        counts["input_frames"] += table.num_rows
        landmark_clips.update(zip(table.column("video_id").to_pylist(), table.column("clip").to_pylist(), strict=True))
    counts["clips_with_landmarks"] = len(landmark_clips)
    reasons: Counter = Counter()
    for path in table_files(out, "rejects"):
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
    write_atomic(_join(out, CARD), dataset_card(manifest).encode())
    write_atomic(_join(out, MANIFEST), (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return manifest

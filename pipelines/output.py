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

import contextlib
import dataclasses
import json
import logging
import os
import posixpath
import re
import uuid
from collections import Counter, defaultdict

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
from kinefake.schemas.layout import (
    AUDIT,
    CARD,
    GROUPS,
    MANIFEST,
    MAX_BATCH,
    RUN_STATE,
    SHARDS,
    TABLE_FOLDERS,
    VALIDATE,
    VALIDATE_PLOTS,
    is_owned,
)

#: Folders a run writes into (and checks for files that are not its own).
OWNED_FOLDERS = (SHARDS, "parquet", TABLE_FOLDERS["rejects"], VALIDATE_PLOTS, AUDIT, GROUPS)
#: Files a run writes at the top of ``OUT``.
OWNED_TOP = (MANIFEST, CARD, VALIDATE, RUN_STATE)
#: What :func:`prepare_output` found: start afresh, finish an interrupted run, or nothing to do.
FRESH, RESUMED, FINISHED = "fresh", "resumed", "finished"


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


def _differences(before: dict, config: dict) -> str:
    return ", ".join(sorted(k for k in set(before) | set(config) if before.get(k) != config.get(k)))


def run_state(config: dict, batches: list[list[str]] | None = None) -> dict:
    """What a run makes: the corpus's ``config`` and the inputs of each of its batches (the
    first run's, then each ``--append``'s); held in :data:`~kinefake.schemas.layout.RUN_STATE`
    while it runs, and in the manifest once finished."""
    return {"config": config, "batches": batches or [config["input"]]}


def _read_json(path: str) -> dict | None:
    """A JSON object kinefake wrote, or None when absent or damaged (then nothing of it is trusted)."""
    if not FileSystems.exists(path):
        return None
    try:
        found = json.loads(read_bytes(path))
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _delete_temporaries(out: str) -> None:
    FileSystems.delete([p for p in earlier_files(out) if re.search(r"\.tmp-[0-9a-f]+$|/beam-temp-", p)])


def _resume(out: str, state: dict) -> str | None:
    """``--resume``: :data:`RESUMED` (an unfinished run of ``state`` is kept, less its
    temporaries), :data:`FINISHED` (its finished run is there), or None (nothing to resume).

    Raises:
        OutputConflict: the unfinished run there was started with another configuration.
    """
    before = _read_json(_join(out, RUN_STATE))
    if before is not None:
        if before == state:
            _delete_temporaries(out)
            return RESUMED
        if isinstance(before.get("config"), dict):
            changed = _differences(before["config"], state["config"]) or "inputs"
            raise OutputConflict(
                f"{out} holds an unfinished run with a different configuration (differs in: {changed}); "
                "--resume needs that run's flags, or drop it to start over"
            )
        return None
    manifest = _read_json(_join(out, MANIFEST))
    if manifest is not None and isinstance(manifest.get("config"), dict):
        return FINISHED if run_state(manifest["config"], manifest.get("batches")) == state else None
    return None


def append_batches(out: str, config: dict, resume: bool) -> tuple[dict, list[list[str]], set[str]]:
    """For ``generate --append``: the corpus's configuration (its first run's inputs), its
    batches with this run's inputs added (as they are when ``resume`` finds them last
    already), and the files there now (an interrupted append removes only its own).

    Raises:
        OutputConflict: no finished corpus in ``out``, one made with other settings, or one
            with :data:`~kinefake.schemas.layout.MAX_BATCH` appends already.
    """
    manifest = _read_json(_join(out, MANIFEST))
    if manifest is None or not isinstance(manifest.get("config"), dict):
        raise OutputConflict(f"--append adds to a finished corpus and {out} holds none; run without --append first")
    before = manifest["config"]
    changed = _differences({**before, "input": None}, {**config, "input": None})
    if changed:
        raise OutputConflict(
            f"{out} was made with other settings (differs in: {changed}); --append takes the corpus's own flags"
        )
    batches = run_state(before, manifest.get("batches"))["batches"]
    if not (resume and batches[-1] == config["input"] and len(batches) > 1):
        batches = [*batches, config["input"]]
    if len(batches) - 1 > MAX_BATCH:
        raise OutputConflict(f"{out} holds {MAX_BATCH} appends already, the most a corpus takes")
    kept = {posixpath.relpath(p, out.rstrip("/")) for p in earlier_files(out)} - {RUN_STATE}
    return before, batches, kept


def prepare_output(
    out: str, config: dict, overwrite: bool, resume: bool = False, batches: list[list[str]] | None = None
) -> str:
    """Make ``out`` ready for a run with ``config``, removing what a previous run left, and
    record the run's configuration (:data:`~kinefake.schemas.layout.RUN_STATE`) until its
    last step. Returns :data:`FRESH`, or with ``resume`` :data:`RESUMED` or :data:`FINISHED`.

    Re-running the same configuration replaces the previous output (same inputs and
    seed give the same samples, so nothing is duplicated); a different configuration is
    refused unless ``overwrite``. Files in the run's folders that kinefake did not write
    are refused whatever ``overwrite`` says. With ``resume``, an unfinished run of the same
    configuration is kept (its finished donor groups are not made again) and a finished one
    left as it is; with nothing to resume, the run starts afresh.

    With ``batches`` of more than one (:func:`append_batches`), the corpus there is kept and
    this run adds the last batch.

    Raises:
        OutputError: ``out`` cannot be written.
        OutputConflict: another configuration's finished (or, with ``resume``, unfinished)
            run, an appended corpus that a plain re-run would cut back to its first batch,
            or someone else's files.
    """
    check_writable(out)
    state = run_state(config, batches)
    if resume:
        found = _resume(out, state)
        if found is not None:
            return found
    if len(state["batches"]) > 1:
        if FileSystems.exists(_join(out, RUN_STATE)):
            raise OutputConflict(f"{out} holds an unfinished run; finish it with its own flags and --resume first")
        _delete_temporaries(out)
        write_atomic(_join(out, RUN_STATE), json.dumps(state, sort_keys=True).encode())
        return FRESH
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
                raise OutputConflict(
                    f"{out} holds a finished run with a different configuration (differs in: "
                    f"{_differences(before, config)}); choose another --output or pass --overwrite"
                )
            appended = len(previous.get("batches") or [None]) - 1
            if appended > 0 and not overwrite:
                raise OutputConflict(
                    f"{out} holds {appended} --append batch(es) that a re-run from --input alone would drop; "
                    "pass --overwrite to make it again, or --append to add videos"
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
    remove_empty_folders(out)
    write_atomic(_join(out, RUN_STATE), json.dumps(state, sort_keys=True).encode())
    return FRESH


def remove_empty_folders(out: str) -> None:
    """Remove the folders a run owns that hold nothing (a local ``out``: an object store has no
    folders), so a split or a group record that is gone leaves no empty folder behind."""
    if is_remote(out):
        return
    for folder in OWNED_FOLDERS:
        top = os.path.join(out, folder)
        for path, _, _ in sorted(os.walk(top), key=lambda entry: -len(entry[0])):
            with contextlib.suppress(OSError):  # not empty
                os.rmdir(path)


def finish_run(out: str, config: dict, batches: list[list[str]] | None = None, flags: dict | None = None) -> dict:
    """The run's last step (on a worker, after every tar and table is written): the dataset
    card and ``manifest.json``, then the run's own records (finished groups, its state, and
    any file a run owns that the manifest does not list, e.g. of inputs changed before a
    ``--resume``) removed. Returns the manifest."""
    manifest = write_manifest(out, config, batches, flags)
    keep = {s["path"] for s in manifest["shards"]} | {MANIFEST, CARD}
    stale = [p for p in earlier_files(out) if posixpath.relpath(p, out.rstrip("/")) not in keep]
    if stale:
        FileSystems.delete(stale)
    remove_empty_folders(out)
    return manifest


def remove_partial_run(out: str, keep: set[str] = frozenset()) -> None:
    """Delete what a failed run wrote (no manifest marks it finished): only kinefake's names,
    and none of ``keep`` (paths relative to ``out``: the corpus an ``--append`` adds to)."""
    partial = [
        p for p in earlier_files(out) if (rel := posixpath.relpath(p, out.rstrip("/"))) not in keep and _ours(p, rel)
    ]
    if partial:
        FileSystems.delete(partial)
    remove_empty_folders(out)


def file_record(uri: str, out: str) -> FileRecord:
    """Checksum one written file (run on the worker that wrote it, not on the launcher)."""
    from apache_beam.io.filesystems import FileSystems

    size = FileSystems.match([uri])[0].metadata_list[0].size_in_bytes
    rows = parquet_rows(uri) if uri.endswith(".parquet") else None
    return FileRecord(posixpath.relpath(uri, out.rstrip("/")), sha256_of(uri), size, rows)


def write_manifest(out: str, config: dict, batches: list[list[str]] | None = None, flags: dict | None = None) -> dict:
    """Count, list every file with its checksum, and write ``OUT/manifest.json`` atomically
    (with ``flags``, the run's kinefake flags that ``generate --config`` reads back).

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
        "splits": {},
    }
    splits: dict = defaultdict(
        lambda: {"videos": set(), "clips": 0, "real_samples": 0, "fake_samples": 0, "fakes_by_operator": Counter()}
    )
    operators: Counter = Counter()
    for path in table_files(out, "samples"):
        table = read_columns(path, ["split", "label", "operator"])
        for row in table.to_pylist():
            counts["samples"] += 1
            counts["fake_samples" if row["label"] else "real_samples"] += 1
            splits[row["split"]]["fake_samples" if row["label"] else "real_samples"] += 1
            if row["label"]:
                operators[row["operator"]] += 1
                splits[row["split"]]["fakes_by_operator"][row["operator"]] += 1
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
            table = read_columns(path, ["split", "video_id"])
            counts["clips"] += table.num_rows
            ids.update(table.column("video_id").to_pylist())
            for split, video_id in zip(table["split"].to_pylist(), table["video_id"].to_pylist(), strict=True):
                splits[split]["clips"] += 1
                splits[split]["videos"].add(video_id)
        counts["videos"] = len(ids)
    counts["splits"] = {
        split: {
            **c,
            "videos": len(c["videos"]),
            "samples": c["real_samples"] + c["fake_samples"],
            "fakes_by_operator": dict(sorted(c["fakes_by_operator"].items())),
        }
        for split, c in sorted(splits.items())
    }
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
        "batches": run_state(config, batches)["batches"],
        **({"flags": flags} if flags is not None else {}),
        "counts": counts,
        "shards": shards,
    }
    write_atomic(_join(out, CARD), dataset_card(manifest).encode())
    write_atomic(_join(out, MANIFEST), (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return manifest

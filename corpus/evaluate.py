"""``kinefake evaluate``: does a corpus teach detectors? Train baselines, AUROC on held-out videos.

    kinefake evaluate --train OUT --out DIR [--test LABELLED.csv] [--detectors kinematic,pixel,headpose]

1. Every sample of the corpus is decoded and described as a detector sees it
   (:func:`kinefake.corpus.detectors.baselines.describe_clip`: landmarks re-detected in the crop,
   the crop at the pixel net's size, head-pose features); a sample whose face cannot be
   re-detected is listed in ``DIR/rejects.csv``.
2. Each detector is trained and scored ``--folds`` times, every fold holding out whole
   source videos; the out-of-fold scores give AUROC overall, per operator and per
   strength bin (``DIR/report.json``, ``DIR/scores.csv``, and a table on stdout).
3. Each detector is trained once more on the whole corpus and saved under ``DIR/models``
   (reload with :func:`kinefake.corpus.detectors.baselines.load_detectors`).
4. With ``--test``, a CSV of ``uri,label`` (1 = fake) is scored through the corpus's own
   stages: per-clip scores (``DIR/test_clips.csv``), per-video scores, the mean of its
   clips' (``DIR/test_videos.csv``), clip- and video-level AUROC; rows that cannot be
   scored (missing file, label not 0/1, no face) go to ``DIR/test_rejects.csv``.
5. With ``--card``, the corpus's dataset card (``OUT/README.md``) is written again with these
   figures in its limitations; the corpus's files and manifest are not touched.

The same corpus, options and seed give the same folds, models and scores.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import multiprocessing
import os
import posixpath
import shutil
import time
from dataclasses import dataclass

import numpy as np

from kinefake.command import command_parser
from kinefake.corpus.contents import (
    MEMBER_ERRORS,
    is_sample_key,
    iter_samples,
    one_line,
    read_manifest,
    require_intact,
    shown,
)
from kinefake.corpus.detectors.baselines import (
    DETECTORS,
    ClipView,
    describe_clip,
    load_init_weights,
    make_detector,
    save_detectors,
)
from kinefake.corpus.detectors.pairs import clip_pairs
from kinefake.corpus.detectors.pixel import (
    BACKBONE_CHOICES,
    MAX_SNIPPET,
    MAX_WINDOW,
    MIN_WINDOW,
    PixelConfig,
    config_dict,
)
from kinefake.corpus.detectors.scoring import auroc, auroc_table, video_folds
from kinefake.corpus.reader import decode_mp4, decode_npz
from kinefake.errors import CorpusError, ModelFileError, Rejected, UsageError
from kinefake.fs import is_remote, open_source, read_bytes, write_atomic
from kinefake.pipelines.card import dataset_card, is_kinefake_card
from kinefake.schemas import InputRecord
from kinefake.schemas.label import Label
from kinefake.schemas.layout import CARD, MANIFEST
from kinefake.schemas.members import LABEL, MASKS, MP4
from kinefake.synth.perturb.policy import MOVING, report_name


@dataclass(frozen=True)
class SampleInfo:
    """A corpus sample's identity and label, as the report groups it."""

    key: str
    video_id: str
    clip: int
    label: int
    operator: str | None
    strength: float | None
    family: str | None

    @property
    def clip_key(self) -> str:
        """The clip the sample was made from (pairs a fake with its real)."""
        return self.key.rsplit("_", 1)[0]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = command_parser(
        prog="kinefake evaluate",
        description="Train baseline detectors on a corpus; AUROC with folds split by source video; score test videos.",
    )
    parser.add_argument("--train", required=True, help="A finished kinefake corpus (local or gs://).")
    parser.add_argument("--out", required=True, help="Folder for the report, scores and models (local).")
    parser.add_argument(
        "--test",
        help="CSV with columns uri,label (1 = fake) of videos to score; relative URIs "
        "are resolved against the CSV's folder.",
    )
    parser.add_argument(
        "--detectors", default=",".join(DETECTORS), help=f"Comma-separated, from {', '.join(DETECTORS)}."
    )
    parser.add_argument("--folds", type=int, default=5, help="Cross-validation folds, split by source video.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the folds and of every detector.")
    parser.add_argument(
        "--steps", type=int, default=PixelConfig.steps, help="Pixel net optimiser steps (paired batches)."
    )
    parser.add_argument(
        "--window",
        type=int,
        default=PixelConfig.window,
        help="Pixel net window side, crop pixels (the crop is never resampled).",
    )
    parser.add_argument("--snippet", type=int, default=PixelConfig.snippet, help="Pixel net frames per window.")
    parser.add_argument(
        "--backbone",
        choices=BACKBONE_CHOICES,
        default=PixelConfig.backbone,
        help="Pixel net: auto is r2plus1d_18 on a GPU and the small net on the CPU.",
    )
    parser.add_argument(
        "--init-weights",
        help="A torchvision r3d_18/r2plus1d_18 checkpoint (.pth state dict or .safetensors) to start the "
        "pixel net's backbone from; never downloaded.",
    )
    parser.add_argument(
        "--max-samples",
        type=int,
        default=4000,
        help="Use at most this many samples (whole clips, drawn by the seed); bounds memory and time.",
    )
    parser.add_argument(
        "--no-models",
        action="store_true",
        help="Cross-validation only: do not train and save the final models on the whole corpus (not with --test).",
    )
    parser.add_argument(
        "--card",
        action="store_true",
        help="Write the corpus's dataset card (--train's README.md) again with this report's AUROC in its "
        "limitations (a README.md kinefake did not write is refused; manifest and data are not touched).",
    )
    parser.add_argument("--test-clips", type=int, default=8, help="Clips scored per test video, spread evenly.")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="Processes describing samples (1: in this process)."
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.detectors.split(",") if n.strip()]
    if not names or set(names) - set(DETECTORS):
        raise UsageError(f"--detectors: expected names from {list(DETECTORS)}, got {args.detectors!r}")
    args.detectors = [n for n in DETECTORS if n in names]
    if args.no_models and args.test:
        raise UsageError("--no-models: the test videos are scored by the final models; drop one of --no-models, --test")
    if args.init_weights and args.backbone not in ("r3d_18", "r2plus1d_18"):
        raise UsageError(f"--init-weights: expected --backbone r3d_18 or r2plus1d_18, got {args.backbone}")
    for flag, low, high in (
        ("folds", 2, None),
        ("seed", 0, None),
        ("steps", 1, None),
        ("window", MIN_WINDOW, MAX_WINDOW),
        ("snippet", 2, MAX_SNIPPET),
        ("max_samples", 2, None),
        ("test_clips", 1, None),
        ("workers", 1, None),
    ):
        value = getattr(args, flag)
        if value < low or (high is not None and value > high):
            expected = f">= {low}" if high is None else f"{low} to {high}"
            raise UsageError(f"--{flag.replace('_', '-')}: expected {expected}, got {value}")
    return args


# --- describing samples, in worker processes -------------------------------------------------

_WORKER: dict = {}


def _init_worker(backend_name: str, margin: float) -> None:
    from kinefake.synth.landmarks import make_backend
    from kinefake.synth.threads import one_thread_per_library

    one_thread_per_library()
    _WORKER.update(backend=make_backend(backend_name), margin=margin)


def _describe(item: tuple[str, bytes, bytes | None]) -> tuple[str, ClipView | None, str | None]:
    key, mp4, masks = item
    try:
        frames, fps = decode_mp4(mp4)
        focus = None if masks is None else decode_npz(masks)["patch"]
    except MEMBER_ERRORS as exc:
        return key, None, f"unreadable members: {one_line(exc)}"
    try:
        return key, describe_clip(frames, _WORKER["backend"], _WORKER["margin"], fps, focus), None
    except Rejected as exc:
        return key, None, f"{exc.reason}: {exc.detail}"
    except ValueError as exc:
        return key, None, f"no pose: {exc}"


def _map(fn, items, workers: int, init_args: tuple):
    """``fn`` over ``items`` in order, in ``workers`` processes (or here, with one)."""
    if workers == 1:
        _init_worker(*init_args)
        yield from map(fn, items)
        return
    with multiprocessing.get_context("spawn").Pool(workers, _init_worker, init_args) as pool:
        yield from pool.imap(fn, items, chunksize=4)


def _label_info(key: str, label: dict) -> SampleInfo:
    record = Label.from_json(label)
    p = record.perturbation
    return SampleInfo(
        key,
        record.source.video_id,
        int(record.source.clip),
        int(record.label),
        None if p is None else report_name(p),
        # strength bins are a landmark displacement, IOD
        p.max_displacement_iod if p is not None and p.family in MOVING else None,
        None if p is None else p.family,
    )


def _keep_clips(keys: list[str], manifest: dict, max_samples: int, seed: int) -> set[str] | None:
    """Clip keys to keep when the corpus has more than ``max_samples`` samples (None: all)."""
    if manifest["counts"]["samples"] <= max_samples:
        return None
    clips = sorted({k.rsplit("_", 1)[0] for k in keys})
    per_clip = manifest["counts"]["samples"] / max(len(clips), 1)
    rng = np.random.default_rng(seed)
    return set(rng.permutation(clips)[: max(1, int(max_samples / per_clip))].tolist())


def _sample_keys(out: str) -> tuple[list[str], set[str]]:
    """Every sample key of the corpus, and its source video ids, from the samples table."""
    from kinefake.corpus.contents import read_table

    table = read_table(out, "samples", ["key", "video_id"])
    return table["key"].to_pylist(), set(table["video_id"].to_pylist())


def describe_corpus(out: str, manifest: dict, args) -> tuple[list[SampleInfo], list[ClipView], list[dict]]:
    """Every (kept) sample's :class:`SampleInfo` and :class:`ClipView`; rows for those that failed
    (a key that is not a sample key, a label that cannot be read, a clip with no face)."""
    config = manifest["config"]
    keys, videos = _sample_keys(out)
    if args.folds > len(videos):
        raise UsageError(f"--folds: expected at most the corpus's {len(videos)} source videos, got {args.folds}")
    keep = _keep_clips(keys, manifest, args.max_samples, args.seed)
    infos: dict[str, SampleInfo] = {}

    unreadable = []

    def items():
        for sample in iter_samples(out, manifest):
            key = sample["__key__"]
            if not is_sample_key(key):
                unreadable.append({"key": shown(key), "reason": "not a sample key"})
                continue
            if keep is not None and key.rsplit("_", 1)[0] not in keep:
                continue
            try:
                infos[key] = info = _label_info(key, json.loads(sample[LABEL]))
                yield key, sample[MP4], sample[MASKS] if info.label == 1 else None
            except MEMBER_ERRORS as exc:
                unreadable.append({"key": key, "reason": f"unreadable label: {one_line(exc)}"})

    init = (config["landmark_backend"], config["samples"]["margin"])
    samples, views, rejects = [], [], []
    for key, view, why in _map(_describe, items(), args.workers, init):
        if view is None:
            rejects.append({"key": key, "reason": why})
        else:
            samples.append(infos[key])
            views.append(view)
    return samples, views, rejects + unreadable


# --- training and scoring ----------------------------------------------------------------------


def pixel_config(args) -> PixelConfig:
    """The pixel net's settings from the flags.

    Raises:
        UsageError: a value out of range.
    """
    try:
        return PixelConfig(window=args.window, snippet=args.snippet, steps=args.steps, backbone=args.backbone)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _fit(name: str, views, samples: list[SampleInfo], args):
    """Detector ``name`` trained on ``views`` of ``samples``."""
    detector = make_detector(name, args.seed, pixel_config(args), args.init_weights)
    return detector.fit(
        views, np.array([s.label for s in samples]), [s.video_id for s in samples], [s.clip_key for s in samples]
    )


def _loss_summary(losses: list[float], bins: int = 10) -> list[float]:
    """The training loss curve as ``bins`` means over equal runs of steps."""
    return [round(float(np.mean(part)), 4) for part in np.array_split(np.asarray(losses), bins) if len(part)]


def cross_validate(name: str, views, samples: list[SampleInfo], folds: np.ndarray, args) -> tuple[np.ndarray, list]:
    """Out-of-fold scores of detector ``name`` (each fold trained on the others), and each
    fold's training loss curve (:func:`_loss_summary`; empty for detectors without one)."""
    labels = np.array([s.label for s in samples])
    scores = np.full(len(samples), np.nan)
    curves = []
    for k in range(folds.max() + 1):
        test, train = np.flatnonzero(folds == k), np.flatnonzero(folds != k)
        if not clip_pairs([samples[i].clip_key for i in train], labels[train]):
            print(f"  {name} fold {k + 1}/{folds.max() + 1}: no fake with its real to train on, not scored")
            continue
        started = time.perf_counter()
        detector = _fit(name, [views[i] for i in train], [samples[i] for i in train], args)
        scores[test] = detector.score([views[i] for i in test])
        line = f"  {name} fold {k + 1}/{folds.max() + 1}: trained on {len(train)}, scored {len(test)}"
        if getattr(detector, "losses", None):
            curves.append(_loss_summary(detector.losses))
            line += f", training loss {curves[-1][0]:.3f} -> {curves[-1][-1]:.3f}"
        print(f"{line} ({time.perf_counter() - started:.0f} s)", flush=True)
    return scores, curves


def _write_csv(path: str, rows: list[dict], fields: list[str]) -> None:
    """Write a CSV atomically: a full disk leaves no partial file."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, text.getvalue().encode())


def save_models(folder: str, detectors: list, meta: dict) -> None:
    """Save the models into a temporary sibling, then put it in place of ``folder``: a full
    disk leaves no half-saved models (and an earlier run's models stay whole until then)."""
    building = f"{folder}.tmp-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    try:
        save_detectors(building, detectors, meta)
        shutil.rmtree(folder, ignore_errors=True)
        os.rename(building, folder)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def print_table(results: dict) -> None:
    """One line per detector: overall AUROC, then per family, per operator and per strength bin."""
    first = next(iter(results.values()))
    families, ops, bins = list(first["by_family"]), list(first["by_operator"]), list(first["by_strength"])
    header = ["detector", "overall", *families, *ops, *(f"{b} IOD" for b in bins)]
    widths = [max(10, len(h)) for h in header]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for name, table in results.items():
        cells = [name, _fmt(table["overall"]["auroc"])]
        cells += [_fmt(table["by_family"][f]["auroc"]) for f in families]
        cells += [_fmt(table["by_operator"][o]["auroc"]) for o in ops]
        cells += [_fmt(table["by_strength"][b]["auroc"]) for b in bins]
        print("  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))


# --- test videos -------------------------------------------------------------------------------


def reject_row(row: int, uri: str, label, reason: str, detail: str = "") -> dict:
    """A row of ``test_rejects.csv``: a test CSV row that is not scored, and why."""
    return {"row": row, "uri": uri, "label": label, "reason": reason, "detail": detail}


def read_test_rows(uri: str) -> tuple[list[tuple[int, str, int]], list[dict]]:
    """``(row number, uri, label)`` of a ``uri,label`` CSV, and reject rows for the bad ones
    (a row with more or fewer fields than the header, an empty uri, a label not 0 or 1).

    Raises:
        UsageError: the CSV cannot be read or has no ``uri``/``label`` column.
    """
    from kinefake.synth.sharding import resolve_uri

    try:
        text = read_bytes(uri).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--test: cannot read {uri}: {exc}") from None
    try:
        reader = csv.DictReader(text.splitlines())
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise UsageError(f"--test: {uri} is not a CSV: {exc}") from None
    if not fieldnames or not {"uri", "label"} <= {f.strip() for f in fieldnames}:
        raise UsageError(f"--test: expected a CSV with columns uri,label, got columns {fieldnames}")
    rows, rejects = [], []

    def reject(number, row, reason, detail=""):
        rejects.append(reject_row(number, row.get("uri") or "", row.get("label") or "", reason, detail))

    try:
        for number, raw in enumerate(reader, start=2):
            if None in raw or None in raw.values():
                fields = len(fieldnames) + len(raw.get(None) or []) - sum(v is None for v in raw.values())
                row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if isinstance(v, str)}
                reject(number, row, "ragged row", f"expected {len(fieldnames)} fields, got {fields}")
                continue
            row = {k.strip(): v.strip() for k, v in raw.items()}
            if not row["uri"]:
                reject(number, row, "empty uri")
            elif row["label"] not in ("0", "1"):
                reject(number, row, "bad label", f"expected 0 (real) or 1 (fake), got {row['label']!r}")
            else:
                rows.append((number, resolve_uri(row["uri"], uri), int(row["label"])))
    except csv.Error as exc:
        raise UsageError(f"--test: {uri} is not a CSV: {exc}") from None
    return rows, rejects


def check_test_videos(test_csv: str, train: str) -> tuple[list[tuple[int, InputRecord, int]], list[dict]]:
    """The test CSV's rows, read and checked before any training: each usable row's video
    identified by content; a video listed twice (under any spelling) or one the training
    corpus holds (its content id among the corpus's video ids, or its path among its clips'
    sources) becomes a reject row, never a score.

    Raises:
        UsageError: the CSV cannot be read or lacks its columns.
    """
    from kinefake.corpus.contents import read_table
    from kinefake.pipelines.shard_videos import identify_input
    from kinefake.schemas.inputs import CONTENT_ID_HEX

    rows, rejects = read_test_rows(test_csv)
    clips = read_table(train, "clips", ["video_id", "uri"]).to_pydict()
    trained_ids = set(clips["video_id"])
    trained_paths = {_same_file(u) for u in clips["uri"]}
    checked, first = [], {}
    for number, uri, label in rows:
        try:
            ref = identify_input(InputRecord(uri))
        except Rejected as exc:
            rejects.append(reject_row(number, uri, label, exc.reason, exc.detail))
            continue
        if ref.digest in first:
            detail = f"the same content as row {first[ref.digest]}: scored once, there"
            rejects.append(reject_row(number, uri, label, "duplicate test video", detail))
        elif ref.digest[:CONTENT_ID_HEX] in trained_ids or _same_file(uri) in trained_paths:
            detail = f"video {ref.digest[:CONTENT_ID_HEX]} is a source of {train}: a score on it would not be held out"
            rejects.append(reject_row(number, uri, label, "in the training corpus", detail))
        else:
            first[ref.digest] = number
            checked.append((number, ref, label))
    return checked, rejects


def _same_file(uri: str) -> str:
    """A comparable form of a path: resolved through links when local."""
    return uri if is_remote(uri) else os.path.realpath(uri)


def recorded_settings(manifest: dict, args):
    """What evaluate needs from the corpus's recorded config, checked before any work: the
    landmark backend and crop margin, and (with ``--test``) the clip settings test videos go through.

    Raises:
        CorpusError: a config of another shape or with values this kinefake refuses.
    """
    from kinefake.corpus.detectors.videos import ClipSettings
    from kinefake.synth.clip_samples import SampleConfig
    from kinefake.synth.landmarks import GateConfig, TrackConfig
    from kinefake.synth.landmarks.backends import BACKENDS
    from kinefake.synth.sharding import ClipPlan

    try:
        config = manifest["config"]
        backend, margin = config["landmark_backend"], float(config["samples"]["margin"])
        if backend not in BACKENDS:
            raise ValueError(f"landmark_backend: expected one of {sorted(BACKENDS)}, got {shown(backend)}")
        settings = None
        if args.test:
            settings = ClipSettings(
                clips=ClipPlan(int(config["clip_frames"]), int(config["clip_stride"]), args.test_clips),
                track=TrackConfig(**config["track"]),
                gates=GateConfig(**config["gates"]),
                samples=SampleConfig(**config["samples"]),
                timeout_s=float(config["decode_timeout"]),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise CorpusError(f"{MANIFEST}: its config does not fit this kinefake ({one_line(exc)})") from None
    return backend, margin, settings


def score_test_videos(
    test: tuple[list, list[dict]], detectors: list, backend_name: str, settings, out_dir: str
) -> dict:
    """Score the rows :func:`check_test_videos` kept with the corpus's clip ``settings``; write
    the per-clip, per-video and reject CSVs."""
    from kinefake.corpus.detectors.videos import video_clip_views
    from kinefake.synth.landmarks import make_backend

    backend = make_backend(backend_name)
    rows, rejects = test
    rejects = list(rejects)
    clip_rows, video_rows = [], []
    try:
        for number, ref, label in rows:
            uri = ref.uri
            try:
                with open_source(uri) as src:
                    views, failed = video_clip_views(src, ref, settings, backend)
            except Rejected as exc:
                rejects.append(reject_row(number, uri, label, exc.reason, exc.detail))
                continue
            if not views:
                reasons = sorted({f"{exc.reason}" for _, exc in failed})
                detail = f"{len(failed)} clips, none usable: {', '.join(reasons)}"
                rejects.append(reject_row(number, uri, label, "no usable clip", detail))
                continue
            scores = {d.name: d.score([v for _, v in views]) for d in detectors}
            for i, (clip, _) in enumerate(views):
                clip_rows.append(
                    {"uri": uri, "label": label, "clip": clip, **{n: float(s[i]) for n, s in scores.items()}}
                )
            video_rows.append(
                {
                    "uri": uri,
                    "label": label,
                    "clips": len(views),
                    "clips_rejected": len(failed),
                    **{n: float(np.mean(s)) for n, s in scores.items()},
                }
            )
        names = [d.name for d in detectors]
    finally:
        backend.close()
    _write_csv(os.path.join(out_dir, "test_clips.csv"), clip_rows, ["uri", "label", "clip", *names])
    _write_csv(
        os.path.join(out_dir, "test_videos.csv"), video_rows, ["uri", "label", "clips", "clips_rejected", *names]
    )
    _write_csv(
        os.path.join(out_dir, "test_rejects.csv"),
        sorted(rejects, key=lambda r: r["row"]),
        ["row", "uri", "label", "reason", "detail"],
    )
    result = {
        "videos": len(video_rows),
        "clips": len(clip_rows),
        "rejected_rows": len(rejects),
        "clip_auroc": {
            n: auroc(np.array([r["label"] for r in clip_rows]), np.array([r[n] for r in clip_rows])) for n in names
        },
        "video_auroc": {
            n: auroc(np.array([r["label"] for r in video_rows]), np.array([r[n] for r in video_rows])) for n in names
        },
    }
    print(
        f"\ntest: {len(video_rows)} videos, {len(clip_rows)} clips scored, {len(rejects)} rows not scored "
        f"(see {os.path.join(out_dir, 'test_rejects.csv')})"
    )
    for n in names:
        print(f"  {n:<10} clip AUROC {_fmt(result['clip_auroc'][n])}   video AUROC {_fmt(result['video_auroc'][n])}")
    return result


# --- the job -----------------------------------------------------------------------------------


def run(argv: list[str]) -> dict:
    """Run ``kinefake evaluate`` and return its report."""
    args = parse(argv)
    started = time.perf_counter()
    if args.init_weights:
        try:  # refused before any work, not at the first fold's training
            load_init_weights(args.init_weights)
        except ModelFileError as exc:
            raise UsageError(f"--init-weights: {exc}") from None
    manifest = read_manifest(args.train)
    require_intact(args.train, manifest)
    card = card_path(args.train) if args.card else None  # refused before any work
    backend_name, margin, settings = recorded_settings(manifest, args)
    test = check_test_videos(args.test, args.train) if args.test else None
    os.makedirs(args.out, exist_ok=True)
    samples, views, rejects = describe_corpus(args.train, manifest, args)
    described = time.perf_counter()
    labels = np.array([s.label for s in samples])
    if len(set(labels.tolist())) < 2:
        raise UsageError(
            f"--train: expected real and fake samples, got {len(samples)} samples with labels {set(labels.tolist())}"
        )
    if not clip_pairs([s.clip_key for s in samples], labels):
        raise UsageError("--train: expected fakes whose real sample could be described too, got none")
    try:
        folds = video_folds([s.video_id for s in samples], args.folds, args.seed)
    except ValueError as exc:  # fewer videos left than folds, after --max-samples and unusable samples
        raise UsageError(f"--folds: {exc}") from None
    results, scores, curves = {}, {}, {}
    for name in args.detectors:
        scores[name], curves[name] = cross_validate(name, views, samples, folds, args)
        done = ~np.isnan(scores[name])
        kept = [s for s, d in zip(samples, done, strict=True) if d]
        results[name] = auroc_table(
            labels[done],
            scores[name][done],
            [s.operator for s in kept],
            [s.strength for s in kept],
            [s.family for s in kept],
        )
    evaluated = time.perf_counter()
    trained = [] if args.no_models else [_fit(n, views, samples, args) for n in args.detectors]
    meta = {
        "corpus": args.train,
        "landmark_backend": backend_name,
        "margin": margin,
        "pixel": config_dict(pixel_config(args).resolved()),
        "seed": args.seed,
        "samples": len(samples),
    }
    if trained:
        save_models(os.path.join(args.out, "models"), trained, meta)
    _write_csv(
        os.path.join(args.out, "scores.csv"),
        [
            {
                "key": s.key,
                "video_id": s.video_id,
                "label": s.label,
                "operator": s.operator or "",
                "max_displacement_iod": "" if s.strength is None else s.strength,
                "fold": int(f),
                **{n: float(scores[n][i]) for n in args.detectors},
            }
            for i, (s, f) in enumerate(zip(samples, folds, strict=True))
        ],
        ["key", "video_id", "label", "operator", "max_displacement_iod", "fold", *args.detectors],
    )
    _write_csv(os.path.join(args.out, "rejects.csv"), rejects, ["key", "reason"])
    report = {
        "corpus": args.train,
        "manifest_version": manifest.get("version"),
        "samples": len(samples),
        "reals": int((labels == 0).sum()),
        "fakes": int((labels == 1).sum()),
        "videos": len({s.video_id for s in samples}),
        "rejected": len(rejects),
        "folds": args.folds,
        "seed": args.seed,
        "detectors": results,
        "loss_curves": {n: c for n, c in curves.items() if c},
        "seconds": {"describe": round(described - started, 1), "cross_validation": round(evaluated - described, 1)},
    }
    print(
        f"kinefake evaluate: {report['samples']} samples ({report['reals']} real, {report['fakes']} fake) from "
        f"{report['videos']} source videos, {args.folds} folds by video, {len(rejects)} samples not described; "
        "AUROC of held-out folds:"
    )
    print_table(results)
    if args.test:
        report["test"] = score_test_videos(test, trained, backend_name, settings, args.out)
    report["seconds"]["total"] = round(time.perf_counter() - started, 1)
    write_atomic(os.path.join(args.out, "report.json"), json.dumps(report, indent=2, sort_keys=True).encode())
    models = "" if args.no_models else ", models/"
    print(f"\nwrote {args.out}/report.json, scores.csv{models} ({report['seconds']['total']:.0f} s)")
    if card is not None:
        write_atomic(card, dataset_card(manifest, report).encode())
        print(f"wrote the figures into {card}")
    return report


def card_path(train: str) -> str:
    """The corpus's dataset card, which ``--card`` writes: refused when a ``README.md`` is there
    that kinefake did not write (the user's own notes are never replaced).

    Raises:
        UsageError: ``README.md`` is not a kinefake card.
    """
    path = posixpath.join(train.rstrip("/"), CARD)
    try:
        text = read_bytes(path).decode("utf-8", "replace")
    except FileNotFoundError:
        return path
    if not is_kinefake_card(text):
        raise UsageError(f"--card: {path} is not a dataset card kinefake wrote; it is left as it is")
    return path


def main(argv: list[str]) -> int:
    """``kinefake evaluate``: the AUROC tables are printed as the folds finish."""
    run(argv)
    return 0

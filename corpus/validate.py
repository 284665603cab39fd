"""``kinefake validate OUT``: is the corpus what its labels claim?

For every checked fake (up to ``--max-fakes``, spread over operators), against the real
sample of the same clip:

- **render fidelity**: landmarks re-detected on both crops by the *other* landmark
  backend (an independent judge) against the warp's intended field
  (:func:`kinefake.corpus.render_checks.check_render`), and DIS optical flow against the same field
  (:func:`kinefake.corpus.render_checks.check_flow`);
- **outside the mask**: the encoded fake against the encoded real where the mask is 0
  (:func:`kinefake.corpus.render_checks.check_outside_mask`), over whole frames and over any 32x32
  window; a sample above either bar is listed and makes the run fail;
- **motion**: the coupling drop and the speed-distribution KS statistic of the intended
  edit (:func:`kinefake.synth.perturb.measure.measure`);
- **head-pose inconsistency** (Yang et al.): whole-face vs central-face pose on landmarks
  re-detected by the corpus's own backend, real vs fake.

``--regenerate N`` clips are rebuilt from their source videos with the corpus's recorded
config: the rendered fake must equal the real crop *before encoding* wherever the stored
mask is 0, bit for bit, and the re-encoded members must match the stored bytes.

Writes ``OUT/validate.json`` and plots under ``OUT/validate/``; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import posixpath
from collections import defaultdict

import numpy as np
from apache_beam.io.filesystems import FileSystems

from kinefake.command import command_parser
from kinefake.corpus.contents import (
    MEMBER_ERRORS,
    inspect_corpus,
    is_sample_key,
    iter_samples,
    one_line,
    read_manifest,
    read_table,
    shown,
)
from kinefake.corpus.detectors.scoring import auroc, strength_bin
from kinefake.corpus.reader import decode_mp4, decode_npy, decode_npz
from kinefake.corpus.regenerate import RecordedRun, RecordError, clip_of, recorded_bases
from kinefake.errors import Rejected, UsageError
from kinefake.fs import write_atomic
from kinefake.schemas.label import Label
from kinefake.schemas.layout import MANIFEST, VALIDATE, VALIDATE_PLOT_FILES, VALIDATE_PLOTS
from kinefake.schemas.members import LABEL, LANDMARKS, MASKS, MP4, REAL
from kinefake.synth.perturb.policy import KINEMATIC, MOVING, report_name

#: An encoded fake whose worst frame differs from its real by more than this (mean grey
#: levels, away from the mask) changed outside its mask. Coding noise alone (crf 18) on 200
#: fakes of the shared clips: median 1.4, 99th percentile 2.4, largest 2.86 (a grainy source).
MAX_OUTSIDE_GREY = 4.0
#: The same over any 32x32 window: coding noise there stayed below 7.3 grey levels on 340
#: fakes of three corpora; a repainted corner or a misplaced edit reaches tens.
MAX_OUTSIDE_BLOCK_GREY = 12.0
#: Per-fake checks of a landmark edit; None for an appearance fake (its landmarks are the real ones).
MOTION_COLUMNS = (
    "recovered",
    "excess_px",
    "render_bar",
    "flow_recovered",
    "flow_error_px",
    "coupling_drop",
    "ks_region",
)
#: Problems printed (all are in ``validate.json``).
SHOWN_PROBLEMS = 10
#: The other backend judges a corpus's edits.
JUDGE = {"mediapipe": "dlib", "dlib": "mediapipe"}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = command_parser(prog="kinefake validate", description=__doc__.split("\n")[0])
    parser.add_argument("output", help="A finished kinefake corpus (local or gs://).")
    parser.add_argument("--max-fakes", type=int, default=200, help="Fakes checked, spread over operators.")
    parser.add_argument("--regenerate", type=int, default=4, help="Clips rebuilt from source (0: none).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the choice of fakes.")
    args = parser.parse_args(argv)
    if args.max_fakes < 1 or args.regenerate < 0:
        raise UsageError(f"expected --max-fakes >= 1 and --regenerate >= 0, got {args.max_fakes}, {args.regenerate}")
    return args


def choose_fakes(keys: list[tuple[str, str]], limit: int, seed: int) -> set[str]:
    """Up to ``limit`` fake keys from ``(key, operator)`` pairs, round-robin over operators."""
    by_op = defaultdict(list)
    for key, op in sorted(keys):
        by_op[op].append(key)
    rng = np.random.default_rng(seed)
    queues = {op: list(rng.permutation(v)) for op, v in sorted(by_op.items())}
    chosen: list[str] = []
    while len(chosen) < limit and any(queues.values()):
        for op in sorted(queues):
            if queues[op] and len(chosen) < limit:
                chosen.append(str(queues[op].pop()))
    return set(chosen)


def _fake_keys(out: str, problems: list[str]) -> list[tuple[str, str]]:
    """``(key, operator)`` of the samples table's fakes; a key that is not a sample key is a problem."""
    rows = read_table(out, "samples", ["key", "label", "operator"]).to_pylist()
    bad = [r["key"] for r in rows if not is_sample_key(r["key"])]
    if bad:
        problems.append(f"samples table: {len(bad)} keys that are not sample keys (first {shown(bad[0])})")
    return [(r["key"], str(r["operator"])) for r in rows if r["label"] == 1 and is_sample_key(r["key"])]


def _mean_headpose(features: np.ndarray) -> dict:
    return {
        "cosine_distance": float(features[:, 0].mean()),
        "rotation_diff": float(np.linalg.norm(features[:, 1:10], axis=1).mean()),
        "translation_diff": float(np.linalg.norm(features[:, 10:13], axis=1).mean()),
    }


class Checker:
    """Per-fake checks, with the judge and the corpus's own backend loaded once."""

    def __init__(self, manifest: dict) -> None:
        from kinefake.synth.landmarks import make_backend

        config = manifest["config"]
        self.margin = config["samples"]["margin"]
        self.own = make_backend(config["landmark_backend"])
        self.judge_name = JUDGE[config["landmark_backend"]]
        self.judge = make_backend(self.judge_name)
        self.bases, _ = recorded_bases(config)

    def close(self) -> None:
        self.own.close()
        self.judge.close()

    def headpose(self, frames: np.ndarray, fps: float) -> dict | None:
        from kinefake.corpus.detectors.headpose import headpose_features
        from kinefake.synth.landmarks.redetect import redetect_crops

        try:
            points, _ = redetect_crops(frames, self.own, self.margin, fps)
            return _mean_headpose(headpose_features(points, frames.shape[2], frames.shape[1]))
        except (Rejected, ValueError):
            return None

    def fake(self, real: dict, fake: dict, real_frames: np.ndarray, fps: float) -> dict:
        from kinefake.corpus.render_checks import check_flow, check_outside_mask, check_render
        from kinefake.synth.bases.normalize import normalize
        from kinefake.synth.geometry import invert_similarity
        from kinefake.synth.landmarks.redetect import crop_face_box
        from kinefake.synth.perturb.measure import measure
        from kinefake.synth.perturb.motion import ClipMotion
        from kinefake.synth.render.mesh import pixel_mesh

        p = Label.from_json(json.loads(fake[LABEL])).perturbation
        fake_frames, _ = decode_mp4(fake[MP4])
        source, target = decode_npy(real[LANDMARKS]), decode_npy(fake[LANDMARKS])
        pixel = decode_npz(fake[MASKS])["pixel"]
        kinematic = p.family == KINEMATIC
        row = {
            "key": fake["__key__"],
            "operator": report_name(p),
            # Only a kinematic fake's pixels are the morph alone: the motion checks apply to it only. An
            # appearance or control fake keeps the real landmarks: its strength bin is its family.
            "strength_bin": strength_bin(p.max_displacement_iod) if p.family in MOVING else p.family,
            "max_displacement_iod": p.max_displacement_iod,
        }
        row.update(dict.fromkeys(MOTION_COLUMNS))
        if kinematic:
            mesh = pixel_mesh(source, target)
            box = crop_face_box(real_frames.shape[1], self.margin)
            try:
                render = check_render(real_frames, fake_frames, source, target, self.judge, mesh, box)
                row.update(recovered=render.recovered, excess_px=render.excess, render_bar=render.passes())
            except ValueError:
                pass
            flow = check_flow(real_frames, fake_frames, mesh, pixel)
            row.update(flow_recovered=flow.recovered, flow_error_px=flow.median_error_px)
            motion = ClipMotion.from_points(source, self.bases)
            delta = invert_similarity(motion.pose, target.astype(np.float64)) - normalize(source.astype(np.float64))[0]
            measured = measure(motion, delta, p.to_json())
            row.update(coupling_drop=measured["coupling_drop"], ks_region=measured["ks_region"])
        outside = check_outside_mask(real_frames, fake_frames, pixel)
        row.update(
            outside_grey=outside.outside,
            outside_worst_frame=outside.worst_frame,
            outside_worst_block=outside.worst_block,
            inside_grey=outside.inside,
            outside_ok=outside.passes(MAX_OUTSIDE_GREY, MAX_OUTSIDE_BLOCK_GREY),
        )
        row["headpose"] = self.headpose(fake_frames, fps)
        return row


def regenerate(out: str, manifest: dict, clip_keys: list[str], stored: dict[str, dict]) -> list[dict]:
    """Rebuild ``clip_keys`` from their sources; compare with the ``stored`` members by sample key."""
    from kinefake.corpus.render_checks import check_outside_mask
    from kinefake.synth.clip_samples import make_fake
    from kinefake.synth.video import encode_mp4

    try:
        recorded = RecordedRun.load(out, manifest)
    except RecordError as exc:
        return [{"clip": c, "regenerated": False, "detail": str(exc)} for c in clip_keys]
    config = recorded.config
    results = []
    for clip_key in clip_keys:
        if clip_key not in recorded.clips or clip_key not in recorded.landmarks:
            results.append({"clip": clip_key, "regenerated": False, "detail": "not in the clips or landmarks table"})
            continue
        try:
            crops = recorded.crops(clip_key)
        except Rejected as exc:
            results.append({"clip": clip_key, "regenerated": False, "detail": f"{exc.reason}: {exc.detail}"})
            continue
        rate = recorded.rate(clip_key)
        real_key = f"{clip_key}_{REAL}"
        real_ok = encode_mp4(crops.frames, rate, config.crf, config.preset) == stored.get(real_key, {}).get(MP4)
        motion, donors = recorded.motion(clip_key), recorded.donors(clip_key)
        for key in sorted(k for k in stored if clip_of(k) == clip_key and k != real_key):
            source = recorded.landmarks[clip_key].ibug68
            seed = manifest["config"]["seed"]
            try:
                _, rendered, _ = make_fake(
                    key, seed, crops, source, motion, recorded.policy, donors, config.interpolation
                )
            except Rejected as exc:
                results.append({"clip": clip_key, "regenerated": False, "detail": f"{key}: {exc.reason}: {exc.detail}"})
                continue
            member = encode_mp4(rendered.fake, rate, config.crf, config.preset)
            row = {"key": key, "regenerated": True, "real_mp4_identical": real_ok,
                   "fake_mp4_identical": member == stored[key].get(MP4)}  # fmt: skip
            try:
                mask = decode_npz(stored[key][MASKS])["pixel"]
                unmoved = check_outside_mask(crops.frames, rendered.fake, mask).unmoved_changed
                row.update(
                    mask_identical=bool(np.array_equal(rendered.pixel, mask)), unmoved_changed_before_encoding=unmoved
                )
            except MEMBER_ERRORS as exc:  # the stored mask does not decode: the sample is not reproduced
                row.update(mask_identical=False, unmoved_changed_before_encoding=None, detail=one_line(exc))
            results.append(row)
    return results


def _reproduced(row: dict) -> bool:
    """A regenerated fake matches its stored members and moved nothing outside its mask."""
    identical = row["real_mp4_identical"] and row["fake_mp4_identical"] and row["mask_identical"]
    return identical and row["unmoved_changed_before_encoding"] == 0


def _summary(rows: list[dict], field: str) -> dict:
    groups = defaultdict(list)
    for row in rows:
        groups[row[field]].append(row)
    out = {}
    for name, members in sorted(groups.items(), key=lambda kv: str(kv[0])):

        def median(col, members=members):
            values = [m[col] for m in members if m[col] is not None]
            return float(np.median(values)) if values else None

        def mean(col, members=members):
            values = [m[col] for m in members if m[col] is not None]
            return float(np.mean(values)) if values else None

        bars = [m["render_bar"] for m in members if m["render_bar"] is not None]
        out[str(name)] = {
            "fakes": len(members),
            "recovered_median": median("recovered"),
            "render_bar_met": sum(bars),
            "render_judged": len(bars),
            "flow_recovered_median": median("flow_recovered"),
            "outside_grey_median": median("outside_grey"),
            "coupling_drop_mean": mean("coupling_drop"),
            "ks_region_mean": mean("ks_region"),
        }
    return out


def headpose_summary(real: list[dict], fake: list[dict]) -> dict:
    """Per feature: mean for real and fake samples, and the AUROC of the feature alone."""
    out = {}
    for name in ("cosine_distance", "rotation_diff", "translation_diff"):
        r, f = [x[name] for x in real], [x[name] for x in fake]
        out[name] = {
            "real_mean": float(np.mean(r)) if r else None,
            "fake_mean": float(np.mean(f)) if f else None,
            "auroc": auroc(np.r_[np.zeros(len(r)), np.ones(len(f))], np.r_[r, f]),
        }
    return out


def plot(rows: list[dict], real_pose: list[dict], out: str) -> list[str]:
    """PNG plots under ``OUT/validate/``; returns their paths relative to ``OUT``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = sorted({r["operator"] for r in rows})
    written = []

    def save(fig, name):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        rel = posixpath.join(VALIDATE_PLOTS, name)
        write_atomic(posixpath.join(out, rel), buf.getvalue())
        written.append(rel)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = np.arange(len(ops))
    for offset, col, name in (
        (-0.2, "recovered", "landmarks (independent judge)"),
        (0.2, "flow_recovered", "optical flow"),
    ):
        ax.bar(x + offset, [np.median([r[col] for r in rows if r["operator"] == o and r[col] is not None] or [np.nan])
                            for o in ops], 0.4, label=name)  # fmt: skip
    ax.axhline(0.7, color="grey", lw=0.8, ls="--")
    ax.set_xticks(x, ops)
    ax.set_ylabel("share of intended motion recovered")
    ax.set_title("Render fidelity by operator (median)")
    ax.legend()
    save(fig, "fidelity.png")

    fig, ax = plt.subplots(figsize=(7, 3.5))
    columns = (
        ("outside_worst_frame", "outside the mask (worst frame)"),
        ("outside_worst_block", "outside the mask (worst 32² window)"),
        ("inside_grey", "inside the mask (saturated)"),
    )
    top = max(MAX_OUTSIDE_BLOCK_GREY, *(r[col] for r in rows for col, _ in columns)) * 1.05
    for col, name in columns:
        ax.hist([r[col] for r in rows], bins=np.linspace(0, top, 60), alpha=0.6, label=name)
    ax.axvline(MAX_OUTSIDE_GREY, color="red", lw=0.8, ls="--", label="fail above (frame)")
    ax.axvline(MAX_OUTSIDE_BLOCK_GREY, color="darkred", lw=0.8, ls=":", label="fail above (window)")
    ax.set_xlabel("mean |fake - real|, grey levels, after encoding")
    ax.legend()
    save(fig, "outside_mask.png")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    panels = (("coupling_drop", "coupling drop (intended)"), ("ks_region", "speed KS (intended)"))
    for ax, (col, title) in zip(axes, panels, strict=True):
        ax.bar(ops, [np.mean([r[col] for r in rows if r["operator"] == o and r[col] is not None] or [np.nan])
                     for o in ops])  # fmt: skip
        ax.set_title(title)
        ax.tick_params(axis="x", rotation=30)
    save(fig, "motion.png")

    fake_pose = [r["headpose"] for r in rows if r["headpose"]]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist([p["cosine_distance"] for p in real_pose], bins=30, alpha=0.6, label="real", density=True)
    ax.hist([p["cosine_distance"] for p in fake_pose], bins=30, alpha=0.6, label="fake", density=True)
    ax.set_xlabel("whole-face vs central-face pose, cosine distance (mean over frames)")
    ax.legend()
    save(fig, "headpose.png")
    return written


def check_samples(out: str, manifest: dict, checker: Checker, args, problems: list[str]) -> dict:
    """The per-fake checks, head pose and regeneration: the report's figures."""
    chosen = choose_fakes(_fake_keys(out, problems), args.max_fakes, args.seed)
    clips_needed = {clip_of(k) for k in chosen}
    regen_clips = sorted(clips_needed)[:: max(1, len(clips_needed) // max(args.regenerate, 1))][: args.regenerate]
    rows, real_pose, stored = [], [], {}
    clip, members = None, {}

    def flush(members):
        real = members.get(f"{clip}_real")
        fakes = [m for k, m in sorted(members.items()) if k in chosen]
        if real is None or not fakes:
            return
        try:
            real_frames, fps = decode_mp4(real[MP4])
        except MEMBER_ERRORS as exc:
            problems.append(f"{real['__key__']}: its members cannot be read ({one_line(exc)})")
            return
        pose = checker.headpose(real_frames, fps)
        if pose:
            real_pose.append(pose)
        for fake in fakes:
            try:
                rows.append(checker.fake(real, fake, real_frames, fps))
            except MEMBER_ERRORS as exc:  # a label of another shape, an mp4 or npz that does not decode
                problems.append(f"{fake['__key__']}: its members cannot be read or checked ({one_line(exc)})")

    bad_keys = []
    for sample in iter_samples(out, manifest):
        key = sample["__key__"]
        if not is_sample_key(key):
            bad_keys.append(key)
            continue
        if clip_of(key) != clip:
            flush(members)
            clip, members = clip_of(key), {}
        if clip_of(key) in clips_needed:
            members[key] = sample
            if clip_of(key) in regen_clips:
                stored[key] = sample
    flush(members)
    if bad_keys:
        problems.append(f"tars: {len(bad_keys)} samples whose key is not a sample key (first {shown(bad_keys[0])})")
    regenerated = regenerate(out, manifest, regen_clips, stored) if regen_clips else []
    fake_pose = [r["headpose"] for r in rows if r["headpose"]]
    return {
        "fakes_checked": len(rows),
        "by_operator": _summary(rows, "operator"),
        "by_strength": _summary(rows, "strength_bin"),
        "outside_mask": {
            "max_worst_frame_grey": MAX_OUTSIDE_GREY,
            "max_worst_block_grey": MAX_OUTSIDE_BLOCK_GREY,
            "median_grey": float(np.median([r["outside_grey"] for r in rows])) if rows else None,
            "failed": [r["key"] for r in rows if not r["outside_ok"]],
        },
        "regenerated": {
            "clips": regen_clips,
            "samples": regenerated,
            "failed": [r["key"] for r in regenerated if r["regenerated"] and not _reproduced(r)],
        },
        "headpose": headpose_summary(real_pose, fake_pose),
        "fakes": rows,
        "plots": plot(rows, real_pose, out) if rows else [],
    }


def run(argv: list[str]) -> dict:
    """Run ``kinefake validate`` and return its report (also written to ``OUT/validate.json``).

    A damaged corpus (a file missing, truncated or altered, a manifest whose entries or
    counts do not fit its files) fails with each problem named; its samples are checked
    only when every file reads.
    """
    args = parse(argv)
    out = args.output.rstrip("/")
    manifest = read_manifest(out)
    inspection = inspect_corpus(out, manifest, deep=True)
    problems = inspection.problems()
    report = {
        "corpus": out,
        "files": inspection.as_dict(),
        "manifest_sha256": hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest(),
        "judge": None,
        **check_samples_skipped(),
    }
    if inspection.readable:
        try:
            checker = Checker(manifest)
        except (KeyError, TypeError, ValueError) as exc:  # RecordError, an unknown backend, a config of another shape
            problems.append(f"{MANIFEST}: its config cannot set up the checks ({type(exc).__name__}: {exc})")
        else:
            try:
                report["judge"] = checker.judge_name
                report.update(check_samples(out, manifest, checker, args, problems))
            finally:
                checker.close()
    if not report["plots"]:  # an earlier run's plots would be shown beside this run's figures
        stale = [posixpath.join(out, VALIDATE_PLOTS, name) for name in VALIDATE_PLOT_FILES]
        FileSystems.delete([p for p in stale if FileSystems.exists(p)])
    report["problems"] = problems
    report["passed"] = not (problems or report["outside_mask"]["failed"] or report["regenerated"]["failed"])
    write_atomic(posixpath.join(out, VALIDATE), (json.dumps(report, indent=2, sort_keys=True) + "\n").encode())
    return report


def check_samples_skipped() -> dict:
    """The figures of :func:`check_samples` when no sample could be checked."""
    return {
        "fakes_checked": 0,
        "by_operator": {},
        "by_strength": {},
        "outside_mask": {
            "max_worst_frame_grey": MAX_OUTSIDE_GREY,
            "max_worst_block_grey": MAX_OUTSIDE_BLOCK_GREY,
            "median_grey": None,
            "failed": [],
        },
        "regenerated": {"clips": [], "samples": [], "failed": []},
        "headpose": headpose_summary([], []),
        "fakes": [],
        "plots": [],
    }


def print_report(report: dict) -> None:
    files = report["files"]
    print(f"kinefake validate {report['corpus']}: {report['fakes_checked']} fakes checked, judge {report['judge']}")
    print(
        f"  files: {files['checked']} checked against the manifest, {len(files['missing'])} missing, "
        f"{len(files['mismatched'])} altered, {len(files['damaged'])} unreadable or not listed, "
        f"{len(files['counts'])} counts that disagree"
    )
    if report["by_operator"]:
        header = f"{'fakes':>6}{'recovered':>11}{'bar met':>9}{'flow':>7}{'outside':>9}{'drop':>7}{'KS':>6}"
        print(f"  {'operator':<12}{header}")

    def cell(value, width):
        return f"{'-' if value is None else f'{value:.2f}':>{width}}"

    for op, s in report["by_operator"].items():
        print(
            f"  {op:<12}{s['fakes']:>6}{cell(s['recovered_median'], 11)}"
            f"{s['render_bar_met']:>4}/{s['render_judged']:<4}"
            f"{cell(s['flow_recovered_median'], 7)}{cell(s['outside_grey_median'], 9)}"
            f"{cell(s['coupling_drop_mean'], 7)}{cell(s['ks_region_mean'], 6)}"
        )
    hp = report["headpose"]["cosine_distance"]
    if hp["real_mean"] is not None and hp["fake_mean"] is not None:
        auc = "-" if hp["auroc"] is None else f"{hp['auroc']:.3f}"
        print(
            f"  head pose (whole vs central face): cosine distance real {hp['real_mean']:.4f}, "
            f"fake {hp['fake_mean']:.4f}, AUROC {auc}"
        )
    regen = report["regenerated"]
    done = sum(r["regenerated"] for r in regen["samples"])
    print(f"  regenerated from source: {done} fakes of {len(regen['clips'])} clips, {len(regen['failed'])} differ")
    fails = report["outside_mask"]["failed"]
    print(f"  outside the mask: {len(fails)} fakes changed where their mask is 0" + (f": {fails[:5]}" if fails else ""))
    for problem in report["problems"][:SHOWN_PROBLEMS]:
        print(f"  problem: {problem}")
    if len(report["problems"]) > SHOWN_PROBLEMS:
        print(f"  ... and {len(report['problems']) - SHOWN_PROBLEMS} more problems in {VALIDATE}")
    print(
        ("PASSED" if report["passed"] else "FAILED")
        + f"; wrote {report['corpus']}/{VALIDATE}"
        + (f" and {VALIDATE_PLOTS}/*.png" if report["plots"] else "")
    )


def main(argv: list[str]) -> int:
    """``kinefake validate``: the report printed; exit status 1 when a check failed."""
    report = run(argv)
    print_report(report)
    return 0 if report["passed"] else 1

"""Learnability: do detectors trained on a corpus separate held-out source videos?

Two parts, in this order (the field's protocol, see DESIGN.md "How we judge whether a
corpus teaches"):

1. **Calibration.** A corpus of the ``control`` family only (blur inside the face hull at
   sigma 0.5 / 0.7 / 1.0 px, a flicker of +-1 / +-2 grey levels on alternate frames) on
   every video; ``kinefake evaluate`` trains the pixel and kinematic detectors, 5 folds by
   source video, and reports the AUROC of each level. A detector that does not reach 0.95
   at blur 0.7 px is not fit to judge a corpus, and the table says so. Beside it, what a
   statistic with no training reaches (:func:`sharpness_reference`), over all crops and
   split by whether the crop is an upscale of its source: the attainable, not the bar.
2. **Learning curve.** Corpora of every family the curve reports (:data:`FAMILIES`: the
   five kinematic operators, ``blend`` and ``hybrid``; the default mix is kinematic only) on
   nested sets of source videos (10, 20, 40, 60: the shared clips, then ``faces-extra``), at
   the default strength and one stronger setting; by-video AUROC of every detector per
   family and per operator. One seed per point, and the spread of three seeds at the
   largest set.

Opt-in (``--stages learnability``): it takes hours on two cores and uses every core
(evaluate's workers, torch's threads). ``--quick`` runs the calibration and the largest
point only. Each measurement is saved under ``bench_out/learnability/`` as soon as it
ends, keyed by what it measured (videos, flags, seed, detectors, and a digest of the
``synth``/``pipelines``/``schemas`` sources), so a killed or interrupted study resumes where
it stopped and a changed pipeline is measured again. Results are printed and written to
``bench_out/learnability.json``; the plot is ``bench_out/learnability.png``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from kinefake.corpus.evaluate import run as evaluate
from kinefake.pipelines.generate import run as generate

DETECTORS = ("pixel", "kinematic", "kinematic_paired")
FOLDS = 5
#: Clips per source video and fakes per clip of every corpus here.
CLIPS_PER_VIDEO, FAKES_PER_CLIP = 4, 2
CONTROLS = ["--operators", "blur,flicker", "--blur-sigmas", "0.5,0.7,1", "--flicker-greys", "1,2"]
#: The curve's operator mix: every kinematic operator, the appearance family and the hybrid.
FAMILIES = ["--operators", "decouple,desync,amplitude,freeze,transplant,blend,hybrid"]
#: The calibration bar: AUROC at blur 0.7 px.
FIT_LEVEL, FIT_BAR = "blur0.7", 0.95
#: Numbers of source videos on the curve.
SIZES = (10, 20, 40, 60)
#: ``(label, generate flags)``: the default mix at its strength, and one stronger.
STRENGTHS = (
    ("default", []),
    ("stronger 0.06-0.10 IOD", ["--min-strength", "0.06", "--max-strength", "0.1", "--max-shift", "0.12"]),
)
SEEDS = (0, 1, 2)
OUT = Path("bench_out")
#: Where each finished measurement is kept, so an interrupted study resumes.
SAVED = OUT / "learnability"
#: The packages whose code makes a corpus and scores it: a change there invalidates saved points.
SOURCES = ("synth", "pipelines", "schemas")
ROOT = Path(__file__).resolve().parent.parent


def _all_cores() -> None:
    """Undo the bench's pinning to one core: evaluate fans out over processes."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))


def video_sets(shared: list[Path], extra: list[Path], sizes=SIZES, seed: int = 0) -> dict[int, list[Path]]:
    """Nested sets of source videos: the first ``n`` of the shared clips (a seeded order), then
    the extra clips (likewise) beyond them. Sizes larger than all videos are left out."""
    rng = np.random.default_rng(seed)
    order = [shared[i] for i in rng.permutation(len(shared))] + [extra[i] for i in rng.permutation(len(extra))]
    return {n: sorted(order[:n]) for n in sizes if n <= len(order)}


def source_digest(root: Path = ROOT) -> str:
    """SHA-256 of every file of :data:`SOURCES` under ``root`` (paths and bytes, sorted)."""
    digest = hashlib.sha256()
    for package in SOURCES:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def measurement_key(videos: list[Path], flags: list[str], seed: int, code: str) -> str:
    """What a measurement depends on, hashed: the video files' names and sizes, the generate
    flags, the seed, the detectors and protocol, and the code (:func:`source_digest`)."""
    what = {
        "videos": [(p.name, p.stat().st_size) for p in videos],
        "flags": flags,
        "seed": seed,
        "protocol": [DETECTORS, FOLDS, CLIPS_PER_VIDEO, FAKES_PER_CLIP],
        "code": code,
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


def measure(videos: list[Path], flags: list[str], seed: int, folder: Path) -> dict:
    """Generate a corpus of ``videos`` with ``flags`` and evaluate it; the report and minutes."""
    listing = folder / "videos.csv"
    listing.write_text("uri\n" + "".join(f"{p.resolve()}\n" for p in videos))
    corpus, out = folder / "corpus", folder / "eval"
    start = time.perf_counter()
    counts = ["--max-clips-per-video", str(CLIPS_PER_VIDEO), "--fakes-per-clip", str(FAKES_PER_CLIP)]
    generate(["--input", str(listing), "--output", str(corpus), "--seed", str(seed), "-q", *counts, *flags])
    report = evaluate(["--train", str(corpus), "--out", str(out), "--detectors", ",".join(DETECTORS),
                       "--folds", str(FOLDS), "--seed", str(seed), "--no-models"])  # fmt: skip
    return {"report": report, "minutes": round((time.perf_counter() - start) / 60, 1)}


def saved_measure(videos: list[Path], flags: list[str], seed: int, folder: Path, code: str, extra=None) -> dict:
    """:func:`measure`, or its saved result when the same measurement finished before.

    ``extra(folder)`` adds to a fresh result while its corpus exists (and is saved with it).
    The result is written to :data:`SAVED` through a temporary file and a rename, so a
    killed run leaves no half-written point."""
    path = SAVED / f"{measurement_key(videos, flags, seed, code)}.json"
    if path.exists():
        result = json.loads(path.read_text())
        print(f"  (reused {path})", flush=True)
        return result
    result = measure(videos, flags, seed, folder)
    if extra is not None:
        result.update(extra(folder))
    SAVED.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(result, sort_keys=True))
    partial.replace(path)
    return result


def _cell(report: dict, detector: str, table: str, name: str) -> float | None:
    return report["detectors"][detector][table].get(name, {}).get("auroc")


def _fmt(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "  -  "


def face_sharpness(frames: np.ndarray, stride: int = 4) -> float:
    """Mean |Laplacian| of the grey ``(T, S, S, 3)`` uint8 crop inside a central ellipse (the
    face: half the crop wide, 0.7 of it high), every ``stride``-th frame."""
    import cv2

    size = frames.shape[1]
    yy, xx = np.mgrid[:size, :size] / size
    face = ((xx - 0.5) / 0.27) ** 2 + ((yy - 0.53) / 0.35) ** 2 < 1
    grey = frames[::stride].astype(np.float32).mean(-1)
    return float(np.mean([np.abs(cv2.Laplacian(g, cv2.CV_32F))[face].mean() for g in grey]))


def sharpness_reference(corpus: Path) -> dict[str, dict[str, float | None]]:
    """What a statistic with no training reaches on a control corpus: the AUROC of minus
    :func:`face_sharpness` per control level, over every clip (``all``), and over the clips
    whose crop is an upscale of its source (``upscaled``: the face box is smaller than the
    crop, so the crop holds no detail at the scale of a sub-pixel blur) and the others."""
    from kinefake.corpus.contents import iter_samples
    from kinefake.corpus.detectors.scoring import auroc
    from kinefake.corpus.reader import decode_mp4
    from kinefake.schemas.label import Label
    from kinefake.schemas.members import LABEL, MP4
    from kinefake.synth.perturb.policy import report_name

    rows = []
    for sample in iter_samples(str(corpus)):
        label = Label.from_json(json.loads(sample[LABEL]))
        p, crop = label.perturbation, label.crop
        upscaled = float(np.median([b.side for b in crop.boxes])) < crop.size
        frames, _ = decode_mp4(sample[MP4])
        rows.append((None if p is None else report_name(p), upscaled, -face_sharpness(frames)))
    levels = sorted({r[0] for r in rows if r[0] is not None})
    out: dict[str, dict[str, float | None]] = {}
    for part, keep in (("all", lambda u: True), ("upscaled", lambda u: u), ("downscaled", lambda u: not u)):
        out[part] = {}
        for level in levels:
            chosen = [(int(op is not None), score) for op, up, score in rows if op in (None, level) and keep(up)]
            value = auroc(np.array([c[0] for c in chosen]), np.array([c[1] for c in chosen]))
            out[part][level] = None if value is None else round(value, 3)
    return out


def calibration(videos: list[Path], folder: Path, code: str) -> dict:
    """The controls' AUROC per level and detector, and whether each detector is fit to judge."""

    def no_training(made: Path) -> dict:
        return {"no_training": sharpness_reference(made / "corpus")}

    result = saved_measure(videos, CONTROLS, 0, folder, code, extra=no_training)
    report = result["report"]
    levels = sorted(report["detectors"][DETECTORS[0]]["by_operator"])
    print(f"\n  calibration: {report['reals']} real, {report['fakes']} control fakes of {report['videos']} videos, "
          f"{result['minutes']} min")  # fmt: skip
    print(f"  {'detector':<26} " + " ".join(f"{lv:>9}" for lv in levels) + "  fit to judge")
    fit = {}
    for d in DETECTORS:
        fit[d] = (_cell(report, d, "by_operator", FIT_LEVEL) or 0) >= FIT_BAR
        cells = " ".join(f"{_fmt(_cell(report, d, 'by_operator', lv)):>9}" for lv in levels)
        verdict = "yes" if fit[d] else f"NO ({FIT_LEVEL} < {FIT_BAR})"
        print(f"  {d:<26} {cells}  {verdict}", flush=True)
    for part, row in result["no_training"].items():
        cells = " ".join(f"{_fmt(row.get(lv)):>9}" for lv in levels)
        print(f"  {'no training, ' + part + ' crops':<26} {cells}")
    return {**result, "fit": fit}


def curve(sets: dict[int, list[Path]], folder: Path, quick: bool, code: str) -> list[dict]:
    """The learning curve's points: ``{"videos", "strength", "seed", "report", "minutes"}``."""
    points = []
    sizes = [max(sets)] if quick else sorted(sets)
    runs = [(n, label, flags, 0) for label, flags in STRENGTHS for n in sizes]  # the default curve first
    runs += [(max(sets), STRENGTHS[0][0], STRENGTHS[0][1], s) for s in SEEDS[1:]]
    for n, label, flags, seed in runs:
        sub = folder / f"{n}-{len(points)}"
        sub.mkdir()
        result = saved_measure(sets[n], [*FAMILIES, *flags], seed, sub, code)
        points.append({"videos": n, "strength": label, "seed": seed, **result})
        report = result["report"]
        cells = "  ".join(
            f"{d} "
            + "/".join(_fmt(_cell(report, d, "by_family", f)) for f in sorted(report["detectors"][d]["by_family"]))
            for d in DETECTORS
        )
        families = "/".join(sorted(report["detectors"][DETECTORS[0]]["by_family"]))
        print(f"  {n:>3} videos  {label:<24} seed {seed}  {families}: {cells}  ({result['minutes']} min)", flush=True)
    return points


def plot(points: list[dict], path: Path) -> None:
    """AUROC against source videos, per detector and family, seed 0 of each strength."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(DETECTORS), figsize=(5 * len(DETECTORS), 3.6), sharey=True)
    for ax, d in zip(np.atleast_1d(axes), DETECTORS, strict=True):
        for label, _ in STRENGTHS:
            rows = [p for p in points if p["strength"] == label and p["seed"] == 0]
            families = sorted({f for p in rows for f in p["report"]["detectors"][d]["by_family"]})
            for f in families:
                xs = [p["videos"] for p in rows]
                ys = [_cell(p["report"], d, "by_family", f) for p in rows]
                ax.plot(xs, ys, "o-" if label == "default" else "s--", label=f"{f}, {label}")
        ax.axhline(0.5, color="grey", lw=0.5)
        ax.set(title=f"{d} detector", xlabel="source videos", xscale="log")
        ax.set_xticks(list(SIZES), [str(s) for s in SIZES])
        ax.legend(fontsize=6)
    np.atleast_1d(axes)[0].set_ylabel("by-video AUROC (5 folds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _table(title: str, header: list[str], rows: list[list]) -> list[str]:
    """A Markdown table under ``title``, as lines."""
    return [
        title,
        "",
        *("| " + " | ".join(str(c) for c in row) + " |" for row in [header, ["---"] * len(header), *rows]),
        "",
    ]


def markdown(results: dict) -> str:
    """The study as Markdown tables: the calibration, the curve per family, the spread over
    seeds at the largest set, and the operators at the largest set (seed 0)."""
    cal = results["calibration"]
    levels = sorted(cal["report"]["detectors"][DETECTORS[0]]["by_operator"])
    rows = [
        [d, *(_fmt(_cell(cal["report"], d, "by_operator", lv)) for lv in levels), "yes" if cal["fit"][d] else "no"]
        for d in DETECTORS
    ]
    rows += [
        [f"no training, {part} crops", *(_fmt(r.get(lv)) for lv in levels), ""]
        for part, r in cal["no_training"].items()
    ]
    title = f"Calibration (control fakes; fit to judge: >= {FIT_BAR} at {FIT_LEVEL}):"
    lines = _table(title, ["detector", *levels, "fit to judge"], rows)
    points = results["points"]
    families = sorted({f for p in points for f in p["report"]["detectors"][DETECTORS[0]]["by_family"]})
    rows = [
        [p["videos"], p["strength"], p["seed"], f"{p['report']['reals']} / {p['report']['fakes']}"]
        + [" / ".join(_fmt(_cell(p["report"], d, "by_family", f)) for f in families) for d in DETECTORS]
        + [p["minutes"]]
        for p in points
    ]
    header = ["videos", "strength", "seed", "reals / fakes", *(f"{d}: {'/'.join(families)}" for d in DETECTORS)]
    lines += _table("Learning curve (by-video AUROC per family):", [*header, "minutes"], rows)
    largest = max(p["videos"] for p in points)
    seeds = [p for p in points if p["videos"] == largest and p["strength"] == STRENGTHS[0][0]]
    if len(seeds) > 1:
        rows = []
        for d in DETECTORS:
            values = [[v for p in seeds if (v := _cell(p["report"], d, "by_family", f)) is not None] for f in families]
            rows.append(
                [d, *(f"{np.mean(v):.3f} +- {np.std(v, ddof=1):.3f}" if len(v) > 1 else "  -  " for v in values)]
            )
        title = f"Spread over {len(seeds)} seeds at {largest} videos, default strength (mean +- sd):"
        lines += _table(title, ["detector", *families], rows)
    top = [p for p in points if p["videos"] == largest and p["seed"] == 0]
    operators = sorted({o for p in top for o in p["report"]["detectors"][DETECTORS[0]]["by_operator"]})
    rows = [[o, *(_fmt(_cell(p["report"], d, "by_operator", o)) for p in top for d in DETECTORS)] for o in operators]
    header = ["operator", *(f"{d}, {p['strength']}" for p in top for d in DETECTORS)]
    lines += _table(f"Per operator at {largest} videos, seed 0:", header, rows)
    return "\n".join(lines)


def run(clips: list[Path], extra: list[Path] = (), quick: bool = False) -> None:
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    _all_cores()
    started = time.perf_counter()
    sets = video_sets(clips, list(extra))
    everything = sets[max(sets)]
    print(f"\nlearnability: by-video AUROC, {FOLDS} folds, {CLIPS_PER_VIDEO} clips per video, {FAKES_PER_CLIP} fakes "
          f"per clip, detectors {', '.join(DETECTORS)}; {len(clips)} shared + {len(extra)} extra videos")  # fmt: skip
    OUT.mkdir(exist_ok=True)
    code = source_digest()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "calibration").mkdir()
        calibrated = calibration(everything, Path(folder) / "calibration", code)
        print("\n  learning curve (AUROC per family)")
        points = curve(sets, Path(folder), quick, code)
    hours = (time.perf_counter() - started) / 3600
    measured = (calibrated["minutes"] + sum(p["minutes"] for p in points)) / 60  # over every resumed run
    results = {"calibration": calibrated, "points": points, "hours": round(hours, 2), "quick": quick,
               "measured_hours": round(measured, 2)}  # fmt: skip
    (OUT / "learnability.json").write_text(json.dumps(results, indent=1, sort_keys=True))
    plot(points, OUT / "learnability.png")
    (OUT / "learnability.md").write_text(markdown(results))
    print(f"\n  wrote {OUT / 'learnability.json'}, .png and .md "
          f"({hours:.1f} h this run, {measured:.1f} h of measurements)")  # fmt: skip

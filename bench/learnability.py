"""Learnability: do detectors trained on a corpus separate held-out source videos?

For each setting a corpus of every clip of the shared videos is generated (two fakes per
clip) and ``kinefake evaluate`` trains the kinematic (a) and pixel-temporal (b) baselines,
5 folds split by source video. Printed: by-video AUROC overall and per operator, against
strength (the drawn displacement range and the cap on any landmark's shift, IOD) and clips
per video (``--clip-stride`` 32 vs 8). Opt-in (``--stages learnability``): it takes about
90 minutes on two cores, and it uses every core (evaluate's workers, torch's threads).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

from pipelines.evaluate import run as evaluate
from pipelines.generate import run as generate

DETECTORS = ("kinematic", "pixel")
FAKES_PER_CLIP = 2
#: ``(label, generate flags)``; the first is the default.
SETTINGS = (
    ("default: 0.02-0.05 IOD, shift <= 0.06, stride 32", []),
    ("0.04-0.08 IOD, shift <= 0.08, stride 32", ["--min-strength", "0.04", "--max-strength", "0.08",
                                                 "--max-shift", "0.08"]),
    ("0.08-0.12 IOD, shift <= 0.12, stride 32", ["--min-strength", "0.08", "--max-strength", "0.12",
                                                 "--max-shift", "0.12"]),
    ("default strength, stride 8", ["--clip-stride", "8"]),
)  # fmt: skip


def _all_cores() -> None:
    """Undo the bench's pinning to one core: evaluate fans out over processes."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))


def run(clips: list[Path]) -> None:
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    _all_cores()
    print(f"\nlearnability: by-video AUROC, 5 folds, {FAKES_PER_CLIP} fakes per clip, detectors {', '.join(DETECTORS)}")
    operators: dict[str, dict[str, float | None]] = {}
    for label, flags in SETTINGS:
        with tempfile.TemporaryDirectory() as folder:
            listing = Path(folder) / "videos.csv"
            listing.write_text("uri\n" + "".join(f"{p.resolve()}\n" for p in clips))
            corpus, out = Path(folder) / "corpus", Path(folder) / "eval"
            start = time.perf_counter()
            fakes = ["--fakes-per-clip", str(FAKES_PER_CLIP)]
            generate(["--input", str(listing), "--output", str(corpus), *fakes, *flags])
            report = evaluate(["--train", str(corpus), "--out", str(out), "--detectors", ",".join(DETECTORS)])
        minutes = (time.perf_counter() - start) / 60
        cells = "  ".join(f"{d} {report['detectors'][d]['overall']['auroc']:.3f}" for d in DETECTORS)
        counts = f"{report['reals']:>4} real {report['fakes']:>4} fake"
        print(f"  {label:<48} {counts}  {cells}  ({minutes:.0f} min)", flush=True)
        for d in DETECTORS:
            for op, row in report["detectors"][d]["by_operator"].items():
                operators.setdefault(f"{d:<10} {label}", {})[op] = row["auroc"]
    print("\n  per operator (same runs)")
    names = sorted({op for row in operators.values() for op in row})
    print(f"  {'detector, setting':<59} " + " ".join(f"{n:>10}" for n in names))
    for key, row in operators.items():
        values = " ".join(f"{row[n]:>10.3f}" if row.get(n) is not None else f"{'-':>10}" for n in names)
        print(f"  {key:<59} {values}")

"""Run the benchmarks and print one table per stage.

    python -m bench --data ../shared/data/faces [--stages video]

The process is pinned to one CPU core (and OpenCV/FFmpeg to one thread), because a
Beam worker runs one such process per core: figures are per process. The learnability
study (``--stages learnability``) is not a speed figure: it is opt-in and uses every core.
So is ``--stages scaling-mirrored`` (1 vs 2 workers on twice the corpus, ~20 minutes), and
``--stages ab --baseline SITE`` (the whole command against an older kinefake, side by side).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

from bench import (
    ab,
    audit,
    bases,
    e2e,
    generate,
    landmarks,
    learnability,
    memory,
    parts,
    perturb,
    render,
    scaling,
    video,
)
from bench.results import machine, recorded
from kinefake.synth.threads import one_thread_per_library

STAGES = {
    "video": video.run,
    "landmarks": landmarks.run,
    "bases": bases.run,
    "perturb": perturb.run,
    "render": render.run,
    "e2e": e2e.run,
    "parts": parts.run,
    "generate": generate.run,
    "scaling": scaling.run,
    "scaling-mirrored": scaling.run_mirrored,
    "memory": memory.run,
    "audit": audit.run,
    "learnability": learnability.run,
    "ab": ab.run,
}
#: Stages run when ``--stages`` is not given (the speed figures).
DEFAULT_STAGES = sorted(set(STAGES) - {"learnability", "scaling-mirrored", "ab"})


def _clips(folder: Path) -> list[Path]:
    """The video files of ``folder``, sorted (none when it does not exist)."""
    return sorted(p for p in folder.glob("*") if p.suffix in (".mp4", ".mpg"))


def pin_to_one_core() -> str:
    one_thread_per_library()
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/faces"), help="Folder of real clips.")
    parser.add_argument("--stages", nargs="+", choices=sorted(STAGES), default=DEFAULT_STAGES)
    parser.add_argument(
        "--extra-data",
        type=Path,
        default=Path("../shared/data/faces-extra"),
        help="More real clips of other people, for the learnability curve (skipped when absent).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="Learnability: the calibration and the largest point of the curve only."
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="Also write the printed tables, dated, into this file's latest-run block (make bench: bench/RESULTS.md).",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="ab, parts: a folder holding an older kinefake (pip install --no-deps --target SITE OLD_CHECKOUT), "
        "measured side by side with this checkout.",
    )
    parser.add_argument(
        "--ab-args",
        default="--max-clips-per-video 2",
        help="ab: the generate flags both sides run with (default: %(default)s).",
    )
    args = parser.parse_args(argv)
    if "ab" in args.stages and args.baseline is None:
        parser.error("--stages ab needs --baseline SITE")
    clips = _clips(args.data)
    if not clips:
        print(f"no clips in {args.data}", file=sys.stderr)
        return 2
    pinning = pin_to_one_core()
    with recorded(args.results):
        print(
            f"kinefake bench, {datetime.date.today()}, {machine()}, {pinning}, {len(clips)} clips from {args.data}, "
            f"stages: {' '.join(s for s in STAGES if s in args.stages)}"
        )
        for stage in [s for s in STAGES if s in args.stages]:
            if stage == "learnability":
                learnability.run(clips, _clips(args.extra_data), args.quick)
            elif stage == "ab":
                ab.run(args.data, args.baseline, args.ab_args.split())
            elif stage == "parts":
                parts.run(clips, args.baseline)
            else:
                STAGES[stage](clips)
    return 0


if __name__ == "__main__":
    sys.exit(main())

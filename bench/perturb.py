"""Per operator, on the shared clips: coupling drop, speed-distribution shift, displacement.

For every tracked clip (up to two 32-frame clips per video) and operator, a few samples
are drawn with the default policy (that operator only) and measured
(:func:`kinefake.synth.perturb.measure.operator_table`).
"""

from __future__ import annotations

from pathlib import Path

from bench.report import tracked_clips
from kinefake.synth.bases.storage import load_bases
from kinefake.synth.landmarks import make_backend
from kinefake.synth.perturb.measure import operator_table
from kinefake.synth.perturb.motion import ClipMotion

CLIP = 32
SAMPLES = 3


def clip_motions(clips: list[Path], bases) -> list[tuple[str, ClipMotion]]:
    return [
        (f"{path.stem}_{k:04d}", ClipMotion.from_points(lm.ibug68, bases))
        for path, k, _, _, lm in tracked_clips(clips, make_backend("mediapipe"), CLIP, starts=2)
    ]


def run(clips: list[Path]) -> None:
    bases, _ = load_bases()
    motions = clip_motions(clips, bases)
    table = operator_table(motions, samples=SAMPLES)
    print(f"\nperturbation operators, default policy, {len(motions)} real clips x {SAMPLES} samples each")
    print(
        f"  {'operator':<11} {'n':>4} {'coupling before':>15} {'after':>6} {'drop (a)':>9} "
        f"{'KS region (b)':>13} {'KS max':>7} {'mean IOD (c)':>12} {'max IOD':>8}"
    )
    for operator, row in table.items():
        print(
            f"  {operator:<11} {row['samples']:>4} {row['coupling_before']:>15.2f} {row['coupling_after']:>6.2f} "
            f"{row['coupling_drop']:>9.2f} {row['ks_region']:>13.2f} {row['ks_max']:>7.2f} "
            f"{row['mean_displacement_iod']:>12.4f} {row['max_displacement_iod']:>8.3f}"
        )

"""End to end, one process: a clip decoded once, tracked, perturbed, rendered and encoded.

What one Beam worker process does per clip (without Beam's own overhead): decode the
clip, landmarks (MediaPipe), then the real sample and one pseudo-fake (crop, perturb,
render, encode, members). Figures are per *input* frame. Each video contributes its
first ``CLIPS_PER_VIDEO`` consecutive clips, read as ``generate`` reads them by default
(no ``--max-clips-per-video``): through one :class:`~synth.video.ClipReader`.
"""

from __future__ import annotations

import time
from pathlib import Path

from synth.bases.io import load_bases
from synth.errors import Rejected
from synth.landmarks import extract_landmarks, make_backend
from synth.perturb.motion import ClipMotion
from synth.perturb.policy import PerturbPolicy
from synth.samples import SampleConfig, crop_for_samples, make_samples
from synth.shard import local_input, plan_clips
from synth.video import ClipReader, probe

CLIP_FRAMES = 32
CLIPS_PER_VIDEO = 3


def run(clips: list[Path]) -> None:
    bases, info = load_bases()
    summary = {"kind": bases.kind, "k": bases.k, "data_sha256": info.get("data_sha256")}
    backend = make_backend("mediapipe")
    policy, config = PerturbPolicy(), SampleConfig(fakes=1)
    stages = ("decode", "landmarks", "samples")
    totals = {}  # size label -> [seconds per stage..., frames, clips, rejected]
    for path in clips:
        video = probe(path)
        size = f"{video.width}x{video.height}"
        row = totals.setdefault(size, [0.0, 0.0, 0.0, 0, 0, 0])
        try:
            planned = plan_clips(video, local_input(path), CLIP_FRAMES)
        except Rejected:
            continue
        reader = ClipReader(str(path))
        for clip in planned[:CLIPS_PER_VIDEO]:
            t0 = time.perf_counter()
            frames = reader.read(clip.start_frame, clip.num_frames, clip.start_pts)
            t1 = time.perf_counter()
            try:
                lm = extract_landmarks(frames, backend, float(video.fps))
            except Rejected:
                row[5] += 1
                continue
            t2 = time.perf_counter()
            motion = ClipMotion.from_points(lm.ibug68, bases)
            make_samples(clip, crop_for_samples(clip, frames, lm, config), lm, motion, summary, policy, 0, config)
            t3 = time.perf_counter()
            row[0] += t1 - t0
            row[1] += t2 - t1
            row[2] += t3 - t2
            row[3] += clip.num_frames
            row[4] += 1
        reader.close()
    print("\nend to end per input frame: decode once, landmarks, real + 1 fake sample (crop, perturb, render, encode)")
    header = "".join(f"{s + ' ms':>13}" for s in stages)
    print(f"  {'clip size':<12} {'clips':>5} {'frames':>7}{header} {'total ms':>9} {'frames/s':>9}")
    all_row = [0.0, 0.0, 0.0, 0, 0, 0]
    for size, row in sorted(totals.items(), key=lambda kv: kv[1][3], reverse=True):
        if row[3]:
            _print_row(size, row)
        all_row = [a + b for a, b in zip(all_row, row, strict=True)]
    _print_row("all", all_row)
    if all_row[5]:
        print(f"  ({all_row[5]} clips rejected by the landmark gates, not counted)")


def _print_row(label: str, row: list) -> None:
    frames = row[3]
    cells = "".join(f"{1000 * s / frames:>13.2f}" for s in row[:3])
    total = sum(row[:3])
    print(f"  {label:<12} {row[4]:>5} {frames:>7}{cells} {1000 * total / frames:>9.2f} {frames / total:>9.1f}")

"""Decode and encode throughput at native size, at 512² and for 256² face crops."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from bench.report import table, timed
from kinefake.synth.video import iter_frames, probe, read_frames

ENCODE_FRAMES = 64


def _decode(paths: list[Path], size: tuple[int, int] | None = None):
    def go() -> int:
        return sum(1 for p in paths for _ in iter_frames(p, size=size))

    return go


def _encode(frames: list[np.ndarray], fps: list):
    from kinefake.synth.video import encode_mp4

    def go() -> int:
        for clip, rate in zip(frames, fps, strict=True):
            encode_mp4(clip, rate)
        return sum(len(c) for c in frames)

    return go


def run(clips: list[Path]) -> None:
    infos = {p: probe(p) for p in clips}
    by_size = defaultdict(list)
    for p, info in infos.items():
        by_size[(info.width, info.height)].append(p)

    rows = []
    seconds, frames = timed(_decode(clips))
    rows.append(("all clips, native size", seconds, frames))
    for (w, h), paths in sorted(by_size.items(), key=lambda kv: kv[0][0] * kv[0][1]):
        seconds, frames = timed(_decode(paths))
        rows.append((f"native {w}x{h} ({len(paths)} clips)", seconds, frames))
    seconds, frames = timed(_decode(clips, size=(512, 512)))
    rows.append(("all clips, resized to 512x512 on decode", seconds, frames))
    table("decode -> RGB uint8 (PyAV, 1 thread)", rows)

    heads = {p: read_frames(p, 0, min(ENCODE_FRAMES, infos[p].frame_count)) for p in clips}
    rates = [infos[p].fps for p in clips]
    rows = []
    seconds, frames = timed(_encode(list(heads.values()), rates), repeat=1)
    rows.append((f"native size, first {ENCODE_FRAMES} frames of each clip", seconds, frames))
    for side in (512, 256):
        resized = [
            np.stack([cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA) for f in h]) for h in heads.values()
        ]
        seconds, frames = timed(_encode(resized, rates), repeat=2)
        rows.append((f"{side}x{side}", seconds, frames))
    table("encode RGB -> H.264 mp4 (libx264 veryfast, crf 18, 1 thread)", rows)

"""Landmark stage: speed per backend and resolution, against MediaPipe's own tracking,
smoothing quality, backend agreement."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from bench.report import table
from kinefake.errors import Rejected
from kinefake.synth.landmarks import extract_landmarks, make_backend
from kinefake.synth.landmarks.backends import native_stderr_silenced
from kinefake.synth.landmarks.extract import describe_track
from kinefake.synth.landmarks.regions import to_ibug68
from kinefake.synth.landmarks.smooth import lag_frames, mouth_opening
from kinefake.synth.landmarks.track import track_clip
from kinefake.synth.video import probe, read_frames

FRAMES = 64
SIZES = {"256x256": (256, 256), "512x512": (512, 512), "1920x1080": (1920, 1080)}


def _speed(clips: list[Path], backends: dict) -> None:
    rows = []
    for label, size in SIZES.items():
        paths = [p for p in clips if (probe(p).width, probe(p).height) == size]
        for name, backend in backends.items():
            total = {"decode": 0.0, "landmarks": 0.0}
            frames_done = 0
            for path in paths:
                info = probe(path)
                n = min(FRAMES, info.frame_count)
                start = time.perf_counter()
                frames = read_frames(path, 0, n)
                decoded = time.perf_counter()
                try:
                    extract_landmarks(frames, backend, float(info.fps))
                except Rejected:
                    continue  # the crowd clip: not a per-frame figure
                total["decode"] += decoded - start
                total["landmarks"] += time.perf_counter() - decoded
                frames_done += n
            if frames_done:
                rows.append((f"{name} {label} landmarks ({len(paths)} clips)", total["landmarks"], frames_done))
                rows.append((f"{name} {label} decode + landmarks", total["decode"] + total["landmarks"], frames_done))
    table(f"landmarks stage: track + smooth + pose + gates, first {FRAMES} frames per clip", rows)


#: Turns of the side-by-side comparison with MediaPipe's own tracking.
TURNS = 3


def _against_mediapipe(clips: list[Path], backend) -> None:
    """The landmark stage (detection, fitting, tracking, smoothing, pose, gates) against what
    MediaPipe's face mesh costs when it tracks the same frames itself (``static_image_mode``
    off, iris refinement on, the whole frame in: its own detector, its own crop), clip by clip
    in turns in this process, :data:`TURNS` times; the issue's bar is 1.5x."""
    import mediapipe as mp

    with native_stderr_silenced():
        mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True)
    inputs = []
    for path in clips:
        info = probe(path)
        frames = read_frames(path, 0, min(FRAMES, info.frame_count))
        try:
            extract_landmarks(frames, backend, float(info.fps))  # also pays the one-off imports
        except Rejected:
            continue
        inputs.append((frames, float(info.fps)))
    ratios, ours, theirs = [], [], []
    for _ in range(TURNS):
        spent = {"stage": 0.0, "mediapipe": 0.0}
        for frames, fps in inputs:
            start = time.perf_counter()
            extract_landmarks(frames, backend, fps)
            spent["stage"] += time.perf_counter() - start
            mesh.reset()
            start = time.perf_counter()
            for frame in frames:
                mesh.process(frame)
            spent["mediapipe"] += time.perf_counter() - start
        count = sum(len(frames) for frames, _ in inputs)
        ours.append(1e3 * spent["stage"] / count)
        theirs.append(1e3 * spent["mediapipe"] / count)
        ratios.append(spent["stage"] / spent["mediapipe"])
    mesh.close()
    print(
        f"\nlandmark stage against MediaPipe's own tracking (face mesh, tracking mode, iris, whole frames),"
        f" first {FRAMES} frames of {len(inputs)} clips, {TURNS} turns:"
        f" stage {statistics.median(ours):.2f} ms/frame, MediaPipe {statistics.median(theirs):.2f} ms/frame,"
        f" ratio {statistics.median(ratios):.2f}x (turns {', '.join(f'{r:.2f}' for r in ratios)}; bar 1.5x)"
    )


def _quality(clips: list[Path], backend) -> None:
    print(f"\nsmoothing ({backend.name}): rigid-point jitter (% IOD per frame) and mouth-opening lag/range")
    print(f"  {'clip':<44} {'raw':>6} {'smooth':>6} {'drop':>5} {'lag':>4} {'range kept':>10}")
    drops = []
    for path in clips:
        info = probe(path)
        frames = read_frames(path, 0, min(FRAMES, info.frame_count))
        try:
            track = track_clip(frames, backend)
            lm = describe_track(track, backend, float(info.fps), frames.shape[2], frames.shape[1])
        except Rejected as exc:
            print(f"  {path.name[:44]:<44} rejected: {exc.reason}")
            continue
        raw = mouth_opening(to_ibug68(track.points, lm.layout))
        smooth = mouth_opening(lm.ibug68)
        moving = np.ptp(raw) >= 0.05
        lag = f"{lag_frames(raw, smooth):>4d}" if moving else "   -"
        kept = f"{np.ptp(smooth) / np.ptp(raw):>10.2f}" if moving else "  (still)"
        drop = 1 - lm.jitter / lm.raw_jitter
        drops.append(drop)
        jitter = f"{100 * lm.raw_jitter:>6.2f} {100 * lm.jitter:>6.2f} {100 * drop:>4.0f}%"
        print(f"  {path.name[:44]:<44} {jitter} {lag} {kept}")
    print(f"  jitter drop: min {100 * min(drops):.0f}%, median {100 * np.median(drops):.0f}%")


def _agreement(clips: list[Path], backends: dict) -> None:
    print("\nbackend agreement: NME of mediapipe's iBUG-68 subset against dlib, % of IOD, frames both tracked")
    print(f"  {'clip':<44} {'all 68':>7} {'no jaw':>7} {'jaw':>6} {'|dyaw|':>7}")
    inner = slice(17, 68)
    values = []
    for path in clips:
        info = probe(path)
        frames = read_frames(path, 0, min(FRAMES, info.frame_count))
        try:
            mesh, dlib = (extract_landmarks(frames, backends[n], float(info.fps)) for n in ("mediapipe", "dlib"))
        except Rejected as exc:
            print(f"  {path.name[:44]:<44} rejected by a backend: {exc.reason}")
            continue
        iod = dlib.iod[:, None]
        err = np.linalg.norm(mesh.ibug68 - dlib.ibug68, axis=-1) / iod
        row = (err.mean(), err[:, inner].mean(), err[:, :17].mean())
        values.append(row)
        dyaw = np.median(np.abs(mesh.euler[:, 0] - dlib.euler[:, 0]))
        print(f"  {path.name[:44]:<44} {100 * row[0]:>7.1f} {100 * row[1]:>7.1f} {100 * row[2]:>6.1f} {dyaw:>6.1f}°")
    med = np.median(np.array(values), axis=0)
    print(f"  {'median':<44} {100 * med[0]:>7.1f} {100 * med[1]:>7.1f} {100 * med[2]:>6.1f}")


def run(clips: list[Path]) -> None:
    backends = {name: make_backend(name) for name in ("mediapipe", "dlib")}
    _speed(clips, backends)
    _against_mediapipe(clips, backends["mediapipe"])
    _quality(clips, backends["mediapipe"])
    _agreement(clips, backends)

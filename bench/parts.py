"""Where a frame's time goes: ``kinefake generate`` split into named parts, self time each.

The whole command runs in this process (DirectRunner, the default flags but
``--decode-ahead 0 --sample-threads 1 --direct_num_workers=1``, pinned to one core), with each named part's
functions wrapped in a timer that keeps *self* time per thread: a part's nested parts are
not counted twice, and what no part claims (Beam, Python glue, imports) is
``unattributed``. Serialised on one core, the parts add up to the command's wall time.
Figures are per input frame of the clips that made samples.

Beside each part: its *floor*, the cost of the library call it cannot avoid, measured
here on the same clips (FFmpeg's decode alone, BlazeFace on the downscaled frames every
``detect_every`` frames, the face mesh on the crops in tracking mode, x264 on the crops,
one remap of a crop; none where the part is bookkeeping), and its ratio to the previous
release's figure: read from :data:`PREVIOUS`, or measured side by side (``--baseline``).
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import functools
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.generate import generate_here
from bench.results import machine

CLIPS_PER_VIDEO = 2
UNATTRIBUTED = "unattributed (Beam, glue)"
TOTAL = "total"
#: The previous release's figures, measured by this stage: ``{"release", "measured", "ms_per_frame": {part: ms}}``.
PREVIOUS = Path(__file__).with_name("parts_previous.json")

#: Named parts: ``name -> "module:qualname"`` of the functions (or methods) whose self time it is.
#: Functions are patched where they are looked up: in the module that calls them.
PARTS: dict[str, tuple[str, ...]] = {
    # landmark stage
    "detect: downscale": ("kinefake.synth.landmarks.backends:_downscale",),
    "detect: BlazeFace model": ("mediapipe.python.solutions.face_detection:FaceDetection.process",),
    "detect: boxes": ("kinefake.synth.landmarks.backends:MediaPipeBackend.detect",),
    "fit: crop + points": ("kinefake.synth.landmarks.backends:MediaPipeBackend.fit",),
    "fit: face mesh model": ("mediapipe.python.solutions.face_mesh:FaceMesh.process",),
    "tracking logic": ("kinefake.synth.landmarks.extract:track_clip",),
    "smoothing": ("kinefake.synth.landmarks.extract:smooth_points",),
    "pose (PnP)": ("kinefake.synth.landmarks.extract:solve_poses",),
    "visibility, gates, jitter": (
        "kinefake.synth.landmarks.extract:describe_track",
        "kinefake.synth.landmarks.extract:visibility",
        "kinefake.synth.landmarks.extract:rigid_jitter",
        "kinefake.synth.landmarks.extract:check_gates",
    ),
    # decode
    "decode: FFmpeg": ("kinefake.synth.video:ClipReader.read",),
    "decode: YUV -> RGB": ("kinefake.synth.video:_to_rgb",),
    # rest
    "crop": ("kinefake.synth.donor_group:crop_for_samples",),
    "motion coefficients": ("kinefake.synth.donor_group:ClipMotion.from_points",),
    "perturbation draws": ("kinefake.synth.clip_samples:sample_perturbation",),
    "render mesh": ("kinefake.synth.render.clip:pixel_mesh",),
    "warp": ("kinefake.synth.render.clip:warp_frame",),
    "render loop": ("kinefake.synth.clip_samples:render_crops", "kinefake.synth.render.clip:render_crops"),
    "pixel mask": ("kinefake.synth.render.clip:pixel_mask",),
    "patch mask": ("kinefake.synth.render.clip:patch_mask",),
    "blend, controls": (
        "kinefake.synth.clip_samples:blend_frames",
        "kinefake.synth.clip_samples:control_frames",
        "kinefake.synth.render.clip:blend_frames",
        "kinefake.synth.clip_samples:region_weights",
    ),
    "encode (x264 + mux)": ("kinefake.synth.clip_samples:encode_mp4",),
    "masks .npz": ("kinefake.synth.clip_samples:_npz",),
    "labels, .npy, sample": (
        "kinefake.synth.clip_samples:make_samples",
        "kinefake.synth.clip_samples:real_sample",
        "kinefake.synth.clip_samples:fake_samples",
        "kinefake.synth.clip_samples:_npy",
    ),
    "tar writing (parts, join)": ("kinefake.pipelines.synthesize:SampleTarWriter.write",),
    "sample + landmark rows": (
        "kinefake.pipelines.synthesize:sample_record",
        "kinefake.pipelines.synthesize:clip_landmark_rows",
    ),
    "group records": (
        "kinefake.pipelines.synthesize:write_group",
        "kinefake.pipelines.synthesize:read_group",
    ),
    "Parquet tables": ("kinefake.pipelines.tables:parquet_bytes",),
    "probe": ("kinefake.pipelines.shard_videos:probe",),
    "identify (digests)": ("kinefake.pipelines.shard_videos:identify_input",),
}

#: A part's functions under the names an older release gave them (``--baseline``): left out
#: where the code measured does not have them.
RENAMED: dict[str, tuple[str, ...]] = {
    "pose (PnP)": ("kinefake.synth.landmarks.extract:solve_pose",),  # per frame before 2026-12-07
}


class SelfTimer:
    """Self time (wall, ``time.perf_counter``) per named part, kept per thread."""

    def __init__(self) -> None:
        self.seconds: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()
        self._local = threading.local()
        self._lock = threading.Lock()

    def wrap(self, name: str, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            stack = self._local.__dict__.setdefault("stack", [])
            stack.append(0.0)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                children = stack.pop()
                if stack:
                    stack[-1] += elapsed
                with self._lock:
                    self.seconds[name] += elapsed - children
                    self.calls[name] += 1

        return timed

    @contextlib.contextmanager
    def patched(self, parts: dict[str, tuple[str, ...]]):
        """Wrap every part's functions for the block; restore them afterwards. A function the
        code measured does not have (an older release) is left out."""
        undo = []
        try:
            for name, targets in parts.items():
                for target in targets:
                    module_name, qualname = target.split(":")
                    owner = importlib.import_module(module_name)
                    *path, attr = qualname.split(".")
                    for step in path:
                        owner = getattr(owner, step, None)
                    if owner is None or not hasattr(owner, attr):
                        continue
                    original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
                    if isinstance(original, (classmethod, staticmethod)):
                        wrapped = type(original)(self.wrap(name, original.__func__))
                    else:
                        wrapped = self.wrap(name, original)
                    setattr(owner, attr, wrapped)
                    undo.append((owner, attr, original))
            yield self
        finally:
            for owner, attr, original in reversed(undo):
                setattr(owner, attr, original)


def profile(clips: list[Path]) -> tuple[dict[str, float], dict[str, int], float, int]:
    """``(seconds by part, calls by part, wall seconds, input frames)`` of one serialised generate run."""
    timer = SelfTimer()
    flags = ["--max-clips-per-video", str(CLIPS_PER_VIDEO), "--decode-ahead", "0", "--sample-threads", "1"]
    flags.append("--direct_num_workers=1")  # on the main thread, whatever cores it may use
    measured = {name: targets + RENAMED.get(name, ()) for name, targets in PARTS.items()}
    with tempfile.TemporaryDirectory() as folder, timer.patched(measured):
        wall, frames = generate_here(clips, Path(folder), flags)
    return dict(timer.seconds), dict(timer.calls), wall, frames


def floors(clips: list[Path]) -> dict[str, float]:
    """Seconds the unavoidable library calls of some parts take on the clips ``generate`` makes
    samples of (:func:`profile`'s): FFmpeg decoding each clip's frames and nothing else,
    YUV -> RGB on them, BlazeFace on the downscaled frame every ``detect_every`` frames, the face
    mesh in tracking mode on 256² crops, one resize per crop, one remap per fake frame, x264 on
    every real and fake clip."""
    import av
    import cv2
    import mediapipe as mp
    import numpy as np

    from kinefake.errors import Rejected
    from kinefake.synth.landmarks import TrackConfig, extract_landmarks, make_backend
    from kinefake.synth.landmarks.backends import DETECT_MAX_SIDE, _downscale, native_stderr_silenced
    from kinefake.synth.render.clip import crop_clip
    from kinefake.synth.render.crop import crop_origin_scale
    from kinefake.synth.sharding import ClipPlan, local_input
    from kinefake.synth.video import encode_mp4, probe, read_frames

    spent: collections.Counter[str] = collections.Counter()

    def timed(name, fn, *args):
        start = time.perf_counter()
        result = fn(*args)
        spent[name] += time.perf_counter() - start
        return result

    every = TrackConfig().detect_every
    with native_stderr_silenced():
        detector = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
        mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True)
    backend = make_backend("mediapipe")
    try:
        for path in clips:
            try:
                planned = ClipPlan(32, max_clips=CLIPS_PER_VIDEO).clips(probe(path), local_input(path))
            except Rejected:
                continue
            with av.open(str(path)) as container:  # FFmpeg's cost per frame, decoding every frame in order
                stream = container.streams.video[0]
                stream.codec_context.thread_count = 1
                start, decoded = time.perf_counter(), sum(1 for _ in container.decode(stream))
                per_frame = (time.perf_counter() - start) / max(decoded, 1)
            for clip in planned:
                frames = read_frames(path, clip.start_frame, clip.num_frames, clip.start_pts)
                try:
                    lm = extract_landmarks(frames, backend, clip.fps_num / clip.fps_den)
                except Rejected:
                    continue
                spent["decode: FFmpeg"] += per_frame * len(frames)
                for frame in frames:
                    timed(
                        "decode: YUV -> RGB",
                        cv2.cvtColor,
                        cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420),
                        cv2.COLOR_YUV2RGB_I420,
                    )
                for frame in frames[::every]:
                    timed("detect: BlazeFace model", detector.process, _downscale(frame, DETECT_MAX_SIDE)[0])
                crops = crop_clip(frames, lm.ibug68, clip.fps_num / clip.fps_den)
                mesh.reset()
                for crop in crops.frames:
                    timed("fit: face mesh model", mesh.process, crop)
                for frame, box in zip(frames, crops.boxes, strict=True):  # the resampling a crop needs
                    (x0, y0), _, side = crop_origin_scale(box, crops.size)
                    patch = frame[max(y0, 0) : y0 + side, max(x0, 0) : x0 + side]
                    how = cv2.INTER_AREA if side > crops.size else cv2.INTER_LINEAR
                    timed("crop", cv2.resize, patch, (crops.size, crops.size), None, 0, 0, how)
                identity = np.indices((256, 256), np.float32)[::-1]
                for crop in crops.frames:
                    timed("warp", cv2.remap, crop, identity[0], identity[1], cv2.INTER_LINEAR)
                for _ in range(2):  # the real sample and its fake
                    timed("encode (x264 + mux)", encode_mp4, crops.frames, clip.fps_num / clip.fps_den)
    finally:
        for model in (detector, mesh, backend):
            model.close()
    return dict(spent)


def figures(clips: list[Path]) -> tuple[dict[str, float], dict[str, int], int]:
    """``(ms per input frame by part, with the unattributed rest and the total; calls by part;
    input frames)`` of one :func:`profile` run."""
    seconds, calls, wall, frames = profile(clips)
    rows = {name: seconds.get(name, 0.0) for name in PARTS}
    rows[UNATTRIBUTED] = wall - sum(rows.values())
    rows[TOTAL] = wall
    return {name: 1000 * s / frames for name, s in rows.items()}, calls, frames


#: Runs of each side when the previous release is measured side by side (``--baseline``).
ROUNDS = 3


def side_by_side(clips: list[Path], baseline: Path) -> tuple[dict[str, float], dict[str, float], dict, int]:
    """``(previous, this checkout, calls, frames)``: median ms per frame by part over
    :data:`ROUNDS` runs of each, in turns (the order swapped each round), each in a fresh
    interpreter whose ``PYTHONPATH`` starts with ``baseline`` (an older kinefake) or not."""
    repo = str(Path(__file__).resolve().parent.parent)
    code = (
        "import json, sys\nfrom pathlib import Path\nfrom bench.parts import figures\n"
        "print(json.dumps(figures([Path(p) for p in sys.argv[1:]])))"
    )
    runs: dict[str, list[dict]] = {"previous": [], "now": []}
    calls, frames = {}, 0
    with tempfile.TemporaryDirectory() as folder:  # run from elsewhere: a checkout's folder shadows the site
        for round_ in range(ROUNDS):
            for side in ("previous", "now") if round_ % 2 == 0 else ("now", "previous"):
                path = os.pathsep.join([str(baseline), repo] if side == "previous" else [repo])
                env = {**os.environ, "PYTHONPATH": path}
                command = [sys.executable, "-c", code, *(str(c.resolve()) for c in clips)]
                done = subprocess.run(command, env=env, cwd=folder, check=True, capture_output=True, text=True)
                ms, used, frames = json.loads(done.stdout.strip().splitlines()[-1])
                runs[side].append(ms)
                calls = used if side == "now" else calls
    previous, now = ({name: statistics.median(r[name] for r in runs[side]) for name in runs[side][0]} for side in runs)
    return previous, now, calls, frames


def run(clips: list[Path], baseline: Path | None = None) -> None:
    """Print the parts of this checkout beside their floors and the previous release's figures:
    measured side by side with ``baseline`` (medians of :data:`ROUNDS` runs each) when given,
    else read from :data:`PREVIOUS`."""
    if baseline is not None:
        before, now, calls, frames = side_by_side(clips, baseline)
        source = f"{baseline}, side by side, medians of {ROUNDS} runs each in turns"
    else:
        now, calls, frames = figures(clips)
        previous = json.loads(PREVIOUS.read_text()) if PREVIOUS.exists() else {}
        before = previous.get("ms_per_frame", {})
        source = f"{previous['release']} ({previous['measured']})" if previous else "none recorded"
    floor = floors(clips)
    print(f"\nkinefake generate split into named parts, {CLIPS_PER_VIDEO} clips per shared video, 1 fake, one process")
    print("serialised on one core (--decode-ahead 0 --sample-threads 1): self time per input frame")
    print(f"previous release: {source}")
    print(f"  {'part':<28} {'ms/frame':>9} {'calls':>6} {'floor':>6} {'previous':>9} {'ratio':>6}")
    for name, ms in now.items():
        low = f"{1000 * floor[name] / frames:>6.2f}" if name in floor else f"{'':>6}"
        old = before.get(name)
        was = f"{old:>9.2f} {ms / old:>6.2f}" if old else f"{'':>9} {'':>6}"
        count = f"{calls[name]:>6}" if name in calls else f"{'':>6}"
        print(f"  {name:<28} {ms:>9.2f} {count} {low} {was}")
    print(f"  {frames} input frames: {1000 / now[TOTAL]:.1f} input frames/s serialised on one core")


def write_previous(clips: list[Path], release: str) -> None:
    """Measure the kinefake that is imported (an older release put first on ``PYTHONPATH``) and
    save its figures as :data:`PREVIOUS`, which later runs print their ratio to."""
    ms, _, frames = figures(clips)
    measured = f"{datetime.date.today()}, {machine()}, {frames} input frames"
    record = {"release": release, "measured": measured, "ms_per_frame": {k: round(v, 3) for k, v in ms.items()}}
    PREVIOUS.write_text(json.dumps(record, indent=1) + "\n")

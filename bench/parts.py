"""Where a frame's time goes: ``kinefake generate`` split into named parts, self time each.

The whole command runs in this process (DirectRunner, the defaults but one decode thread
ahead off and one sample thread, pinned to one core), with each named part's functions
wrapped in a timer that keeps *self* time per thread: a part's nested parts are not
counted twice, and what no part claims (Beam, Python glue, imports) is ``unattributed``.
Serialised on one core, the parts add up to the command's wall time. Figures are per
input frame of the clips that made samples.

Beside each part: its *floor*, the cost of the library call it cannot avoid, measured
here on the same clips (FFmpeg's decode alone, BlazeFace on the downscaled frames every
``detect_every`` frames, the face mesh on the crops in tracking mode, x264 on the crops,
one remap of a crop) or 0 where the part is bookkeeping; and its ratio to the previous
release's figure (:data:`PREVIOUS`, measured the same way).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import importlib
import json
import logging
import tempfile
import threading
import time
from pathlib import Path

from kinefake.fs import read_columns

CLIPS_PER_VIDEO = 2
#: Figures of the previous release (ms per input frame by part), or None.
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
    "pose (PnP)": ("kinefake.synth.landmarks.extract:solve_pose",),
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
    "labels, .npy, sample": ("kinefake.synth.clip_samples:make_samples", "kinefake.synth.clip_samples:_npy"),
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
        """Wrap every part's functions for the block; restore them afterwards."""
        undo = []
        try:
            for name, targets in parts.items():
                for target in targets:
                    module_name, qualname = target.split(":")
                    owner = importlib.import_module(module_name)
                    *path, attr = qualname.split(".")
                    for step in path:
                        owner = getattr(owner, step)
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


def _generate(clips: list[Path], folder: Path, extra: list[str]) -> tuple[float, int]:
    from kinefake.pipelines.generate import run as generate

    listing = folder / "videos.csv"
    listing.write_text("uri\n" + "".join(f"{p.resolve()}\n" for p in clips))
    out = folder / "out"
    argv = ["--input", str(listing), "--output", str(out), "--max-clips-per-video", str(CLIPS_PER_VIDEO), *extra]
    start = time.perf_counter()
    generate(argv)
    seconds = time.perf_counter() - start
    frames = 0
    for path in sorted(out.glob("parquet/samples/*/*.parquet")):
        for row in read_columns(str(path), ["label", "num_frames"]).to_pylist():
            frames += row["num_frames"] if row["label"] == 0 else 0
    return seconds, frames


def profile(clips: list[Path]) -> tuple[dict[str, float], float, int]:
    """``(seconds by part, wall seconds, input frames)`` of one serialised generate run."""
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    timer = SelfTimer()
    with tempfile.TemporaryDirectory() as folder, timer.patched(PARTS):
        wall, frames = _generate(clips, Path(folder), ["--decode-ahead", "0", "--sample-threads", "1"])
    return dict(timer.seconds), dict(timer.calls), wall, frames


def run(clips: list[Path]) -> None:
    seconds, calls, wall, frames = profile(clips)
    previous = json.loads(PREVIOUS.read_text()) if PREVIOUS.exists() else {}
    print(f"\nkinefake generate split into named parts: self time per input frame, {CLIPS_PER_VIDEO} clips per video,")
    print("serialised on one core (--decode-ahead 0 --sample-threads 1)")
    print(f"  {'part':<28} {'ms/frame':>9} {'calls':>7} {'previous':>9} {'ratio':>6}")
    rows = {name: seconds.get(name, 0.0) for name in PARTS}
    rows["unattributed (Beam, glue)"] = wall - sum(rows.values())
    for name, s in rows.items():
        ms = 1000 * s / frames
        before = previous.get("parts", {}).get(name)
        ratio = f"{ms / before:>6.2f}" if before else f"{'-':>6}"
        print(f"  {name:<28} {ms:>9.2f} {calls.get(name, 0):>7} {before if before is not None else '-':>9} {ratio}")
    print(f"  {'total':<28} {1000 * wall / frames:>9.2f}   {frames} frames, {wall:.1f} s, {frames / wall:.1f} frames/s")

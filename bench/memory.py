"""Peak memory of one ``generate`` process by input resolution (512² up to 8K).

Each input is one real face clip scaled up (letterboxed) to the size, plus the all-grey
8192x4320 clip that once took 4.4 GB; ``generate`` runs on it in a child process that
reports its own peak RSS (``VmHWM``) at exit. (``os.wait4``'s figure would not do: Linux
carries the forking parent's peak into the child's.) Frames above ``MAX_WORK_PIXELS`` are scaled
down right after decode, so the peak should stay near the 1080p figure whatever the input.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from kinefake.synth.video import encode_mp4, iter_frames, probe

SIZES = [(512, 512), (1920, 1080), (3840, 2160), (7680, 4320)]
#: Frames per input: two clips of the default 32 frames plus a few, so that a worker holds
#: a clip's frames while it decodes the next one ahead (``--decode-ahead 1``).
FRAMES = 72
FACE_CLIP = "LivePortrait__d0"
REPO = Path(__file__).resolve().parents[1]
#: Target of issue 11: peak resident memory of one worker, MB, for any input.
TARGET_MB = 1500


def letterboxed(path: Path, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """``path``'s first :data:`FRAMES` frames scaled to fit ``size``, centred on black."""
    width, height = size
    for frame in iter_frames(path, count=FRAMES):
        scale = min(width / frame.shape[1], height / frame.shape[0])
        inner = cv2.resize(frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)))
        canvas = np.zeros((height, width, 3), np.uint8)
        top, left = (height - inner.shape[0]) // 2, (width - inner.shape[1]) // 2
        canvas[top : top + inner.shape[0], left : left + inner.shape[1]] = inner
        yield canvas


def _grey(size: tuple[int, int]) -> Iterator[np.ndarray]:
    frame = np.full((size[1], size[0], 3), 128, np.uint8)
    for _ in range(FRAMES):
        yield frame


#: Runs ``python -m kinefake.pipelines.generate ARGS`` and writes the process's peak RSS on exit.
_GENERATE_REPORTING_PEAK = """
import atexit, runpy, sys
def peak():
    status = open("/proc/self/status").read().splitlines()
    sys.stderr.write("\\n" + next(line for line in status if line.startswith("VmHWM")) + "\\n")
atexit.register(peak)
runpy.run_module("kinefake.pipelines.generate", run_name="__main__")
"""


def generate_peak_mb(args: list[str]) -> tuple[float, float, int]:
    """Run ``generate ARGS`` in a child process: (its peak RSS MB, wall seconds, exit status)."""
    start = time.perf_counter()
    argv = [sys.executable, "-c", _GENERATE_REPORTING_PEAK, *args]
    done = subprocess.run(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    lines = [line for line in done.stderr.splitlines() if line.startswith("VmHWM")]
    peak = int(lines[-1].split()[1]) / 1024 if lines else float("nan")
    return peak, time.perf_counter() - start, done.returncode


def run(clips: list[Path]) -> None:
    source = next((p for p in clips if p.stem == FACE_CLIP), clips[0])
    print(f"\npeak RSS of one generate process (DirectRunner), {FRAMES}-frame input, 2 clips; target < {TARGET_MB} MB")
    print(f"  {'input':<40} {'file MB':>8} {'peak MB':>8} {'wall s':>7} {'exit':>5}")
    with tempfile.TemporaryDirectory() as folder:
        cases = [(f"{w}x{h} {source.stem}", (w, h), letterboxed(source, (w, h))) for w, h in SIZES]
        cases.append(("8192x4320 all grey", (8192, 4320), _grey((8192, 4320))))
        for label, size, frames in cases:
            video = Path(folder) / f"{size[0]}x{size[1]}_{len(label)}.mp4"
            video.write_bytes(encode_mp4(frames, probe(source).fps, crf=23, preset="ultrafast"))
            out = Path(folder) / f"out_{video.stem}"
            args = ["--input", str(video), "--output", str(out), "--max-clips-per-video", "2"]
            peak, seconds, code = generate_peak_mb(args)
            flag = "" if peak < TARGET_MB else "  over target"
            print(f"  {label:<40} {video.stat().st_size / 1e6:>8.1f} {peak:>8.0f} {seconds:>7.1f} {code:>5}{flag}")

"""What ``kinefake generate`` prints, read from a real process's stdout and stderr (file
descriptors, where MediaPipe's C++ logs and the workers' warnings land)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import face

NOISE = ("inference_feedback", "W0000", "TensorFlow Lite", "absl::", "Warning", "WARNING", "Traceback")


def kinefake(*argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    return subprocess.run([sys.executable, "-m", "kinefake", *argv], capture_output=True, text=True, env=env)


def generate(*argv: str) -> subprocess.CompletedProcess:
    return kinefake("generate", *argv)


def test_generate_prints_one_screen_without_library_noise_and_nothing_with_q(faces, tmp_path):
    clip = str(face(faces, "first-order"))
    out = tmp_path / "out"
    done = generate("--input", clip, "--output", str(out), "--max-clips-per-video", "2")
    assert done.returncode == 0, done.stderr
    printed = done.stdout + done.stderr
    assert not [line for line in printed.splitlines() if any(n in line for n in NOISE)], printed
    assert len(printed.splitlines()) <= 24
    assert all(line.startswith("kinefake generate: ") for line in done.stderr.splitlines()), done.stderr
    assert f"kinefake generate: wrote {out}" in done.stdout
    assert "2 clips of 1 videos, 2 with landmarks; 4 samples (2 real, 2 fake) in 1 shards" in done.stdout
    assert "64 input frames" in done.stdout and "0 rejects" in done.stdout
    assert f"next: kinefake audit {out}" in done.stdout
    # -q for scripts: nothing at all on success, workers in their own processes included.
    workers = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    quiet = generate("--input", clip, "--output", str(tmp_path / "q"), "--max-clips-per-video", "2", "-q", *workers)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == "", quiet.stderr


def test_other_commands_that_load_mediapipe_print_no_library_noise_either(faces, tmp_path):
    # protobuf's GetPrototype deprecation came through mediapipe on every command but generate.
    out = tmp_path / "preview.mp4"
    done = kinefake("landmarks-preview", str(face(faces, "first-order")), "--out", str(out), "--frames", "8")
    assert done.returncode == 0 and out.exists(), done.stderr
    assert done.stderr == "" and done.stdout.startswith(f"wrote {out}: 8 frames"), done.stdout + done.stderr


def test_launcher_imports_neither_scipy_nor_torch():
    # Every command waits for the launcher's imports before any worker starts; scipy (0.3 s
    # through the mesh's Delaunay, 1.3 s through the smoothing) is imported where it runs.
    code = (
        "import sys, kinefake.cli, kinefake.pipelines.generate\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'torch'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

"""Landmark backends: their native graphs released whoever forgets to, their points and resets exact."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import cv2
import numpy as np

from kinefake.synth.landmarks import make_backend
from kinefake.synth.landmarks.backends import (
    _OPEN_GRAPHS,
    landmark_xy,
    native_stderr_silenced,
    square_crop_transform,
)
from kinefake.synth.landmarks.track import track_clip
from kinefake.synth.video import read_frames
from tests.conftest import REPO, face


def test_closing_a_mediapipe_backend_twice_is_harmless_and_forgets_it():
    backend = make_backend("mediapipe")
    assert backend in _OPEN_GRAPHS
    backend.close()
    backend.close()
    assert backend not in _OPEN_GRAPHS


def test_backends_nobody_closed_are_closed_at_exit_and_the_process_exits_zero():
    # Three open backends, one also held in a reference cycle (the case gc.freeze at exit leaves
    # to the operating system): the exit handler closes their graphs before the interpreter's teardown.
    # Exit handlers run last-registered first: "after" is registered before the module's own
    # handler, "before" after it.
    count = "len(sys.modules['kinefake.synth.landmarks.backends']._OPEN_GRAPHS)"
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: print('after', {count}))\n"
        "from kinefake.shutdown import skip_final_collections; skip_final_collections()\n"
        "from kinefake.synth.landmarks import make_backend\n"
        f"atexit.register(lambda: print('before', {count}))\n"
        "kept = [make_backend('mediapipe') for _ in range(3)]\n"
        "kept[0].cycle = kept\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["before 3", "after 0"]
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr


def test_landmark_points_read_from_bytes_equal_the_fields(faces, mediapipe_backend):
    from mediapipe.framework.formats import landmark_pb2

    frames = read_frames(face(faces, "LivePortrait__d0"), 0, 1)
    box = mediapipe_backend.detect(frames[0])[0].box
    crop = cv2.warpAffine(frames[0], square_crop_transform(box, 1.7, 256), (256, 256))
    mediapipe_backend.reset()
    mesh = mediapipe_backend._mesh.process(crop).multi_face_landmarks[0]
    assert len(mesh.landmark) == 478
    fields = np.array([(p.x, p.y) for p in mesh.landmark], np.float64)
    np.testing.assert_array_equal(landmark_xy(mesh), fields)
    # Another layout (a landmark with visibility, one without z) is read field by field.
    other = landmark_pb2.NormalizedLandmarkList()
    other.landmark.add(x=0.5, y=0.25, z=0.1, visibility=0.9)
    other.landmark.add(x=-0.0, y=1.5)
    np.testing.assert_array_equal(landmark_xy(other), [[0.5, 0.25], [-0.0, 1.5]])


def test_a_reused_backend_gives_each_clip_the_landmarks_a_fresh_one_gives(faces, mediapipe_backend):
    clips = [read_frames(face(faces, name), 0, 12) for name in ("LivePortrait__d0", "first-order-model__08")]
    for frames in (clips[0], clips[1], clips[1]):  # the second clip after another clip, then after itself
        reused = track_clip(frames, mediapipe_backend).points
        with make_backend("mediapipe") as fresh:
            np.testing.assert_array_equal(reused, track_clip(frames, fresh).points)


def test_stderr_comes_back_when_two_threads_silence_it_at_once():
    # Two worker threads starting their graphs together: without one holder at a time, the
    # second saves the first's /dev/null as "stderr" and puts it back last, for good.
    before = os.fstat(2)
    inside, trying, left = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def first():
        with native_stderr_silenced():
            inside.set()
            trying.wait(5)
            time.sleep(0.05)  # the second thread is at the door now
        left.set()

    def second():
        inside.wait(5)
        trying.set()
        with native_stderr_silenced():
            seen.append(os.fstat(2).st_ino)
            left.wait(5)  # leaves last

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    assert seen and seen[0] != before.st_ino  # silenced inside the second block too

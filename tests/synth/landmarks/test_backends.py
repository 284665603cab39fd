"""Landmark backends release their native graphs, whoever forgets to."""

from __future__ import annotations

import subprocess
import sys

from kinefake.synth.landmarks import make_backend
from kinefake.synth.landmarks.backends import _OPEN_GRAPHS
from tests.conftest import REPO


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

"""A worker's compute libraries stay on one thread each, scipy's own OpenBLAS included."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import json
from threadpoolctl import threadpool_info
from kinefake.synth.threads import one_thread_per_library
one_thread_per_library()
import cv2
print(json.dumps({"cv2": cv2.getNumThreads(), "blas": [(i["filepath"], i["num_threads"]) for i in threadpool_info()]}))
"""


def test_one_thread_per_library_reaches_numpy_and_scipy_blas():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True)
    seen = json.loads(done.stdout)
    assert seen["cv2"] == 1
    libraries = {path.rsplit("/", 2)[-2]: threads for path, threads in seen["blas"]}
    assert {"numpy.libs", "scipy.libs"} <= set(libraries), libraries
    assert set(libraries.values()) == {1}, libraries

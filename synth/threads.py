"""Keep a worker process's compute libraries on one thread each."""

from __future__ import annotations

import cv2
from threadpoolctl import threadpool_limits


def one_thread_per_library() -> None:
    """OpenCV and BLAS (numpy's OpenBLAS) compute on the calling thread only, for the rest of the process.

    kinefake scales by running one worker process per core. numpy and scipy each load an
    OpenBLAS that starts a pool of one thread per core, and a worker's samples stage used
    ~0.15 of a second core through them (``python -m bench --stages e2e``: 1.16 cores used
    by a process whose main thread was pinned to one core); capped at one thread the same
    work took no longer, on 1.00 core, leaving the other cores to the other workers.
    threadpoolctl reaches only the libraries loaded when it is called, hence scipy's import.
    """
    import scipy.linalg  # noqa: F401  scipy bundles its own OpenBLAS: load it so the limit reaches it too

    cv2.setNumThreads(1)
    threadpool_limits(1, user_api="blas")

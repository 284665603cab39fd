"""DirectRunner's ``multi_threading`` workers: the threads Beam started in this process to run
a job's bundles (``generate --direct_running_mode=multi_threading --direct_num_workers=2``).

Two things differ from a job run on the main thread. A signal interrupts the main thread
only, so the workers are stopped by :func:`stop_worker_threads`. And Beam prints a failed
bundle's traceback on ``sys.stderr`` from the worker, and logs it, before the runner raises it
again in the main thread (where a command turns a full disk into one line and keeps the
traceback of a bug), so :func:`worker_reports_dropped` drops the first two.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType


def is_worker_thread(thread: threading.Thread) -> bool:
    """Whether ``thread`` is one Beam started (its bundle-running pool, its gRPC helpers)."""
    return type(thread).__module__.startswith("apache_beam.")


def _package_folders() -> tuple[str, ...]:
    """The folders of kinefake's imported modules, each ending in a path separator."""
    names = (m.__file__ for n, m in list(sys.modules.items()) if n.partition(".")[0] == "kinefake")
    return tuple({os.path.dirname(f) + os.sep for f in names if f})


def _runs_our_code(frame, folders: tuple[str, ...]) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith(folders):
            return True
        frame = frame.f_back
    return False


def busy_worker_threads(frames: dict[int, FrameType] | None = None) -> list[int]:
    """Idents of the worker threads running kinefake's code now (``frames``: their stacks, as
    :func:`sys._current_frames` gives them; taken now if not given)."""
    folders, frames = _package_folders(), sys._current_frames() if frames is None else frames
    return [
        t.ident for t in threading.enumerate() if is_worker_thread(t) and _runs_our_code(frames.get(t.ident), folders)
    ]


def _instruction(frame: FrameType | None) -> FrameType | None:
    """The frame of the SDK worker's instruction (a bundle) that the stack ending in ``frame``
    runs: Beam's ``SdkHarness._execute``, which prints and logs a failed bundle's traceback
    before it answers the runner. None outside one."""
    harness = sys.modules.get("apache_beam.runners.worker.sdk_worker")
    code = harness.SdkHarness._execute.__code__ if harness is not None else None
    while frame is not None and frame.f_code is not code:
        frame = frame.f_back
    return frame


def stop_worker_threads(timeout: float = 30.0, again: float = 0.5) -> bool:
    """Stop the job's work on the worker threads and wait until none runs kinefake's code or
    is still ending the bundle it was stopped in; whether they all stopped within ``timeout``
    seconds. Called from the signal handler, before the main thread unwinds.

    Left alone, the workers would go on decoding, fitting and writing while the runner shut
    down under them (closing their MediaPipe graphs) and after the launcher removed what the
    run had written (leaving parts behind), and the interpreter's exit would kill them inside
    native code (a segmentation fault). Each gets the main thread's ``KeyboardInterrupt``
    (``PyThreadState_SetAsyncExc``: raised at its next Python instruction), so its cleanup
    runs as the main thread's does; asked again after ``again`` seconds, as one that lands in
    a generator's finaliser is printed and dropped. A stopped thread is waited for until it
    has left that bundle: Beam prints its traceback there, which must happen while
    :func:`worker_reports_dropped` still drops it. Threads the job's code started itself
    (decode ahead, sample threads) end with it.
    """
    asked: dict[int, tuple[float, FrameType | None]] = {}
    deadline = time.monotonic() + timeout
    while True:
        frames, now = sys._current_frames(), time.monotonic()
        busy = busy_worker_threads(frames)
        ending = [i for i, (_, bundle) in asked.items() if bundle is not None and _instruction(frames.get(i)) is bundle]
        if not (busy or ending) or now > deadline:
            return not (busy or ending)
        for ident in busy:
            if now - asked.get(ident, (-again, None))[0] >= again:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(KeyboardInterrupt))
                asked[ident] = (now, _instruction(frames.get(ident)))
        del frames
        time.sleep(0.01)


class _MainThreadsStderr:
    """``sys.stderr`` for the block of :func:`worker_reports_dropped`: writes from worker
    threads go nowhere, everything else to the stream it stands in for."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return len(text) if is_worker_thread(threading.current_thread()) else self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class _NotBundleErrors(logging.Filter):
    """Drops the SDK worker's log record of a failed bundle (the runner raises the same text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Error processing instruction")


@contextlib.contextmanager
def worker_reports_dropped() -> Iterator[None]:
    """Within the block, a failed bundle is reported once, by the exception the runner raises
    on the main thread with the worker's traceback in its text: what worker threads print on
    ``sys.stderr`` (Beam prints that traceback itself) and the SDK worker's log record of it
    are dropped; every other thread's output and every other record pass."""
    stream, quiet = sys.stderr, _NotBundleErrors()
    logger = logging.getLogger("apache_beam.runners.worker.sdk_worker")
    sys.stderr = _MainThreadsStderr(stream)
    logger.addFilter(quiet)
    try:
        yield
    finally:
        sys.stderr = stream
        logger.removeFilter(quiet)

"""Ctrl-C and SIGTERM: a command stops where it is, cleans up, and says so in one line.

:func:`handle_signals` makes both signals raise :class:`KeyboardInterrupt` in the main thread
and remembers which arrived. Beam re-raises a worker's exception under another type
(``RuntimeError: KeyboardInterrupt [while running ...]``) and logs it with its traceback
first, so a job asks :func:`received` rather than the exception's type whether it was
interrupted, and :class:`QuietAfterInterrupt` drops those logged tracebacks.

On DirectRunner's ``multi_threading`` workers (``--direct_running_mode=multi_threading``), the job's
work runs on threads Beam started: the handler stops them
(:func:`~kinefake.worker_threads.stop_worker_threads`) before the main thread unwinds, so
nothing runs on or writes after the cleanup.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import sys
import threading
from collections.abc import Iterator

from kinefake.worker_threads import stop_worker_threads

_received: list[int] = []


class Interrupted(Exception):
    """A job that stopped on a signal, after it removed what it had written."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


def received() -> int | None:
    """The signal this process received while :func:`handle_signals` was active, if any."""
    return _received[0] if _received else None


def _raise(signum, frame) -> None:
    _received.append(signum)
    stop_worker_threads()
    raise KeyboardInterrupt


def refuse_after_signal() -> None:
    """Raise :class:`KeyboardInterrupt` in a thread other than the main one once this process
    received a signal: a job's worker thread (DirectRunner ``multi_threading``) that runs on
    after the launcher stopped writes nothing more (a backstop to
    :func:`~kinefake.worker_threads.stop_worker_threads`)."""
    if received() is not None and threading.current_thread() is not threading.main_thread():
        raise KeyboardInterrupt


#: Where Beam logs a failed bundle's traceback: on the main thread, and on a worker thread
#: (a logger's filters see only its own records, not those of the loggers below it).
BUNDLE_ERROR_LOGGERS = ("apache_beam", "apache_beam.runners.common", "apache_beam.runners.worker.sdk_worker")


def _drop_interrupts(hook, unraisable) -> None:
    """``sys.unraisablehook`` that drops the interrupt itself, raised where Python can only
    print it (a generator's finaliser on a worker thread), once a signal arrived."""
    if received() is None or not isinstance(unraisable.exc_value, KeyboardInterrupt):
        hook(unraisable)


class QuietAfterInterrupt(logging.Filter):
    """Drops log records once a signal arrived (Beam's logged tracebacks of the interrupt)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return received() is None


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`KeyboardInterrupt` in the main thread
    (a SIGTERM otherwise kills the process before any cleanup runs); the handlers before it
    are put back after. Outside the main thread it does nothing."""
    try:
        previous = {s: signal.signal(s, _raise) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        yield
        return
    quiet, unraisable = QuietAfterInterrupt(), sys.unraisablehook
    for name in BUNDLE_ERROR_LOGGERS:
        logging.getLogger(name).addFilter(quiet)
    sys.unraisablehook = functools.partial(_drop_interrupts, unraisable)
    _received.clear()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for name in BUNDLE_ERROR_LOGGERS:
            logging.getLogger(name).removeFilter(quiet)
        sys.unraisablehook = unraisable

"""Ctrl-C and SIGTERM: a command stops where it is, cleans up, and says so in one line.

:func:`handle_signals` makes both signals raise :class:`KeyboardInterrupt` in the main thread
and remembers which arrived. Beam re-raises a worker's exception under another type
(``RuntimeError: KeyboardInterrupt [while running ...]``) and logs it with its traceback
first, so a job asks :func:`received` rather than the exception's type whether it was
interrupted, and :class:`QuietAfterInterrupt` drops those logged tracebacks.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Iterator

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
    raise KeyboardInterrupt


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
    quiet = QuietAfterInterrupt()
    logging.getLogger("apache_beam").addFilter(quiet)
    logging.getLogger("apache_beam.runners.common").addFilter(quiet)
    _received.clear()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        logging.getLogger("apache_beam").removeFilter(quiet)
        logging.getLogger("apache_beam.runners.common").removeFilter(quiet)

"""The errors kinefake's packages share, and how a storage failure is read back from them.

Every command turns :class:`UsageError`, :class:`CorpusError` and :class:`OutputError` into
one line on stderr and exit status 2 (see :mod:`kinefake.command`); :class:`Rejected` turns an
unusable input into a rejects row. Plain Python: :mod:`kinefake.synth` imports it without Beam.
"""

from __future__ import annotations

import errno
import re


class Rejected(Exception):
    """An input or clip cannot be used; carries what the rejects table records.

    Args:
        reason: short phrase from a fixed vocabulary a user can group by,
            e.g. ``"empty file"``, ``"truncated"``, ``"too short"``.
        detail: one sentence with the specifics (sizes, counts, the library's message).
        measured: the measured value when a numeric gate failed, else None.
        threshold: the gate's threshold when a numeric gate failed, else None.
    """

    def __init__(
        self,
        reason: str,
        detail: str,
        measured: float | None = None,
        threshold: float | None = None,
    ) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.measured = measured
        self.threshold = threshold


class UsageError(Exception):
    """A flag or argument that a command refuses before any work (the message names it)."""


class CorpusError(ValueError):
    """A folder that is not a finished kinefake corpus, or one that is damaged."""


class OutputError(Exception):
    """The output folder cannot be written (read-only, under a file, full, over a size limit)."""


class JobLeftRunning(OutputError):
    """An interrupted launcher could not stop its remote job: the output it writes is left."""


class ModelFileError(ValueError):
    """A model file (motion bases, saved detectors) that cannot be used: missing, corrupted,
    truncated, altered, foreign, or holding unexpected types."""


def describe_os_error(exc: BaseException) -> str:
    """One line for an I/O failure, also when Beam wraps it (``BeamIOError`` keeps the
    original errors in ``exception_details``)."""
    details = getattr(exc, "exception_details", None)
    if isinstance(details, dict) and details:
        exc = next(iter(details.values()))
    if isinstance(exc, OSError) and exc.errno is not None:
        hint = {errno.ENOSPC: " (disk full)", errno.EFBIG: " (file size limit, see ulimit -f)"}.get(exc.errno, "")
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{hint}{where}"
    return str(exc)


#: I/O failures that say the output cannot take the corpus, not that the code is wrong.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def storage_failure(exc: BaseException) -> OSError | None:
    """The storage error (disk full, file size limit, read-only, permission) behind ``exc``,
    if any. Beam re-raises a worker's exception as another type with the original in its
    message (``RuntimeError: OSError: [Errno 28] No space left on device [while running
    ...]``; from a worker thread or process, the whole traceback), and Rust libraries write
    ``File too large (os error 27)``, so the message is read too, one line of it."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
            return exc
        match = re.search(r"\[Errno (\d+)\] ([^\[\]:\n]+)", str(exc))
        if match and int(match.group(1)) in STORAGE_ERRNOS:
            return OSError(int(match.group(1)), match.group(2).strip())
        match = re.search(r"([^:\n]+) \(os error (\d+)\)", str(exc))  # Rust's form (safetensors)
        if match and int(match.group(2)) in STORAGE_ERRNOS:
            return OSError(int(match.group(2)), match.group(1).strip())
        exc = exc.__cause__ or exc.__context__
    return None

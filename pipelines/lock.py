"""One writer per output folder: ``OUT/.kinefake-lock`` while a ``generate`` runs.

The lock file holds the writer's pid, host, start time and a random token. A second run
into the same ``OUT`` is refused in one line naming the first; a lock whose process is gone
(same host, pid not running) is stale and taken over. Locally the file is created with
``O_EXCL``, so two runs starting together cannot both take it; on an object store
(``gs://``) there is no atomic create through Beam's filesystems, so the check there is best
effort (two runs started within the same second may both pass it), and a stale remote lock
cannot be told from a live one: the message says which file to delete.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import socket
import time
import uuid
from collections.abc import Iterator

from apache_beam.io.filesystems import FileSystems

from kinefake.fs import is_remote, read_bytes, write_atomic
from kinefake.schemas.layout import LOCK

#: An unreadable lock file (its writer died between creating and filling it) older than
#: this many seconds is stale.
UNREADABLE_STALE_S = 60.0


class Locked(Exception):
    """Another run holds the output folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _holder(path: str) -> dict | None:
    try:
        holder = json.loads(read_bytes(path))
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _stale(path: str, holder: dict | None) -> bool:
    """A local lock whose process is gone: same host and its pid not running, or unreadable and old."""
    if holder is None:
        return time.time() - os.path.getmtime(path) > UNREADABLE_STALE_S
    pid = holder.get("pid")
    return holder.get("host") == socket.gethostname() and isinstance(pid, int) and not _alive(pid)


def _refusal(out: str, path: str, holder: dict | None) -> Locked:
    who = "another kinefake run"
    if holder is not None:
        who += f" (pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('started')})"
    return Locked(f"{out} is being written by {who}; wait for it to finish, or delete {path} if that run is gone")


@contextlib.contextmanager
def output_lock(out: str) -> Iterator[None]:
    """Hold ``out`` (created if needed) for this process within the block.

    Raises:
        Locked: another live run holds it.
        OSError: the lock file cannot be written (the caller reports the folder unwritable).
    """
    path = posixpath.join(out.rstrip("/"), LOCK)
    record = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "token": uuid.uuid4().hex}  # fmt: skip
    data = json.dumps(record).encode()
    if is_remote(out):
        if FileSystems.exists(path):
            raise _refusal(out, path, _holder(path))
        write_atomic(path, data)
    else:
        os.makedirs(out, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _holder(path)
                if not _stale(path, holder):
                    raise _refusal(out, path, holder) from None
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                continue
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            break
        else:
            raise _refusal(out, path, _holder(path))
    try:
        yield
    finally:
        holder = _holder(path)
        if holder is not None and holder.get("token") == record["token"]:
            FileSystems.delete([path])

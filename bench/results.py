"""``bench/RESULTS.md``: the latest ``make bench`` run's printed tables, dated, with the machine.

The run's block sits between two marker lines at the top of the file and is replaced by
each run; the dated notes below it (earlier measurements, by hand) are kept as they are.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import sys
from collections.abc import Iterator
from pathlib import Path

BEGIN = "<!-- latest `make bench` run: written by bench/results.py, replaced by each run -->"
END = "<!-- end of the latest run -->"


def machine() -> str:
    """``"x86_64, Intel(R) Xeon(R) ..., 2 cores, 24 GiB, Linux 6.1"``: what the figures were taken on."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(ValueError, OSError, AttributeError):
        memory = f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    parts = [platform.machine(), model, f"{os.cpu_count()} cores", memory, f"{platform.system()} {platform.release()}"]
    return ", ".join(p for p in parts if p)


def with_run(text: str, run: str) -> str:
    """``text`` (RESULTS.md as it is) with the block between the markers replaced by ``run``
    (added after the title line when the file has no block yet)."""
    block = f"{BEGIN}\n\n```\n{run.rstrip()}\n```\n\n{END}"
    head, begin, rest = text.partition(BEGIN)
    if begin:
        _, end, tail = rest.partition(END)
        if not end:
            raise ValueError(f"expected {END!r} after {BEGIN!r}")
        return head + block + tail
    title, newline, body = text.partition("\n")
    return f"{title}{newline}\n{block}\n{body}" if text else f"# Benchmarks\n\n{block}\n"


class _Tee(io.TextIOBase):
    def __init__(self, *streams) -> None:
        self.streams = streams

    def write(self, s: str) -> int:
        for stream in self.streams:
            stream.write(s)
        return len(s)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


@contextlib.contextmanager
def recorded(path: Path | None) -> Iterator[None]:
    """Print as usual and, when the body ends without an error, write what it printed into
    ``path``'s latest-run block (through a temporary file, so a killed run leaves it whole)."""
    if path is None:
        yield
        return
    captured = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, captured)):
        yield
    text = path.read_text() if path.exists() else ""
    part = path.with_name(path.name + ".part")
    part.write_text(with_run(text, captured.getvalue()))
    part.replace(path)

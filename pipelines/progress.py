"""What ``kinefake generate`` prints while it runs and when it ends: a progress line, a last block.

DirectRunner returns its metrics only when the pipeline has finished (its run is one
blocking call), so on local runs the progress comes from the workers themselves: after each
donor group, :class:`~kinefake.pipelines.synthesize.SynthesizeGroupFn` writes one small JSON record into
a local folder that the launcher polls (:class:`Progress`). Beam's counters are still kept
(Dataflow's monitoring shows them).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

from kinefake.schemas.inputs import split_order

#: Progress folders are ``{tempdir}/kinefake-progress-{pid}-{random}``.
PROGRESS_PREFIX = "kinefake-progress-"


def remove_stale_progress() -> None:
    """Delete the progress folders of runs that died without cleaning up (killed outright):
    those whose pid no longer runs."""
    import re
    import shutil
    import tempfile

    for folder in Path(tempfile.gettempdir()).glob(f"{PROGRESS_PREFIX}*"):
        match = re.fullmatch(rf"{PROGRESS_PREFIX}(\d+)-.*", folder.name)
        if match is None or not folder.is_dir():
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (PermissionError, OverflowError):
            continue


def write_record(folder: str, name: str, record: dict) -> None:
    """One group's figures, written whole (rename) so a reader never sees half of it."""
    path = Path(folder) / f"{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)


def _duration(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


class Progress:
    """Polls the workers' records in ``folder`` and keeps one status line on stderr.

    On a terminal the line is rewritten in place every second; otherwise (a log file, CI)
    a line is printed every ``log_every`` seconds.
    """

    def __init__(self, folder: str, stream=sys.stderr, log_every: float = 15.0) -> None:
        self.folder, self.stream, self.log_every = Path(folder), stream, log_every
        self.tty = stream.isatty()
        self.start = time.perf_counter()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Progress:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def totals(self) -> dict:
        totals = {"clips": 0, "frames": 0, "samples": 0, "rejects": 0, "total": None}
        for path in self.folder.glob("*.json"):
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            for key in ("clips", "frames", "samples", "rejects"):
                totals[key] += record[key]
            totals["total"] = record["total"]
        return totals

    def line(self) -> str:
        t = self.totals()
        elapsed = time.perf_counter() - self.start
        if t["total"] is None:
            return f"kinefake generate: reading and planning the inputs ... {_duration(elapsed)}"
        rate = t["frames"] / elapsed
        eta = elapsed / t["clips"] * (t["total"] - t["clips"]) if t["clips"] else None
        return (
            f"kinefake generate: {t['clips']}/{t['total']} clips, {rate:.1f} input frames/s, "
            f"{t['samples']} samples, {t['rejects']} rejects, "
            + (f"ETA {_duration(eta)}" if eta is not None else f"{_duration(elapsed)} elapsed")
        )

    def _loop(self) -> None:
        last = 0.0
        while not self.stop.wait(1.0):
            if self.tty:
                self.stream.write("\r\033[K" + self.line())
                self.stream.flush()
            elif time.perf_counter() - last >= self.log_every:
                last = time.perf_counter()
                self.stream.write(self.line() + "\n")
                self.stream.flush()


def summary(manifest: dict, out: str, seconds: float, counters: dict | None = None) -> str:
    """The last block: where the corpus is, how long it took, what was rejected, what next
    (``counters``: the donor groups made and kept, :func:`kinefake.pipelines.generate.run`)."""
    c = manifest["counts"]
    where = out if "://" in out else os.path.abspath(out)
    frames = c.get("input_frames", 0)
    splits = sorted(c["splits"], key=split_order)
    counters = counters or {}
    made, kept = counters.get("groups_made", 0), counters.get("groups_kept", 0)
    if counters.get("finished_before"):
        head = f"kinefake generate: {where} was already finished; nothing to resume"
    else:
        head = f"kinefake generate: wrote {where} in {_duration(seconds)}"
    lines = [
        head + (f" (resumed: {kept} of {made + kept} donor groups kept from the interrupted run)" if kept else ""),
        f"  {c['clips']} clips of {c['videos']} videos, {c['clips_with_landmarks']} with landmarks; "
        f"{c['samples']} samples ({c['real_samples']} real, {c['fake_samples']} fake) in "
        f"{sum(1 for s in manifest['shards'] if s['path'].endswith('.tar'))} shards",
        "  splits: "
        + (
            "; ".join(f"{s} {c['splits'][s]['videos']} videos / {c['splits'][s]['samples']} samples" for s in splits)
            or "none"
        ),
        f"  {frames} input frames, {frames / seconds:.1f} input frames/s end to end",
        f"  {c['rejects']} rejects" + (":" if c["rejects"] else ""),
    ]
    width = max((len(r) for r in c["rejects_by_reason"]), default=0)
    lines += [f"    {reason:<{width}}  {n}" for reason, n in c["rejects_by_reason"].items()]
    lines.append(f"  next: kinefake audit {out}   (a page to watch samples; kinefake validate {out} checks them)")
    return "\n".join(lines)

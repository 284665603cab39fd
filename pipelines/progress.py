"""What ``kinefake generate`` prints while it runs and when it ends: a progress line, a last block.

DirectRunner returns its metrics only when the pipeline has finished (its run is one
blocking call), so on local runs the progress comes from the workers themselves: after each
donor group, :class:`~kinefake.pipelines.synthesize.SynthesizeGroupFn` writes one small JSON record into
a local folder that the launcher polls (:func:`folder_totals`). A remote runner's workers
cannot reach that folder; there the line comes from the job's counters, polled from its
result while it runs (:class:`MetricTotals`), and the job's id and console URL are printed
first (:func:`job_line`).
"""

from __future__ import annotations

import contextlib
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


#: The figures of a progress line: clips done of ``total`` (None: still planning), input frames,
#: samples and rejects so far.
EMPTY = {"clips": 0, "frames": 0, "samples": 0, "rejects": 0, "total": None}


def folder_totals(folder: str) -> dict:
    """The figures the workers of a local run wrote into ``folder`` (one record per finished group)."""
    totals = dict(EMPTY)
    for path in Path(folder).glob("*.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for key in ("clips", "frames", "samples", "rejects"):
            totals[key] += record[key]
        totals["total"] = record["total"]
    return totals


#: (namespace, name) of a job's counter -> the figure it adds to.
JOB_COUNTERS = {
    ("samples", "clips"): "clips",
    ("samples", "input_frames"): "frames",
    ("samples", "samples"): "samples",
    ("samples", "rejected"): "rejects",
    ("shard", "rejected_videos"): "rejects",
    ("shard", "clips"): "total",
    ("samples", "groups_made"): "groups_made",
    ("samples", "groups_kept"): "groups_kept",
}


class MetricTotals:
    """The figures of a running job, from its counters (``result.metrics()``; the runner's
    service is asked at most once every ``every`` seconds, the last answer kept between).

    ``total`` is the clips the shard stage has planned so far (None before it has counted
    any), so on a runner that shards and synthesizes at once it may still grow."""

    def __init__(self, result, every: float = 10.0) -> None:
        self.result, self.every = result, every
        self.last, self.totals = float("-inf"), dict(EMPTY)

    def __call__(self) -> dict:
        if time.perf_counter() - self.last >= self.every:
            self.last = time.perf_counter()
            with contextlib.suppress(Exception):  # a service that does not answer now may later
                self.totals = self.read()
        return self.totals

    def read(self) -> dict:
        """Ask the runner now."""
        totals = dict.fromkeys(set(JOB_COUNTERS.values()), 0)
        for counter in self.result.metrics().query()["counters"]:
            key = JOB_COUNTERS.get((counter.key.metric.namespace, counter.key.metric.name))
            if key is not None:
                value = counter.committed if counter.committed is not None else counter.attempted
                totals[key] += value or 0
        totals["total"] = totals["total"] or None
        return totals


def job_id(result) -> str | None:
    """The id a remote runner gave the job of ``result`` (Dataflow's, a portable runner's);
    None for a local run."""
    found = result.job_id() if callable(getattr(result, "job_id", None)) else getattr(result, "_job_id", None)
    return found or None


def job_line(result, options) -> str | None:
    """``kinefake generate: Dataflow job ID`` and its console URL for a job on a remote runner
    (Beam's own lines saying so are silenced with its logger); None for a local run."""
    found = job_id(result)
    if found is None:
        return None
    from apache_beam.options.pipeline_options import GoogleCloudOptions, StandardOptions

    runner = str(options.view_as(StandardOptions).runner or "").rsplit(".", 1)[-1].lower()
    if runner.startswith("dataflow"):
        gcp = options.view_as(GoogleCloudOptions)
        url = f"https://console.cloud.google.com/dataflow/jobs/{gcp.region}/{found}?project={gcp.project}"
        return f"kinefake generate: Dataflow job {found}\n  console: {url}"
    return f"kinefake generate: job {found} on {runner or 'the runner'}"


def cancel_job(result, say, wait_s: float = 600.0) -> None:
    """Cancel the remote job of a launcher that was interrupted, and wait up to ``wait_s`` for
    it to end, so that what it wrote can be removed with no worker still writing.

    Raises:
        JobLeftRunning: it could not be cancelled, did not end in time, or a second signal came
            while waiting; what it wrote is then left as it is.
    """
    from apache_beam.runners.runner import PipelineState

    from kinefake.errors import JobLeftRunning

    job = f"job {job_id(result)}"
    say(f"kinefake generate: cancelling {job} ...")
    try:
        result.cancel()
        with contextlib.suppress(Exception):  # a cancelled job's wait raises (Dataflow: "failed, CANCELLED")
            result.wait_until_finish(duration=int(wait_s * 1000))
        ended = PipelineState.is_terminal(result.state)
    except BaseException as exc:  # a second Ctrl-C, or the service refused
        raise JobLeftRunning(
            f"could not cancel {job} ({type(exc).__name__}: {exc}): stop it in the runner's console; "
            "its output is left as it is"
        ) from None
    if not ended:
        raise JobLeftRunning(
            f"{job} did not end within {wait_s:.0f} s of its cancel: check the runner's console; "
            "its output is left as it is"
        )


class Progress:
    """Polls a run's figures (``source``: :func:`folder_totals` of a folder, or
    :class:`MetricTotals` once :meth:`follow` hands it a running job's) and keeps one status
    line on stderr.

    On a terminal the line is rewritten in place every second; otherwise (a log file, CI)
    a line is printed every ``log_every`` seconds.
    """

    def __init__(self, source=None, stream=sys.stderr, log_every: float = 15.0) -> None:
        self.source = source or (lambda: dict(EMPTY))
        self.stream, self.log_every = stream, log_every
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

    def follow(self, source) -> None:
        """Read the figures from ``source`` from now on (a remote job's counters)."""
        self.source = source

    def say(self, text: str) -> None:
        """Print ``text`` above the progress line."""
        self.stream.write(("\r\033[K" if self.tty else "") + text + "\n")
        self.stream.flush()

    def totals(self) -> dict:
        return self.source()

    def line(self) -> str:
        t = self.totals()
        elapsed = time.perf_counter() - self.start
        if t["total"] is None:
            return f"kinefake generate: reading and planning the inputs ... {_duration(elapsed)}"
        rate = t["frames"] / elapsed
        eta = elapsed / t["clips"] * max(0, t["total"] - t["clips"]) if t["clips"] else None
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

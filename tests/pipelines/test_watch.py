"""Watching a run: a remote job's id and console URL, progress from a job's counters, and
``--config`` making a corpus again from its manifest alone."""

from __future__ import annotations

import hashlib
import io
import json
import shutil

import apache_beam as beam
import pytest
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from kinefake.cli import main
from kinefake.pipelines.generate import pipeline_runner, run
from kinefake.pipelines.progress import MetricTotals, Progress, job_line
from tests.conftest import face


def test_a_dataflow_job_is_named_with_its_console_url():
    from apache_beam.runners.dataflow.dataflow_runner import DataflowPipelineResult
    from apache_beam.runners.dataflow.internal.clients import dataflow

    options = PipelineOptions(["--runner=DataflowRunner", "--project=my-proj", "--region=europe-west4"])
    job = dataflow.Job(id="2026-12-06_09_10_11-123", projectId="my-proj", location="europe-west4")
    assert job_line(DataflowPipelineResult(job, runner=None, options=options), options) == (
        "kinefake generate: Dataflow job 2026-12-06_09_10_11-123\n"
        "  console: https://console.cloud.google.com/dataflow/jobs/europe-west4/2026-12-06_09_10_11-123"
        "?project=my-proj"
    )


def _counting_job(clips: int, planned: int):
    """A finished job on the local runner whose counters are a generate run's."""

    def count(_):
        Metrics.counter("shard", "clips").inc(planned)
        Metrics.counter("samples", "clips").inc(clips)
        Metrics.counter("samples", "input_frames").inc(32 * clips)
        Metrics.counter("samples", "samples").inc(2 * clips)
        Metrics.counter("shard", "rejected_videos").inc(1)
        return _

    options = PipelineOptions([])
    pipeline = beam.Pipeline(runner=pipeline_runner(options), options=options)
    _ = pipeline | beam.Create([0]) | beam.Map(count)
    result = pipeline.run()
    result.wait_until_finish()
    return result


def test_progress_on_a_remote_runner_comes_from_the_jobs_counters():
    result = _counting_job(clips=3, planned=5)
    assert job_line(result, PipelineOptions([])) is None  # a local run names no job
    stream = io.StringIO()
    progress = Progress(stream=stream)
    assert "reading and planning the inputs" in progress.line()
    progress.follow(MetricTotals(result))
    line = progress.line()
    assert line.startswith("kinefake generate: 3/5 clips, ") and "6 samples, 1 rejects, ETA " in line, line
    progress.say("kinefake generate: Dataflow job X")
    assert stream.getvalue() == "kinefake generate: Dataflow job X\n"


def test_a_runs_counters_add_up_to_its_manifest(faces, tmp_path):
    counters: dict = {}
    argv = ["--input", str(face(faces, "first-order")), "--output", str(tmp_path / "out"), "--max-clips-per-video", "2"]
    counts = run(argv, counters=counters)["counts"]
    assert counters["clips"] == counters["total"] == counts["clips"] == 2
    assert counters["frames"] == counts["input_frames"] and counters["samples"] == counts["samples"]
    assert counters["rejects"] == counts["rejects"] and counters["groups_made"] == 1


def _digests(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def test_a_corpus_is_made_again_from_its_manifest_alone(faces, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for prefix in ("first-order", "LipNet", "spectre__00002"):
        shutil.copyfile(face(faces, prefix), inputs / face(faces, prefix).name)
    flags = ["--max-clips-per-video", "1", "--clip-frames", "16", "--seed", "5", "--size", "64", "--splits",
             "train=0.5,test=0.5", "--operators", "freeze,desync", "--sample-threads", "1", "-q"]  # fmt: skip
    first = tmp_path / "first"
    assert main(["generate", "--input", str(inputs), "--output", str(first), *flags]) == 0
    recorded = json.loads((first / "manifest.json").read_text())["flags"]
    assert recorded["seed"] == 5 and recorded["operators"] == "freeze,desync" and recorded["size"] == 64
    assert not {"input", "output", "overwrite", "resume", "append", "config", "sample_threads"} & set(recorded)
    # The manifest alone (its first batch's inputs): every file the same, the manifest too.
    again = tmp_path / "again"
    assert main(["generate", "--config", str(first / "manifest.json"), "--output", str(again), "-q"]) == 0
    assert _digests(again) == _digests(first)
    # A flag given wins; the folder names its manifest.
    other = tmp_path / "other"
    assert main(["generate", "--config", str(first), "--output", str(other), "--seed", "6", "-q"]) == 0
    config = json.loads((other / "manifest.json").read_text())["config"]
    assert config["seed"] == 6 and config["clip_frames"] == 16 and config["samples"]["size"] == 64
    # What cannot be a manifest with flags is refused in one line, before anything is written.
    (tmp_path / "bad.json").write_text("{not json")
    old = json.loads((first / "manifest.json").read_text())
    (tmp_path / "old.json").write_text(json.dumps({k: v for k, v in old.items() if k != "flags"}))
    (tmp_path / "newer.json").write_text(json.dumps({**old, "flags": {**old["flags"], "warp_drive": 9}}))
    capsys.readouterr()
    for path, message in (
        (tmp_path / "missing.json", "--config: no file"),
        (tmp_path / "bad.json", "is not a readable JSON manifest"),
        (tmp_path / "old.json", "records no flags"),
        (tmp_path / "newer.json", "records flags this kinefake does not have: warp_drive"),
    ):
        assert main(["generate", "--config", str(path), "--output", str(tmp_path / "never")]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and message in err, err
    assert main(["generate", "--config", "--output", str(tmp_path / "never")]) == 2
    assert "expected a manifest.json or a corpus folder" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("spelling", ["--config={}", "--config {}"])
def test_both_spellings_of_config(spelling, tmp_path):
    from kinefake.pipelines.options import with_config

    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"config": {"input": ["a"]}, "batches": [["a"], ["b"]], "flags": {"seed": 3}}))
    argv = [*spelling.format(manifest).split(" "), "--output", "o"]
    assert with_config(argv) == ["--seed", "3", "--input", "a", "--output", "o"]
    assert with_config([*argv, "--input", "c"]) == ["--seed", "3", "--output", "o", "--input", "c"]


def test_a_manifest_cannot_switch_on_what_it_does_not_record(tmp_path):
    """Someone else's manifest names settings, never --overwrite, --append, --resume or where to write."""
    from kinefake.errors import UsageError
    from kinefake.pipelines.options import with_config

    hostile = {"overwrite": True, "append": True, "resume": True, "output": "/elsewhere", "landmarks_only": True}
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"config": {}, "batches": [["a"]], "flags": hostile}))
    assert with_config(["--config", str(manifest), "--output", "o"]) == [
        "--landmarks-only",
        "--input",
        "a",
        "--output",
        "o",
    ]
    manifest.write_text(json.dumps({"config": {}, "batches": ["abc"], "flags": {}}))
    with pytest.raises(UsageError, match="names no inputs as a list of paths"):
        with_config(["--config", str(manifest), "--output", "o"])


class RemoteJob:
    """Stands for a remote runner's job (no runner here can be cancelled from outside):
    ``cancel`` ends it, or it ignores the cancel, or the service refuses."""

    def __init__(self, ends: bool = True, refuses: bool = False) -> None:
        from apache_beam.runners.runner import PipelineState

        self.ends, self.refuses, self.state, self.calls = ends, refuses, PipelineState.RUNNING, []

    def job_id(self) -> str:
        return "2026-12-06_1"

    def cancel(self):
        from apache_beam.runners.runner import PipelineState

        self.calls.append("cancel")
        if self.refuses:
            raise OSError("permission denied")
        if self.ends:
            self.state = PipelineState.CANCELLED

    def wait_until_finish(self, duration=None):
        self.calls.append(("wait", duration))
        raise RuntimeError("Dataflow pipeline failed. State: CANCELLED")  # what Dataflow's wait does then


def test_an_interrupted_launcher_cancels_its_remote_job_before_anything_is_removed():
    from kinefake.errors import JobLeftRunning
    from kinefake.pipelines.progress import cancel_job

    said = []
    job = RemoteJob()
    cancel_job(job, said.append, wait_s=2)
    assert job.calls == ["cancel", ("wait", 2000)] and said == ["kinefake generate: cancelling job 2026-12-06_1 ..."]
    with pytest.raises(JobLeftRunning, match=r"job 2026-12-06_1 did not end within 2 s .* output is left as it is"):
        cancel_job(RemoteJob(ends=False), said.append, wait_s=2)
    with pytest.raises(JobLeftRunning, match=r"could not cancel job 2026-12-06_1 \(OSError: permission denied\)"):
        cancel_job(RemoteJob(refuses=True), said.append, wait_s=2)

"""``kinefake generate``: the main job, on DirectRunner by default or on Dataflow.

python -m kinefake.pipelines.generate --input 'videos/*.mp4' --output OUT [Beam options]
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import sys
import tempfile
import time

import apache_beam as beam
import pyarrow as pa
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.runner import PipelineRunner

from kinefake.command import run_command
from kinefake.corpus.contents import read_manifest, read_table
from kinefake.errors import JobLeftRunning, OutputError, UsageError, describe_os_error, storage_failure
from kinefake.fs import is_remote, local_copy
from kinefake.interrupt import BUNDLE_ERROR_LOGGERS, Interrupted, received
from kinefake.pipelines.lock import Locked, output_lock
from kinefake.pipelines.options import (
    KinefakeOptions,
    clip_plan,
    parse_options,
    print_flags,
    recorded_flags,
    require,
    split_plan,
    synth_config,
    with_config,
)
from kinefake.pipelines.output import (
    FINISHED,
    OutputConflict,
    QuietStorageFailures,
    append_batches,
    check_writable,
    finish_run,
    prepare_output,
    remove_partial_run,
)
from kinefake.pipelines.progress import (
    PROGRESS_PREFIX,
    MetricTotals,
    Progress,
    cancel_job,
    folder_totals,
    job_line,
    remove_stale_progress,
    summary,
)
from kinefake.pipelines.shard_videos import KnownVideos, ShardVideos
from kinefake.pipelines.synthesize import Synthesize, SynthesizeGroupFn
from kinefake.pipelines.tables import WriteTable, table_file_counts
from kinefake.schemas import CLIP_SCHEMA, FILE_SCHEMA, LANDMARK_SCHEMA, REJECT_SCHEMA, SAMPLE_SCHEMA
from kinefake.synth.bases.storage import load_bases
from kinefake.synth.donor_group import Bases, SynthConfig
from kinefake.synth.sharding import ClipPlan
from kinefake.worker_threads import worker_reports_dropped


def bases_summary(path: str | None) -> dict:
    """Load the motion-bases model once up front (a bad file fails the job before any work)."""
    with local_copy(path) if path else contextlib.nullcontext() as local:
        bases, info = load_bases(local)
    return {"path": path or "default", **Bases.of(bases, info).summary}


def job_config(opts: KinefakeOptions, plan: ClipPlan, synth: SynthConfig) -> dict:
    """What decides the samples: recorded in the manifest and compared on re-runs (in the
    form JSON gives back, tuples as lists, so a re-run compares equal). The decode and
    thread settings of ``synth`` are left out: they change how fast, not what."""
    config = {
        "bases": bases_summary(opts.bases),
        "input": list(opts.input),
        "clip_frames": plan.frames,
        "clip_stride": plan.step,
        "max_clips_per_video": plan.max_clips,
        "decode_timeout": synth.decode_timeout,
        "seed": synth.seed,
        "splits": dict(split_plan(opts).fractions) or None,
        "landmark_backend": opts.landmark_backend,
        "track": dataclasses.asdict(synth.track),
        "gates": dataclasses.asdict(synth.gates),
        "landmarks_only": synth.landmarks_only,
        "samples": dataclasses.asdict(synth.samples),
        "policy": dataclasses.asdict(synth.policy),
        "clips_per_shard": opts.clips_per_shard,
    }
    return json.loads(json.dumps(config))


def landmark_table(items: list, schema) -> pa.Table:
    """Clips' landmark rows, from ``(clip, its rows)`` items."""
    return pa.concat_tables(rows for _, rows in items).cast(schema)


def build(
    pipeline: beam.Pipeline,
    opts: KinefakeOptions,
    plan: ClipPlan,
    config: SynthConfig,
    progress: str | None = None,
    job: dict | None = None,
    batches: list[list[str]] | None = None,
    known: KnownVideos | None = None,
) -> None:
    """The job's transforms; with ``job`` (its :func:`job_config`), its last step writes the
    card and the manifest (:func:`~kinefake.pipelines.output.finish_run`), so a launcher that
    detaches from a remote job still leaves a finished corpus. With ``batches`` of more than
    one, the run is the last of them (an ``--append``): its files carry the batch's tag and
    the videos in ``known`` are rejects."""
    out = opts.output.rstrip("/")
    batch = len(batches) - 1 if batches else 0
    flags = recorded_flags(opts)
    specs = pipeline | "InputSpecs" >> beam.Create(list(opts.input))
    shard = specs | "Shard" >> ShardVideos(plan, opts.decode_timeout, split_plan(opts), batch, known)
    fn = SynthesizeGroupFn(out, opts.landmark_backend, opts.bases, config, progress, batch)
    synth = shard["clips"] | "Synthesize" >> Synthesize(opts.clips_per_shard, fn)
    num_files = synth["clips"] | "TableFiles" >> beam.Map(table_file_counts)
    by_clip = {"key_of": lambda row: (row.split, row.video_id), "num_files": num_files, "batch": batch}
    tables = [
        shard["clips"]
        | "WriteClips" >> WriteTable(out, "clips", CLIP_SCHEMA, lambda c: (c.video_id, c.clip), **by_clip),
        synth["samples"] | "WriteSamples" >> WriteTable(out, "samples", SAMPLE_SCHEMA, lambda s: s.key, **by_clip),
        synth["landmarks"]
        | "WriteLandmarks"
        >> WriteTable(
            out,
            "landmarks",
            LANDMARK_SCHEMA,
            lambda item: (item[0].video_id, item[0].clip),
            landmark_table,
            key_of=lambda item: (item[0].split, item[0].video_id),
            num_files=num_files,
            batch=batch,
        ),
        (shard["rejects"], synth["rejects"])
        | "FlattenRejects" >> beam.Flatten()
        | "WriteRejects" >> WriteTable(out, "rejects", REJECT_SCHEMA, batch=batch),
    ]
    files = (
        (*tables, synth["files"])
        | "FlattenFiles" >> beam.Flatten()
        | "WriteFiles" >> WriteTable(out, "files", FILE_SCHEMA, lambda f: f.path, batch=batch)
    )
    if job is not None:
        # After the files table, itself written after every tar and table: the manifest comes last.
        _ = (
            files
            | "AllWritten" >> beam.combiners.Count.Globally()
            | "Finish" >> beam.Map(lambda _: finish_run(out, job, batches, flags))
        )


def runner_name(options: PipelineOptions) -> str | None:
    """``--runner`` as Beam resolves it, lower case with the ``runner`` suffix
    (``direct``, ``DirectRunner`` and ``apache_beam...DirectRunner`` all read
    ``directrunner``); None when unset."""
    runner = options.view_as(StandardOptions).runner
    if runner is None:
        return None
    name = str(runner).rsplit(".", 1)[-1].lower()
    return name if name.endswith("runner") else name + "runner"


def runs_locally(options: PipelineOptions) -> bool:
    """Whether the workers run on this machine (DirectRunner, the default, or another of
    Beam's local runners), so that they can report progress through a local folder."""
    name = runner_name(options)
    return name is None or name in {n.lower() for n in StandardOptions.LOCAL_RUNNERS}


def runs_on_fn_api(options: PipelineOptions) -> bool:
    """Whether ``--runner`` is unset, DirectRunner or FnApiRunner: a job kinefake runs on
    Beam's FnApiRunner in this process (:func:`pipeline_runner`)."""
    return runner_name(options) in (None, "directrunner", "switchingdirectrunner", "fnapirunner")


def pipeline_runner(options: PipelineOptions) -> PipelineRunner | None:
    """The runner for ``--runner`` unset, DirectRunner or FnApiRunner: Beam's FnApiRunner,
    set up as DirectRunner sets it up for a batch job (the pipeline options handed to the
    workers, which a bare ``--runner=FnApiRunner`` would not give them).

    DirectRunner (Beam 2.72) first tries Prism, a Go binary it downloads from GitHub on
    first use: without network that costs every run a failed download (0.3-0.6 s here; a
    stall where a firewall drops the connection, as Beam's ``urlopen`` has no timeout), and with
    network the job runs on another runner than the one measured here, which ignores
    ``--direct_running_mode``. Every other ``--runner`` (None returned) is Beam's to resolve;
    ``--runner=PrismRunner`` still asks for Prism.
    """
    if not runs_on_fn_api(options):
        return None
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    info = beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)
    return fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(info))


def run(
    argv: list[str] | None = None,
    progress: str | None = None,
    counters: dict | None = None,
    watch: Progress | None = None,
) -> dict:
    """Run the job and return the manifest it wrote.

    Args:
        progress: a local folder where workers of a local run report each group they finish
            (:func:`kinefake.pipelines.progress.folder_totals`); ignored on a remote runner.
        counters: filled with the totals of the job's counters (``groups_made`` and
            ``groups_kept``: donor groups made, and kept from the interrupted run a ``--resume``
            finished; ``clips``, ``frames``, ``samples``, ``rejects``), or with
            ``finished_before`` when ``--resume`` found the run finished.
        watch: the progress line; on a remote runner it is told the job's id and follows the
            job's counters. Without it, the job's line is printed on stderr.
    """
    options, opts = parse_options(with_config(argv))
    require(opts, "input", "output")
    # Local inputs are recorded as absolute paths, so the corpus's clips table finds its sources
    # (``kinefake regenerate``, ``validate --regenerate``) from whatever folder those run in.
    opts.input = [spec if is_remote(spec) else os.path.abspath(spec) for spec in opts.input]
    if opts.clips_per_shard < 1:
        raise UsageError(f"--clips-per-shard: expected >= 1, got {opts.clips_per_shard}")
    if opts.append and opts.overwrite:
        raise UsageError("--append adds to a corpus and --overwrite replaces it: pass one of them")
    plan, synth = clip_plan(opts), synth_config(opts)
    config = job_config(opts, plan, synth)
    pipeline = beam.Pipeline(runner=pipeline_runner(options), options=options)  # an unknown --runner fails here
    check_writable(opts.output)
    with output_lock(opts.output):
        batches, kept = None, frozenset()
        try:
            if opts.append:
                config, batches, kept = append_batches(opts.output, config, opts.resume)
            found = prepare_output(opts.output, config, opts.overwrite, opts.resume, batches)
            done = {"finished_before": 1}
            if found != FINISHED:
                job = (config, progress if runs_locally(options) else None, batches, kept)
                done = run_pipeline(pipeline, opts, plan, synth, *job, watch=None if runs_locally(options) else watch)
            if counters is not None:
                counters.update(done)
            return read_manifest(opts.output)
        except BaseException as exc:
            if received() is None or isinstance(exc, JobLeftRunning):
                raise
            remove_partial_run(opts.output, kept)  # "rerun the same command to start over"
            raise Interrupted(received()) from None


def run_pipeline(
    pipeline: beam.Pipeline,
    opts: KinefakeOptions,
    plan: ClipPlan,
    synth: SynthConfig,
    job: dict,
    progress: str | None,
    batches: list[list[str]] | None = None,
    kept: frozenset[str] = frozenset(),
    watch: Progress | None = None,
) -> dict:
    """Run the job to its end; its counters' totals (:meth:`MetricTotals.read`: clips,
    frames, samples, rejects, and the donor groups made and kept). A full disk or a size
    limit becomes one :class:`OutputError`, with what the run had written removed (all but
    ``kept``, the corpus an ``--append`` adds to). With ``watch`` (a remote run's progress
    line), the job's id is said and its counters followed while it runs."""
    quiet = QuietStorageFailures()
    for name in BUNDLE_ERROR_LOGGERS:
        logging.getLogger(name).addFilter(quiet)
    try:
        known = known_videos(opts.output) if batches and len(batches) > 1 else None
        build(pipeline, opts, plan, synth, progress, job, batches, known)
        with worker_reports_dropped():
            result = pipeline.run()
        line = job_line(result, pipeline.options)
        say = watch.say if watch is not None else functools.partial(print, file=sys.stderr)
        if line:
            say(line)
            if watch is not None:
                watch.follow(MetricTotals(result))
        try:
            result.wait_until_finish()
        except BaseException:
            if line and received() is not None:
                cancel_job(result, say)  # before run() removes what the job wrote
            raise
        return MetricTotals(result).read()
    except Exception as exc:
        failure = storage_failure(exc)
        if failure is None:
            raise
        remove_partial_run(opts.output, kept)
        message = f"writing {opts.output} failed: {describe_os_error(failure)}; what it had written is removed"
        raise OutputError(message) from None
    finally:
        for name in BUNDLE_ERROR_LOGGERS:
            logging.getLogger(name).removeFilter(quiet)


def known_videos(out: str) -> KnownVideos:
    """The videos corpus ``out`` holds, from its clips table (every batch)."""
    table = read_table(out, "clips", ["video_id", "digest", "uri"])
    uris = table["uri"].to_pylist()
    return KnownVideos(
        digests=dict(zip(table["digest"].to_pylist(), uris, strict=True)),
        ids=dict(zip(table["video_id"].to_pylist(), uris, strict=True)),
    )


def main(argv: list[str]) -> int:
    """``kinefake generate``: a progress line while it runs (not with ``-q``), a last block;
    exit status 1 when every input was rejected."""
    if "--help" in argv or "-h" in argv:
        print_flags("kinefake generate", "Shard input videos and write the corpus; Beam flags pass through.")
        return 0
    quiet = "-q" in argv or "--quiet" in argv
    argv = [a for a in argv if a not in ("-q", "--quiet")]
    start = time.perf_counter()
    remove_stale_progress()
    with tempfile.TemporaryDirectory(prefix=f"{PROGRESS_PREFIX}{os.getpid()}-") as folder:
        watch = None if quiet else Progress(functools.partial(folder_totals, folder))
        with watch or contextlib.nullcontext():
            counters: dict[str, int] = {}
            manifest = run(argv, progress=folder, counters=counters, watch=watch)
    counts = manifest["counts"]
    if not quiet:
        print(summary(manifest, parse_options(argv)[1].output, time.perf_counter() - start, counters))
    what = "clips_with_landmarks" if manifest["config"]["landmarks_only"] else "samples"
    if not counts[what]:
        print(f"kinefake generate: no {what}: every input was rejected ({counts['rejects']} rejects)", file=sys.stderr)
        return 1
    return 0


#: Refused in one line besides :data:`kinefake.command.REFUSED`.
REFUSED = (OutputConflict, Locked, ValueError, FileNotFoundError)

if __name__ == "__main__":
    logging.getLogger().setLevel(logging.INFO)
    sys.exit(run_command("generate", main, sys.argv[1:], REFUSED))

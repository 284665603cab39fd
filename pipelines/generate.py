"""``kinefake generate``: the main job, on DirectRunner by default or on Dataflow.

python -m pipelines.generate --input 'videos/*.mp4' --output OUT [Beam options]
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import posixpath

import apache_beam as beam

from pipelines.fs import local_copy
from pipelines.options import (
    KinefakeOptions,
    UsageError,
    gate_config,
    parse_options,
    perturb_policy,
    require,
    sample_config,
    track_config,
)
from pipelines.output import (
    OutputError,
    QuietStorageFailures,
    describe_os_error,
    file_record,
    prepare_output,
    remove_debris,
    remove_partial_run,
    storage_failure,
    write_manifest,
)
from pipelines.samples import Synthesize, SynthesizeShardFn
from pipelines.shard import ShardVideos
from pipelines.tables import WriteRecords
from schemas import CLIP_SCHEMA, FILE_SCHEMA, LANDMARK_SCHEMA, REJECT_SCHEMA, SAMPLE_SCHEMA, landmarks_table
from schemas.layout import SHARD_TEMPLATE, table_prefix
from synth.bases.io import load_bases
from synth.video import working_size


def bases_summary(path: str | None) -> dict:
    """Load the motion-bases model once up front (a bad file fails the job before any work)."""
    with local_copy(path) if path else contextlib.nullcontext() as local:
        bases, info = load_bases(local)
    return {"path": path or "default", "kind": bases.kind, "k": bases.k, "data_sha256": info.get("data_sha256")}


def job_config(opts: KinefakeOptions) -> dict:
    """What decides the samples: recorded in the manifest and compared on re-runs (in the
    form JSON gives back, tuples as lists, so a re-run compares equal)."""
    config = {
        "bases": bases_summary(opts.bases),
        "input": list(opts.input),
        "clip_frames": opts.clip_frames,
        "clip_stride": opts.clip_stride or opts.clip_frames,
        "max_clips_per_video": opts.max_clips_per_video,
        "decode_timeout": opts.decode_timeout,
        "seed": opts.seed,
        "landmark_backend": opts.landmark_backend,
        "track": dataclasses.asdict(track_config(opts)),
        "gates": dataclasses.asdict(gate_config(opts)),
        "landmarks_only": opts.landmarks_only,
        "samples": dataclasses.asdict(sample_config(opts)),
        "policy": dataclasses.asdict(perturb_policy(opts)),
        "clips_per_shard": opts.clips_per_shard,
    }
    return json.loads(json.dumps(config))


def landmark_table(item):
    """A clip's landmark rows; their width and height are the working frame's (the source's
    size up to ``MAX_WORK_PIXELS``), whose pixels the coordinates are in."""
    clip, lm = item
    return landmarks_table(clip.video_id, clip.clip, clip.start_frame, *working_size(clip.width, clip.height), lm)


def build(pipeline: beam.Pipeline, opts: KinefakeOptions) -> None:
    out = opts.output.rstrip("/")
    shard = (
        pipeline
        | "InputSpecs" >> beam.Create(list(opts.input))
        | "Shard" >> ShardVideos(opts.clip_frames, opts.clip_stride, opts.max_clips_per_video, opts.decode_timeout)
    )
    clip_files = shard["clips"] | "WriteClips" >> WriteRecords(posixpath.join(out, table_prefix("clips")), CLIP_SCHEMA)
    fn = SynthesizeShardFn(
        out,
        opts.landmark_backend,
        track_config(opts),
        gate_config(opts),
        opts.decode_timeout,
        opts.bases,
        perturb_policy(opts),
        sample_config(opts),
        opts.seed,
        opts.landmarks_only,
    )
    synth = shard["clips"] | "Synthesize" >> Synthesize(opts.clips_per_shard, fn)
    sample_files = synth["samples"] | "WriteSamples" >> WriteRecords(
        posixpath.join(out, table_prefix("samples")), SAMPLE_SCHEMA
    )
    landmark_files = (
        synth["landmarks"]
        | "LandmarkTables" >> beam.Map(landmark_table)
        | "WriteLandmarks"
        >> beam.io.WriteToParquetBatched(
            posixpath.join(out, table_prefix("landmarks")),
            LANDMARK_SCHEMA,
            codec="snappy",
            file_name_suffix=".parquet",
            shard_name_template=SHARD_TEMPLATE,
        )
    )
    rejects = (shard["rejects"], synth["rejects"]) | "FlattenRejects" >> beam.Flatten()
    reject_files = rejects | "WriteRejects" >> WriteRecords(posixpath.join(out, table_prefix("rejects")), REJECT_SCHEMA)
    table_files = (clip_files, sample_files, landmark_files, reject_files) | "FlattenTables" >> beam.Flatten()
    (
        (table_files | "DescribeTables" >> beam.Map(file_record, out), synth["files"])
        | "FlattenFiles" >> beam.Flatten()
        | "WriteFiles" >> WriteRecords(posixpath.join(out, table_prefix("files")), FILE_SCHEMA)
    )


def run(argv: list[str] | None = None) -> dict:
    """Run the job and return the manifest it wrote."""
    options, opts = parse_options(argv)
    require(opts, "input", "output")
    if opts.clips_per_shard < 1:
        raise UsageError(f"--clips-per-shard: expected >= 1, got {opts.clips_per_shard}")
    config = job_config(opts)
    prepare_output(opts.output, config, opts.overwrite)
    quiet = QuietStorageFailures()
    logging.getLogger("apache_beam.runners.common").addFilter(quiet)
    try:
        with beam.Pipeline(options=options) as pipeline:
            build(pipeline, opts)
    except Exception as exc:
        failure = storage_failure(exc)
        if failure is None:
            raise
        remove_partial_run(opts.output)
        message = f"writing {opts.output} failed: {describe_os_error(failure)}; what it had written is removed"
        raise OutputError(message) from None
    finally:
        logging.getLogger("apache_beam.runners.common").removeFilter(quiet)
    remove_debris(opts.output)
    return write_manifest(opts.output, config)


if __name__ == "__main__":
    import sys

    from pipelines.cli import main

    logging.getLogger().setLevel(logging.INFO)
    sys.exit(main(["generate", *sys.argv[1:]]))

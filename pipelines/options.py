"""The one PipelineOptions subclass: every kinefake flag, shared by all jobs."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

from synth.video import DEFAULT_TIMEOUT_S


class KinefakeOptions(PipelineOptions):
    """Flags of every kinefake job.

    Nothing here is argparse-``required``: Beam parses every PipelineOptions subclass for
    every pipeline in the process, so each job checks the flags it needs itself
    (:func:`require`).
    """

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            "--input",
            action="append",
            help="Glob, folder, or manifest (.csv/.parquet with a 'uri' column, optional "
            "'video_id', 'split'); local or gs://. Repeat for several.",
        )
        parser.add_argument("--output", help="Output folder, local or gs://.")
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="Replace an existing output written with a different configuration.",
        )
        parser.add_argument("--clip-frames", type=int, default=32, help="Frames per clip.")
        parser.add_argument(
            "--clip-stride", type=int, default=None, help="Frames between clip starts (default: --clip-frames)."
        )
        parser.add_argument(
            "--max-clips-per-video", type=int, default=None, help="Keep at most this many clips, spread evenly."
        )
        parser.add_argument(
            "--decode-timeout",
            type=float,
            default=DEFAULT_TIMEOUT_S,
            help="Seconds one probe or clip decode may take before the input is rejected.",
        )
        parser.add_argument("--seed", type=int, default=0, help="Global seed; same seed, same samples.")


class UsageError(Exception):
    """A flag is missing or out of range; the message says which and what was given."""


def require(opts: KinefakeOptions, *names: str) -> None:
    """Raise :class:`UsageError` naming the first of ``names`` (attribute names) not set."""
    for name in names:
        if getattr(opts, name) in (None, []):
            raise UsageError(f"--{name.replace('_', '-')} is required")

"""The one PipelineOptions subclass: every kinefake flag, shared by all jobs."""

from __future__ import annotations

import argparse
import difflib
import math
import sys

from apache_beam.options.pipeline_options import PipelineOptions

from kinefake.command import command_parser
from kinefake.errors import UsageError
from kinefake.synth.clip_samples import INTERPOLATIONS, PRESETS, SampleConfig
from kinefake.synth.donor_group import SynthConfig
from kinefake.synth.landmarks import BACKENDS, GateConfig, TrackConfig
from kinefake.synth.perturb.policy import PerturbPolicy
from kinefake.synth.sharding import ClipPlan, SplitPlan
from kinefake.synth.video import DEFAULT_TIMEOUT_S


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
            "--config",
            metavar="MANIFEST",
            help="Run with the flags a corpus was made with: its manifest.json or its folder (local or gs://); "
            "its first batch's --input unless --input is given, and any flag given here wins.",
        )
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="Replace an existing output written with a different configuration.",
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="Finish a run that was killed or failed in --output with the same flags, keeping the donor groups "
            "it finished (the result is the bytes one uninterrupted run writes); with nothing to resume, start.",
        )
        parser.add_argument(
            "--append",
            action="store_true",
            help="Add the --input videos to the finished corpus in --output (made with the same other flags) as "
            "new shards and table files; the old files are not rewritten, a video it holds is a duplicate reject.",
        )
        parser.add_argument("--clip-frames", type=int, default=ClipPlan.frames, help="Frames per clip.")
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
        parser.add_argument(
            "--decode-ahead",
            type=int,
            default=SynthConfig.decode_ahead,
            help="Clips (up to 8) each worker decodes ahead on a background thread, overlapping decode with "
            "landmarks (0: off). Speed only: the output is the same.",
        )
        parser.add_argument(
            "--decode-threads",
            type=int,
            default=SynthConfig.decode_threads,
            help="FFmpeg decoder threads per worker, up to 16 (0: FFmpeg chooses). Speed only.",
        )
        parser.add_argument(
            "--sample-threads",
            type=int,
            default=SynthConfig.sample_threads,
            help="Clips of a donor group (up to 8) whose samples each worker renders and encodes at once. Speed only.",
        )
        parser.add_argument("--seed", type=int, default=0, help="Global seed; same seed, same samples.")
        parser.add_argument(
            "--splits",
            default=None,
            help="Split the source videos, e.g. train=0.8,val=0.1,test=0.1: each video (not clip) drawn from its "
            "content and --seed; a manifest's split column wins for its rows. Default: every video in train.",
        )
        parser.add_argument(
            "--bases", default=None, help="Motion-bases model (.safetensors); default: the one shipped in kinefake."
        )
        parser.add_argument("--landmark-backend", choices=sorted(BACKENDS), default="mediapipe", help="Landmark model.")
        parser.add_argument(
            "--detect-every", type=int, default=TrackConfig.detect_every, help="Run the face detector every N frames."
        )
        parser.add_argument(
            "--max-lost-frames",
            type=int,
            default=TrackConfig.max_lost_frames,
            help="Longest run of frames without the face that is filled.",
        )
        parser.add_argument(
            "--compete-ratio",
            type=float,
            default=TrackConfig.compete_ratio,
            help="Reject a clip when another face is at least this fraction of the subject's area.",
        )
        parser.add_argument(
            "--min-iod-px", type=float, default=GateConfig.min_iod_px, help="Gate: smallest median inter-ocular px."
        )
        parser.add_argument(
            "--max-abs-yaw", type=float, default=GateConfig.max_abs_yaw, help="Gate: largest |yaw| in degrees."
        )
        parser.add_argument(
            "--min-confidence",
            type=float,
            default=GateConfig.min_confidence,
            help="Gate: smallest mean detector score.",
        )
        parser.add_argument(
            "--max-jitter",
            type=float,
            default=GateConfig.max_jitter,
            help="Gate: largest smoothed rigid jitter, IOD per frame.",
        )
        parser.add_argument(
            "--fakes-per-clip", type=int, default=SampleConfig.fakes, help="Pseudo-fake variants per clip."
        )
        parser.add_argument(
            "--operators",
            default=",".join(n for n, w in PerturbPolicy().weights.items() if w),
            help="Comma-separated operators drawn with equal probability: kinematic (decouple, desync, "
            "amplitude, freeze, transplant, jitter), appearance (blend), hybrid (a kinematic edit and a blend "
            "on one clip) and the calibration controls (blur, flicker).",
        )
        parser.add_argument(
            "--min-strength",
            type=float,
            default=PerturbPolicy.strength[0],
            help="Smallest requested displacement, IOD.",
        )
        parser.add_argument(
            "--max-strength", type=float, default=PerturbPolicy.strength[1], help="Largest requested displacement, IOD."
        )
        parser.add_argument(
            "--max-shift", type=float, default=PerturbPolicy.max_shift, help="Hard cap on any landmark's shift, IOD."
        )
        parser.add_argument(
            "--jitter-sigma",
            type=float,
            default=PerturbPolicy.jitter_sigma,
            help="Per-frame noise of the jitter baseline, IOD.",
        )
        parser.add_argument(
            "--min-blend-ratio",
            type=float,
            default=PerturbPolicy.blend_ratio[0],
            help="Smallest blend weight of the appearance family.",
        )
        parser.add_argument(
            "--max-blend-ratio",
            type=float,
            default=PerturbPolicy.blend_ratio[1],
            help="Largest blend weight of the appearance family.",
        )
        parser.add_argument(
            "--blur-sigmas",
            default=",".join(f"{v:g}" for v in PerturbPolicy.blur_sigmas),
            help="Comma-separated levels of the blur control (Gaussian sigma inside the face hull, pixels).",
        )
        parser.add_argument(
            "--flicker-greys",
            default=",".join(f"{v:g}" for v in PerturbPolicy.flicker_greys),
            help="Comma-separated levels of the flicker control (+-a grey levels on alternate frames).",
        )
        parser.add_argument(
            "--size", type=int, default=SampleConfig.size, help="Face-crop side of the samples, pixels."
        )
        parser.add_argument(
            "--margin", type=float, default=SampleConfig.margin, help="Crop side over the landmarks' box side."
        )
        parser.add_argument("--interpolation", choices=INTERPOLATIONS, default=SampleConfig.interpolation)
        parser.add_argument(
            "--crf",
            type=int,
            default=SampleConfig.crf,
            help="libx264 quality of the mp4 members (0-51, lower is better).",
        )
        parser.add_argument(
            "--preset",
            choices=PRESETS,
            default=SampleConfig.preset,
            help="libx264 speed/size trade-off of the mp4 members.",
        )
        parser.add_argument("--clips-per-shard", type=int, default=32, help="Clips per WebDataset shard, on average.")
        parser.add_argument(
            "--landmarks-only", action="store_true", help="Stop after the landmark tables (no samples)."
        )


#: Flags a manifest does not record: where a run reads and writes, what it does to what is there,
#: and the threads, which change how fast a machine runs it, not what it writes.
UNRECORDED = (
    "input",
    "output",
    "config",
    "overwrite",
    "resume",
    "append",
    "decode_threads",
    "decode_ahead",
    "sample_threads",
)


def kinefake_actions() -> dict[str, argparse.Action]:
    """Every kinefake flag's argparse action, by its attribute name."""
    parser = argparse.ArgumentParser(add_help=False)
    KinefakeOptions._add_argparse_args(parser)
    return {action.dest: action for action in parser._actions}


def recorded_flags(opts: KinefakeOptions) -> dict:
    """The kinefake flags of a run, defaults included (``{"seed": 0, "clip_frames": 32, ...}``):
    what the manifest records for ``--config``, so a corpus can be made again from it alone."""
    return {dest: getattr(opts, dest) for dest in kinefake_actions() if dest not in UNRECORDED}


def with_config(argv: list[str] | None) -> list[str]:
    """``argv`` with ``--config MANIFEST`` replaced by the flags that manifest records, put
    first so that a flag given on the command line wins; its first batch's inputs are added
    when no ``--input`` is given.

    Raises:
        UsageError: the file cannot be read, is not a kinefake manifest, records no flags (a
            corpus made before they were recorded) or a flag this kinefake does not have.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    rest, path = [], None
    args = iter(argv)
    for arg in args:
        if arg == "--config":
            path = next(args, None)
            if path is None or path.startswith("--"):
                raise UsageError("--config: expected a manifest.json or a corpus folder after it")
        elif arg.startswith("--config="):
            path = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if path is None:
        return argv
    manifest = _read_config(path)
    actions = kinefake_actions()
    unknown = sorted(set(manifest["flags"]) - set(actions))
    if unknown:
        raise UsageError(f"--config: {path} records flags this kinefake does not have: {', '.join(unknown)}")
    flags: list[str] = []
    for dest, value in manifest["flags"].items():
        if dest in UNRECORDED or value is None or value is False:  # a manifest never switches on --overwrite
            continue
        option = actions[dest].option_strings[0]
        flags += [option] if isinstance(actions[dest], argparse._StoreTrueAction) else [option, str(value)]
    if not any(a == "--input" or a.startswith("--input=") for a in rest):
        batches = manifest.get("batches") or [manifest["config"].get("input")]
        if not (
            isinstance(batches, list) and isinstance(batches[0], list) and all(isinstance(b, str) for b in batches[0])
        ):
            raise UsageError(f"--config: {path} names no inputs as a list of paths; give --input")
        if len(batches) > 1:
            print(
                f"kinefake generate: --config: {path} was made in {len(batches)} batches; this run takes the "
                "first one's inputs (add the others with --append --input ...)",
                file=sys.stderr,
            )
        flags += [item for spec in batches[0] for item in ("--input", spec)]
    return flags + rest


def _read_config(path: str) -> dict:
    """The manifest at ``path`` (a file, or a corpus folder holding ``manifest.json``)."""
    import json
    import posixpath

    from kinefake.fs import read_bytes
    from kinefake.schemas.layout import MANIFEST

    uri = path if path.endswith(".json") else posixpath.join(path.rstrip("/"), MANIFEST)
    try:
        manifest = json.loads(read_bytes(uri))
    except FileNotFoundError:
        raise UsageError(f"--config: no file {uri}") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"--config: {uri} is not a readable JSON manifest ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise UsageError(f"--config: {uri} is not a kinefake manifest (no config)")
    if not isinstance(manifest.get("flags"), dict):
        raise UsageError(
            f"--config: {uri} records no flags (made before manifests recorded them); "
            "its settings are in its config, to be given as flags"
        )
    return manifest


def require(opts: KinefakeOptions, *names: str) -> None:
    """Raise :class:`UsageError` naming the first of ``names`` (attribute names) not set."""
    for name in names:
        if getattr(opts, name) in (None, []):
            raise UsageError(f"--{name.replace('_', '-')} is required")


def parse_options(argv: list[str] | None) -> tuple[PipelineOptions, KinefakeOptions]:
    """Beam's options and kinefake's view of them, refusing what Beam would let through.

    Beam discards a flag it does not know with a log line, and the run goes on with the
    default (``--max-clip-per-video 1`` would mean every clip); here any ``--name`` that
    neither kinefake nor Beam defines is an error with the closest known spelling.

    Raises:
        UsageError: an unknown flag, a value of the wrong type, a NaN or infinite number,
            ``--decode-timeout <= 0``.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    options = PipelineOptions(argv)
    parsers = []

    def keep(parser: argparse.ArgumentParser) -> None:  # the parser Beam builds from every options class
        parser.exit_on_error = False  # a bad value is one line, not Beam's 140-line usage
        parsers.append(parser)

    try:
        options.get_all_options(add_extra_args_fn=keep)
    except argparse.ArgumentError as exc:
        raise UsageError(str(exc).replace("argument ", "", 1)) from None
    (parser,) = parsers
    _, unknown = parser.parse_known_args(argv)
    known = sorted({s for action in parser._actions for s in action.option_strings if s.startswith("--")})
    for arg in unknown:
        if arg.startswith("--") and len(arg) > 2:
            name = arg.split("=", 1)[0]
            close = difflib.get_close_matches(name.replace("_", "-"), known, n=1) or difflib.get_close_matches(
                name, known, n=1
            )
            hint = f"; did you mean {close[0]}?" if close else ""
            raise UsageError(f"unknown flag {name}{hint} (kinefake generate --help lists kinefake's flags)")
    opts = options.view_as(KinefakeOptions)
    for name, value in sorted(opts.get_all_options(current_only=True).items()):
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"--{name.replace('_', '-')}: expected a finite number, got {value}")
    if opts.decode_timeout <= 0:
        raise UsageError(f"--decode-timeout: expected > 0 seconds, got {opts.decode_timeout}")
    return options, opts


def _config(cls, **fields):
    """``cls(**fields)``, a ValueError from its checks turned into a :class:`UsageError`."""
    try:
        return cls(**fields)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def clip_plan(opts: KinefakeOptions) -> ClipPlan:
    """Raises: UsageError: a value out of range."""
    return _config(ClipPlan, frames=opts.clip_frames, stride=opts.clip_stride, max_clips=opts.max_clips_per_video)


def split_plan(opts: KinefakeOptions) -> SplitPlan:
    """Raises: UsageError: ``--splits`` is not ``name=fraction`` pairs summing to 1."""
    try:
        return SplitPlan.parse(opts.splits, opts.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def track_config(opts: KinefakeOptions):
    """Raises: UsageError: a value out of range."""
    return _config(
        TrackConfig,
        detect_every=opts.detect_every,
        max_lost_frames=opts.max_lost_frames,
        compete_ratio=opts.compete_ratio,
    )


def gate_config(opts: KinefakeOptions):
    """Raises: UsageError: a value out of range."""
    return _config(
        GateConfig,
        min_iod_px=opts.min_iod_px,
        max_abs_yaw=opts.max_abs_yaw,
        min_confidence=opts.min_confidence,
        max_jitter=opts.max_jitter,
    )


def perturb_policy(opts: KinefakeOptions):
    """The :class:`~kinefake.synth.perturb.policy.PerturbPolicy` the flags describe.

    Raises:
        UsageError: an unknown operator, or strengths out of order or negative.
    """
    from kinefake.synth.perturb.policy import operator_names

    names = [n.strip() for n in opts.operators.split(",") if n.strip()]
    unknown = sorted(set(names) - set(operator_names()))
    if unknown or not names:
        raise UsageError(f"--operators: expected names from {operator_names()}, got {opts.operators!r}")
    return _config(
        PerturbPolicy,
        weights={n: float(n in names) for n in operator_names()},
        strength=(opts.min_strength, opts.max_strength),
        max_shift=opts.max_shift,
        blend_ratio=(opts.min_blend_ratio, opts.max_blend_ratio),
        blur_sigmas=_levels("--blur-sigmas", opts.blur_sigmas),
        flicker_greys=_levels("--flicker-greys", opts.flicker_greys),
        jitter_sigma=opts.jitter_sigma,
    )


def _levels(flag: str, text: str) -> tuple[float, ...]:
    """``"0.5,0.7"`` -> ``(0.5, 0.7)``.

    Raises:
        UsageError: not a comma-separated list of numbers.
    """
    try:
        levels = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        levels = ()
    if not levels:
        raise UsageError(f"{flag}: expected comma-separated numbers, got {text!r}")
    return levels


def sample_config(opts: KinefakeOptions):
    """The :class:`~kinefake.synth.clip_samples.SampleConfig` the flags describe.

    Raises:
        UsageError: a value out of range.
    """
    return _config(
        SampleConfig,
        fakes=opts.fakes_per_clip,
        size=opts.size,
        margin=opts.margin,
        interpolation=opts.interpolation,
        crf=opts.crf,
        preset=opts.preset,
    )


def synth_config(opts: KinefakeOptions) -> SynthConfig:
    """Raises: UsageError: a value out of range."""
    return _config(
        SynthConfig,
        track=track_config(opts),
        gates=gate_config(opts),
        policy=perturb_policy(opts),
        samples=sample_config(opts),
        seed=opts.seed,
        landmarks_only=opts.landmarks_only,
        decode_timeout=opts.decode_timeout,
        decode_threads=opts.decode_threads,
        decode_ahead=opts.decode_ahead,
        sample_threads=opts.sample_threads,
    )


def print_flags(prog: str, description: str) -> None:
    """``--help`` of a Beam job: every kinefake flag (Beam's own pass through)."""
    parser = command_parser(prog=prog, description=description)
    KinefakeOptions._add_argparse_args(parser)
    parser.print_help()

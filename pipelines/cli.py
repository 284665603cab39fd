"""The ``kinefake`` console script: one subcommand per job."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys

from pipelines.console import PROGRESS_PREFIX, remove_stale_progress, silence_libraries
from pipelines.fs import local_copy, write_atomic
from pipelines.interrupt import Interrupted, handle_signals, received
from pipelines.lock import Locked
from pipelines.options import UsageError
from pipelines.output import OutputConflict, OutputError
from pipelines.shutdown import skip_final_collections

USAGE = """usage: kinefake COMMAND [ARGS]

commands:
  generate            shard input videos and write the corpus (-q: print nothing but errors)
  landmarks-preview   draw the tracked landmarks and head pose of one clip into an mp4
  fit-bases           train motion bases from landmark tables or videos
  bases-preview       draw each motion basis as arrows on the mean face (PNG)
  render-preview      real | fake | mask | |diff| x10 of one clip with a chosen operator (mp4)
  validate            check a corpus: render fidelity, nothing moved outside the masks, motion, head pose
  evaluate            train baseline detectors on a corpus: AUROC on held-out source videos, test videos
  audit               a static HTML report of a corpus: summary, rejects, sample cards to watch
  regenerate          rebuild one sample of a corpus from its source; say whether it equals the stored one

'kinefake COMMAND --help' shows each command's flags."""


def _print_flags(prog: str, description: str) -> None:
    from pipelines.options import KinefakeOptions

    parser = argparse.ArgumentParser(prog=prog, description=description)
    KinefakeOptions._add_argparse_args(parser)
    parser.print_help()


def landmarks_preview(argv: list[str]) -> int:

    import numpy as np

    from synth.errors import Rejected
    from synth.landmarks import GateConfig, extract_landmarks, make_backend
    from synth.landmarks.extract import check_gates
    from synth.landmarks.preview import draw_frame
    from synth.video import encode_mp4, probe, read_frames

    parser = argparse.ArgumentParser(
        prog="kinefake landmarks-preview", description="Draw tracked landmarks and head-pose axes on one clip."
    )
    parser.add_argument("video", help="Video file, local or gs://.")
    parser.add_argument("--out", required=True, help="Output .mp4, local or gs://.")
    parser.add_argument("--backend", choices=["mediapipe", "dlib"], default="mediapipe")
    parser.add_argument("--start", type=int, default=0, help="First frame.")
    parser.add_argument("--frames", type=int, default=96, help="Number of frames (clipped to the video).")
    args = parser.parse_args(argv)
    try:
        with local_copy(args.video) as video:
            info = probe(video)
            count = min(args.frames, info.frame_count - args.start)
            frames = read_frames(video, args.start, count, info.frame_pts[args.start] if info.frame_pts else None)
        # Track with the gates open so a failing clip can still be looked at; report the failure on it.
        lenient = GateConfig(min_iod_px=0, max_abs_yaw=180, min_confidence=0, max_jitter=float("inf"))
        with make_backend(args.backend) as backend:
            lm = extract_landmarks(frames, backend, float(info.fps), gates=lenient)
    except Rejected as exc:
        print(f"kinefake landmarks-preview: {exc.reason}: {exc.detail}", file=sys.stderr)
        return 1
    banner = None
    try:
        check_gates(lm, GateConfig())
    except Rejected as exc:
        banner = f"REJECTED by default gates: {exc.reason}"
    write_atomic(args.out, encode_mp4([draw_frame(f, lm, t, banner) for t, f in enumerate(frames)], info.fps))
    print(
        f"wrote {args.out}: {count} frames, backend {args.backend}, median IOD {float(np.median(lm.iod)):.1f} px, "
        f"jitter {100 * lm.raw_jitter:.2f} -> {100 * lm.jitter:.2f} % IOD/frame" + (f"; {banner}" if banner else "")
    )
    return 0


def fit_bases(argv: list[str]) -> int:
    from pipelines import fit_bases as job

    try:
        info = job.run(argv)
    except (OutputConflict, OutputError, UsageError, ValueError) as exc:
        print(f"kinefake fit-bases: {exc}", file=sys.stderr)
        return 2
    metrics = info["metrics"]
    print(
        f"{info['kind']} k={info['config']['k']}: {info['train_frames']} training frames from "
        f"{len(info['train_videos'])} videos; held out {info['held_out_frames']} frames from "
        f"{len(info['held_out_videos'])} videos: NME {metrics['held_out_nme_pct_iod']:.2f} % IOD, "
        f"mean locality {metrics['mean_locality']:.2f}"
    )
    return 0


def bases_preview(argv: list[str]) -> int:
    import cv2

    from synth.bases.io import ModelFileError, load_bases
    from synth.bases.preview import draw_bases

    parser = argparse.ArgumentParser(prog="kinefake bases-preview", description="Draw each basis on the mean face.")
    parser.add_argument("model", nargs="?", help="Model file (default: the model shipped with kinefake).")
    parser.add_argument("--out", required=True, help="Output .png, local or gs://.")
    args = parser.parse_args(argv)
    try:
        bases, _ = load_bases(args.model)
    except ModelFileError as exc:
        print(f"kinefake bases-preview: {exc}", file=sys.stderr)
        return 2
    _, png = cv2.imencode(".png", draw_bases(bases))
    try:
        write_atomic(args.out, png.tobytes())
    except OSError as exc:
        print(f"kinefake bases-preview: cannot write {args.out}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {bases.kind}, k={bases.k}")
    return 0


def render_preview(argv: list[str]) -> int:
    """One clip's real and fake side by side, made by ``generate``'s own path
    (:func:`synth.synthesize.synthesize_group`): the clip and the clip after it (before it at
    the end of the video) form a donor group, as neighbouring clips do in a corpus, so
    ``transplant`` has a donor. The samples are encoded losslessly (``crf`` 0) and decoded
    back, so the |diff| panel shows the edit alone, not the codec."""
    from schemas.sample import FAKE_PREFIX, MASKS, MP4, REAL
    from synth.bases.io import ModelFileError, load_bases
    from synth.errors import Rejected
    from synth.io import decode_mp4, decode_npz
    from synth.landmarks import make_backend
    from synth.perturb.policy import PerturbPolicy, operator_names
    from synth.render.panels import comparison_panels
    from synth.samples import INTERPOLATIONS, SampleConfig
    from synth.shard import clip_record, local_input
    from synth.synthesize import Bases, Failed, Made, SynthConfig, synthesize_group
    from synth.video import encode_mp4, probe

    parser = argparse.ArgumentParser(
        prog="kinefake render-preview", description="real | fake | mask | |diff| x10 for one clip and one operator."
    )
    parser.add_argument("video", help="Video file, local or gs://.")
    parser.add_argument("--out", required=True, help="Output .mp4, local or gs://.")
    parser.add_argument("--operator", choices=operator_names(), default="decouple")
    parser.add_argument("--start", type=int, default=0, help="First frame of the clip.")
    parser.add_argument("--frames", type=int, default=32, help="Clip length.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strength", type=float, help="Largest displacement, IOD (default: the policy's draw).")
    parser.add_argument(
        "--max-shift", type=float, default=PerturbPolicy.max_shift, help="Hard cap on any landmark's shift, IOD."
    )
    parser.add_argument("--size", type=int, default=SampleConfig.size, help="Crop side, pixels.")
    parser.add_argument(
        "--margin", type=float, default=SampleConfig.margin, help="Crop side over the landmarks' box side."
    )
    parser.add_argument("--interpolation", choices=INTERPOLATIONS, default=SampleConfig.interpolation)
    parser.add_argument("--bases", help="Motion-bases model (default: shipped).")
    args = parser.parse_args(argv)
    # The default strength range is capped at --max-shift, so a smaller cap alone is valid;
    # an explicit --strength above it is refused.
    if args.strength is None:
        strength = tuple(min(s, args.max_shift) for s in PerturbPolicy.strength)
    else:
        strength = (args.strength, args.strength)
    try:
        policy = PerturbPolicy(weights={args.operator: 1.0}, strength=strength, max_shift=args.max_shift)
        samples = SampleConfig(1, args.size, args.margin, args.interpolation, crf=0)
        config = SynthConfig(policy=policy, samples=samples, seed=args.seed, decode_ahead=0)
        if args.start < 0 or args.frames < 1:
            raise ValueError(f"expected --start >= 0 and --frames >= 1, got {args.start}, {args.frames}")
    except ValueError as exc:
        print(f"kinefake render-preview: {exc}", file=sys.stderr)
        return 2
    try:
        bases = Bases.of(*load_bases(args.bases))
        with local_copy(args.video) as video, make_backend("mediapipe") as backend:
            info, ref = probe(video), local_input(video)
            count = min(args.frames, info.frame_count - args.start)
            if count < 1:
                raise Rejected("too short", f"the video has {info.frame_count} frames; --start is {args.start}")
            clip = clip_record(info, ref, 0, args.start, count)
            after = args.start + count
            neighbour = after if after + count <= info.frame_count else args.start - count
            group = [clip] + ([clip_record(info, ref, 1, neighbour, count)] if neighbour >= 0 else [])
            made = {}
            with (
                config.reader() as reader,
                contextlib.closing(synthesize_group(group, reader, backend, bases, config)) as events,
            ):
                for event in events:
                    if event.clip.key != clip.key:
                        continue
                    if isinstance(event, Failed):
                        raise event.error
                    if isinstance(event, Made):
                        made[event.sample.label["variant"]] = event.sample
                        if len(made) == 2:
                            break
    except (Rejected, ModelFileError) as exc:
        print(f"kinefake render-preview: {exc}", file=sys.stderr)
        return 1
    real, fake = made[REAL], made[f"{FAKE_PREFIX}0"]
    (real_frames, _), (fake_frames, _) = decode_mp4(real.members[MP4]), decode_mp4(fake.members[MP4])
    panels = comparison_panels(real_frames, fake_frames, decode_npz(fake.members[MASKS])["pixel"])
    write_atomic(args.out, encode_mp4(panels, info.fps))
    label = fake.label["perturbation"]
    print(
        f"wrote {args.out}: {label['operator']} on {label['region']} (partner {label['partner']}), "
        f"params {label['params']}, frames {label['active_frames']}, max {label['max_displacement_iod']:.3f} IOD"
    )
    return 0


def generate(argv: list[str]) -> int:
    import tempfile
    import time

    from pipelines import generate as job
    from pipelines.console import Progress, summary

    if "--help" in argv or "-h" in argv:
        _print_flags("kinefake generate", "Shard input videos and write the corpus; Beam flags pass through.")
        return 0
    quiet = "-q" in argv or "--quiet" in argv
    argv = [a for a in argv if a not in ("-q", "--quiet")]
    start = time.perf_counter()
    remove_stale_progress()
    with tempfile.TemporaryDirectory(prefix=f"{PROGRESS_PREFIX}{os.getpid()}-") as folder:
        try:
            with contextlib.nullcontext() if quiet else Progress(folder):
                manifest = job.run(argv, progress=folder)
        except (OutputConflict, OutputError, Locked, UsageError, ValueError, FileNotFoundError) as exc:
            print(f"kinefake generate: {exc}", file=sys.stderr)
            return 2
    counts = manifest["counts"]
    if not quiet:
        out = job.parse_options(argv)[1].output
        print(summary(manifest, out, time.perf_counter() - start))
    what = "clips_with_landmarks" if manifest["config"]["landmarks_only"] else "samples"
    if not counts[what]:
        print(f"kinefake generate: no {what}: every input was rejected ({counts['rejects']} rejects)", file=sys.stderr)
        return 1
    return 0


def _corpus_job(command: str, run, argv: list[str], refused: tuple[type[Exception], ...] = ()):
    """``run(argv)``, or None after one line on stderr when the flags or the corpus are refused
    (exit 2 for the caller)."""
    from pipelines.corpus import CorpusError
    from pipelines.output import describe_os_error, storage_failure

    try:
        return run(argv)
    except (UsageError, CorpusError, OutputError, *refused) as exc:
        print(f"kinefake {command}: {exc}", file=sys.stderr)
        return None
    except Exception as exc:  # a full disk: an OSError, Beam's BeamIOError, a library's own type (safetensors)
        failure = storage_failure(exc)
        if failure is None:
            raise
        print(f"kinefake {command}: cannot write its output: {describe_os_error(failure)}", file=sys.stderr)
        return None


def validate(argv: list[str]) -> int:
    from pipelines import validate as job

    report = _corpus_job("validate", job.run, argv)
    if report is None:
        return 2
    job.print_report(report)
    return 0 if report["passed"] else 1


def evaluate(argv: list[str]) -> int:
    from pipelines import evaluate as job

    return 2 if _corpus_job("evaluate", job.run, argv) is None else 0


def audit(argv: list[str]) -> int:
    from pipelines import audit as job

    report = _corpus_job("audit", job.run, argv)
    if report is None:
        return 2
    print(
        f"audit of {report['corpus']}: {report['samples']} samples, {report['rejects']} rejects, "
        f"{report['cards']} sample cards in {report['seconds']} s\n  open {report['report']}"
    )
    problems = report["problems"]
    if problems:
        more = f" (and {len(problems) - 1} more on the page)" if len(problems) > 1 else ""
        print(f"kinefake audit: DAMAGED corpus: {problems[0]}{more}", file=sys.stderr)
        return 1
    return 0


def regenerate(argv: list[str]) -> int:
    from pipelines import regenerate as job

    report = _corpus_job("regenerate", job.run, argv, (job.RecordError,))
    if report is None:
        return 2
    verdict = "identical to the stored members" if report["identical"] else f"DIFFERS in {', '.join(report['differ'])}"
    print(f"{report['key']} ({report['shard']}): {verdict}")
    for path in report["written"]:
        print(f"  wrote {path}")
    return 0 if report["identical"] else 1


def main(argv: list[str] | None = None) -> int:
    skip_final_collections()
    silence_libraries()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    try:
        with handle_signals():
            return dispatch(command, rest)
    except (KeyboardInterrupt, Interrupted):
        print(f"kinefake {command}: interrupted; rerun the same command to start over", file=sys.stderr)
        return 128 + (received() or signal.SIGINT)  # the shell's convention: 130 for Ctrl-C, 143 for SIGTERM


def dispatch(command: str, rest: list[str]) -> int:
    """Run one subcommand; its exit code."""
    if command == "generate":
        return generate(rest)
    if command == "landmarks-preview":
        return landmarks_preview(rest)
    if command == "fit-bases":
        return fit_bases(rest)
    if command == "bases-preview":
        return bases_preview(rest)
    if command == "render-preview":
        return render_preview(rest)
    if command == "validate":
        return validate(rest)
    if command == "evaluate":
        return evaluate(rest)
    if command == "audit":
        return audit(rest)
    if command == "regenerate":
        return regenerate(rest)
    print(f"kinefake: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""The preview commands: a person looks at one clip's landmarks, the motion bases, or one fake.

``landmarks-preview``, ``bases-preview`` and ``render-preview`` draw with
:mod:`kinefake.synth.landmarks.overlay`, :mod:`kinefake.synth.bases.arrows` and
:mod:`kinefake.synth.render.panels`; the fake is made by ``generate``'s own path.
"""

from __future__ import annotations

import contextlib
import sys

import cv2
import numpy as np

from kinefake.command import command_parser
from kinefake.corpus.reader import decode_mp4, decode_npz
from kinefake.errors import ModelFileError, Rejected
from kinefake.fs import local_copy, write_atomic
from kinefake.schemas.label import Label
from kinefake.schemas.members import FAKE_PREFIX, MASKS, MP4, REAL
from kinefake.synth.bases.arrows import draw_bases
from kinefake.synth.bases.storage import load_bases
from kinefake.synth.clip_samples import INTERPOLATIONS, SampleConfig
from kinefake.synth.donor_group import Bases, Failed, Made, SynthConfig, synthesize_group
from kinefake.synth.landmarks import GateConfig, extract_landmarks, make_backend
from kinefake.synth.landmarks.extract import check_gates
from kinefake.synth.landmarks.overlay import draw_frame
from kinefake.synth.perturb.policy import PerturbPolicy, operator_names
from kinefake.synth.render.panels import comparison_panels
from kinefake.synth.sharding import clip_record, local_input
from kinefake.synth.video import encode_mp4, probe, read_frames


def landmarks_preview(argv: list[str]) -> int:

    parser = command_parser(
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


def bases_preview(argv: list[str]) -> int:

    parser = command_parser(prog="kinefake bases-preview", description="Draw each basis on the mean face.")
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
    (:func:`kinefake.synth.donor_group.synthesize_group`): the clip and the clip after it (before it at
    the end of the video) form a donor group, as neighbouring clips do in a corpus, so
    ``transplant`` has a donor. The samples are encoded losslessly (``crf`` 0) and decoded
    back, so the |diff| panel shows the edit alone, not the codec."""

    parser = command_parser(
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
                        made[Label.from_json(event.sample.label).variant] = event.sample
                        if len(made) == 2:
                            break
    except (Rejected, ModelFileError) as exc:
        print(f"kinefake render-preview: {exc}", file=sys.stderr)
        return 1
    real, fake = made[REAL], made[f"{FAKE_PREFIX}0"]
    (real_frames, _), (fake_frames, _) = decode_mp4(real.members[MP4]), decode_mp4(fake.members[MP4])
    panels = comparison_panels(real_frames, fake_frames, decode_npz(fake.members[MASKS])["pixel"])
    write_atomic(args.out, encode_mp4(panels, info.fps))
    label = Label.from_json(fake.label).perturbation
    print(
        f"wrote {args.out}: {label.operator} on {label.region} (partner {label.partner}), "
        f"params {label.params.to_json()}, frames {label.active_frames}, max {label.max_displacement_iod:.3f} IOD"
    )
    return 0

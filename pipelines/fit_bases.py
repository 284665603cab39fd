"""``kinefake fit-bases``: train motion bases from landmark tables, or from videos via Beam.

    kinefake fit-bases --landmarks OUT --out bases.safetensors
    kinefake fit-bases --input ../shared/data/faces --out bases.safetensors [generate's flags]

With ``--input`` the shard and landmark stages of ``generate`` run first (DirectRunner or
Dataflow, per the Beam flags) and write their tables under ``--work-dir``; training
itself is small and runs in this process.
"""

from __future__ import annotations

import argparse
import posixpath

import pyarrow as pa

from kinefake.command import command_parser
from kinefake.fs import is_folder, list_files, read_columns, write_atomic
from kinefake.pipelines import generate
from kinefake.pipelines.output import OutputConflict
from kinefake.schemas.layout import table_glob
from kinefake.synth.bases.fit import KINDS, fit_from_table
from kinefake.synth.bases.model import TrainConfig
from kinefake.synth.bases.storage import bases_bytes

LANDMARK_COLUMNS = ["video_id", "clip", "frame", "landmarks68"]


def parser() -> argparse.ArgumentParser:
    p = command_parser(prog="kinefake fit-bases", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--landmarks", action="append", help="A corpus folder, or a glob of landmark Parquet tables; repeatable."
    )
    p.add_argument(
        "--input",
        action="append",
        help="Instead of --landmarks: videos (as generate's --input) whose landmarks are extracted first; "
        "generate's flags and Beam's apply to that step.",
    )
    p.add_argument("--out", required=True, help="Model file to write (.safetensors).")
    p.add_argument("--kind", choices=KINDS, default="autoencoder")
    p.add_argument("--k", type=int, default=TrainConfig.k, help="Number of bases.")
    p.add_argument("--locality", type=float, default=TrainConfig.locality, help="Regional penalty weight.")
    p.add_argument("--orthogonality", type=float, default=TrainConfig.orthogonality, help="Overlap penalty weight.")
    p.add_argument("--steps", type=int, default=TrainConfig.steps, help="Training steps.")
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--held-out-fraction", type=float, default=0.2, help="Share of videos held out for metrics.")
    p.add_argument("--work-dir", help="Where --input's landmark tables go (default: OUT.landmarks).")
    return p


def landmark_tables(spec: str) -> list[str]:
    """The landmark tables ``spec`` names, local or remote: a corpus folder (its
    ``parquet/landmarks/*/*.parquet``), a table file, or a glob of them."""
    tables = list_files(posixpath.join(spec.rstrip("/"), table_glob("landmarks")) if is_folder(spec) else spec)
    if not tables:
        raise ValueError(f"no landmark tables in {spec} (a corpus folder, a Parquet table, or a glob of them)")
    return tables


def read_landmarks(specs: list[str]) -> pa.Table:
    paths = sorted({path for spec in specs for path in landmark_tables(spec)})
    return pa.concat_tables([read_columns(p, LANDMARK_COLUMNS) for p in paths])


def run(argv: list[str]) -> dict:
    """Fit, save, and return the model's info (config, split, data hash, metrics)."""
    args, beam_argv = parser().parse_known_args(argv)
    beam_argv = [*(a for spec in args.input or () for a in ("--input", spec)), *beam_argv]
    patterns = args.landmarks
    if not patterns:
        if "--input" not in beam_argv:
            raise ValueError("give --landmarks TABLES, or --input VIDEOS to extract landmarks first")
        work = args.work_dir or f"{args.out}.landmarks"
        generate.run([*beam_argv, "--output", work, "--overwrite", "--landmarks-only"])
        patterns = [work]
    elif beam_argv:
        raise ValueError(f"unrecognised arguments: {' '.join(beam_argv)}")
    config = TrainConfig(
        k=args.k, locality=args.locality, orthogonality=args.orthogonality, steps=args.steps, seed=args.seed
    )
    bases, info = fit_from_table(read_landmarks(patterns), args.kind, config, args.held_out_fraction)
    write_atomic(args.out, bases_bytes(bases, info))  # local or gs://
    return info


def main(argv: list[str]) -> int:
    """``kinefake fit-bases``: fit, save, and print one line of the model's figures."""
    info = run(argv)
    metrics = info["metrics"]
    print(
        f"{info['kind']} k={info['config']['k']}: {info['train_frames']} training frames from "
        f"{len(info['train_videos'])} videos; held out {info['held_out_frames']} frames from "
        f"{len(info['held_out_videos'])} videos: NME {metrics['held_out_nme_pct_iod']:.2f} % IOD, "
        f"mean locality {metrics['mean_locality']:.2f}"
    )
    return 0


#: Refused in one line besides :data:`kinefake.command.REFUSED`.
REFUSED = (OutputConflict, ValueError)

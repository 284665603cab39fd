"""``kinefake regenerate OUT KEY``: rebuild one sample of a corpus from its source video.

The clip is decoded from its source and its samples are made again with the corpus's
recorded config (``manifest.json``), landmarks (the landmark tables) and transplant donors;
the sample's members are written to ``--out`` and compared byte for byte with the stored
ones. The audit report prints this command on every sample card.
"""

from __future__ import annotations

import argparse
import os
import posixpath
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from kinefake import __version__
from kinefake.command import command_parser
from kinefake.corpus.contents import one_line, read_manifest, read_table, require_intact, shown
from kinefake.errors import CorpusError, ModelFileError, OutputError, Rejected, UsageError, describe_os_error
from kinefake.fs import is_remote, open_source, write_atomic
from kinefake.pipelines.tars import tar_members
from kinefake.schemas import CLIP_SCHEMA, LANDMARK_SCHEMA, ClipRecord, read_clip_landmarks
from kinefake.schemas.layout import corpus_file_kind
from kinefake.schemas.members import SAMPLE_KEY_PATTERN
from kinefake.synth.bases.storage import load_bases
from kinefake.synth.clip_samples import Crops, Sample, SampleConfig, crop_for_samples, make_samples
from kinefake.synth.donor_group import DONOR_GROUP
from kinefake.synth.perturb.motion import ClipMotion
from kinefake.synth.perturb.policy import PerturbPolicy
from kinefake.synth.sharding import assign_groups
from kinefake.synth.video import read_frames


class RecordError(ValueError):
    """A corpus whose recorded config, clips or landmarks cannot rebuild a clip."""


def recorded_bases(config: dict):
    """The motion-bases model a corpus's ``config`` names, and its info: the shipped one, or a
    local model file whose data hash is the one the corpus recorded (a path in a corpus file
    is opened only when it is a regular file).

    Raises:
        RecordError: the config names no model, or a file that is not there, not a regular
            file, not a bases model, or another model than the run's.
    """
    recorded = config.get("bases") if isinstance(config, dict) else None
    path = recorded.get("path") if isinstance(recorded, dict) else None
    if not isinstance(path, str):
        raise RecordError("the manifest's config names no motion-bases model")
    if path == "default":
        return load_bases(None)
    if is_remote(path) or not os.path.isfile(path):
        raise RecordError(f"the run's motion-bases model {path!r} is not a file here")
    try:
        bases, info = load_bases(path)
    except ModelFileError as exc:
        raise RecordError(f"the run's motion-bases model: {exc}") from None
    if info.get("data_sha256") != recorded.get("data_sha256"):
        raise RecordError(f"{path} is another motion-bases model than the one the run used (its data hash differs)")
    return bases, info


def clip_of(key: str) -> str:
    """``{video_id}_{clip:04d}`` of a sample key ``{video_id}_{clip:04d}_{variant}``."""
    return key.rsplit("_", 1)[0]


@dataclass
class RecordedRun:
    """What a corpus recorded of the run that made it: enough to make any clip again.

    ``clips`` and ``landmarks`` by clip key; ``groups`` the clip keys of each clip's donor
    group (as the shard stage cut them); ``bases`` the motion model the run used.
    """

    manifest: dict
    clips: dict[str, ClipRecord]
    landmarks: dict
    groups: dict[str, list[str]]
    bases: object
    bases_info: dict
    policy: PerturbPolicy
    config: SampleConfig

    @classmethod
    def load(cls, out: str, manifest: dict) -> RecordedRun:
        """Read the clips and landmark tables of corpus ``out``.

        Raises:
            RecordError: the manifest's config does not fit this kinefake.
        """
        config = manifest.get("config")
        try:
            per_shard = int(config["clips_per_shard"])
            if per_shard < 1 or not isinstance(config["seed"], int):
                raise ValueError(
                    f"expected clips_per_shard >= 1 and an integer seed, got {per_shard}, {config['seed']!r}"
                )
            policy, sample_config = PerturbPolicy.from_dict(config["policy"]), SampleConfig(**config["samples"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(
                f"the manifest's config does not fit this kinefake {__version__}: {one_line(exc)}"
            ) from None
        clips = {c.key: c for c in (ClipRecord(**r) for r in read_table(out, "clips", CLIP_SCHEMA.names).to_pylist())}
        table = read_table(out, "landmarks", LANDMARK_SCHEMA.names)
        rows_of = defaultdict(list)
        for row, (video, clip) in enumerate(zip(table["video_id"].to_pylist(), table["clip"].to_pylist(), strict=True)):
            rows_of[f"{video}_{clip:04d}"].append(row)
        landmarks = {key: read_clip_landmarks(table.take(rows)) for key, rows in rows_of.items()}
        members = defaultdict(list)
        for key, group in assign_groups(list(clips.values()), per_shard, DONOR_GROUP).items():
            members[group].append(key)
        groups = {key: keys for keys in members.values() for key in keys}
        bases, info = recorded_bases(config)
        bases_info = {"kind": bases.kind, "k": bases.k, "data_sha256": info.get("data_sha256")}
        return cls(manifest, clips, landmarks, groups, bases, bases_info, policy, sample_config)

    def crops(self, clip_key: str) -> Crops:
        """The clip decoded from its source and cropped as the run cropped it.

        Raises:
            Rejected: the source cannot be read (moved, changed, truncated).
        """
        clip = self.clips[clip_key]
        with open_source(clip.uri) as src:
            frames = read_frames(src, clip.start_frame, clip.num_frames, clip.start_pts)
        return crop_for_samples(clip, frames, self.landmarks[clip_key], self.config)

    def motion(self, clip_key: str) -> ClipMotion:
        return ClipMotion.from_points(self.landmarks[clip_key].ibug68, self.bases)

    def donors(self, clip_key: str) -> list[tuple[str, object]]:
        """``(clip key, motion coefficients)`` of the clip's transplant donors, as in the run."""
        return [(k, self.motion(k).coeffs) for k in self.groups[clip_key] if k != clip_key and k in self.landmarks]

    def rate(self, clip_key: str) -> Fraction:
        clip = self.clips[clip_key]
        return Fraction(clip.fps_num, clip.fps_den)

    def samples(self, clip_key: str) -> list[Sample]:
        """Every sample of the clip, made again (the run's ``make_samples`` on the same inputs)."""
        clip, lm = self.clips[clip_key], self.landmarks[clip_key]
        made, _ = make_samples(
            clip,
            self.crops(clip_key),
            lm,
            self.motion(clip_key),
            self.bases_info,
            self.policy,
            self.manifest["config"]["seed"],
            self.config,
            self.donors(clip_key),
        )
        return made


def stored_members(out: str, shard: str, keys: set[str]) -> dict[str, dict[str, bytes]]:
    """The members of the samples ``keys`` in tar ``shard`` (relative to ``out``):
    ``{key: {member name: bytes}}``. The tar is read through its headers (a seek over
    each payload it does not need), not whole."""
    if corpus_file_kind(shard) != "shards":
        raise CorpusError(f"the samples table names shard {shown(shard)}, not a tar name kinefake writes")
    found = defaultdict(dict)
    for key, member, data in tar_members(posixpath.join(out.rstrip("/"), shard), keys.__contains__):
        if data is not None:
            found[key][member] = data
    return dict(found)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = command_parser(prog="kinefake regenerate", description=__doc__.split("\n")[0])
    parser.add_argument("output", help="A finished kinefake corpus (local or gs://).")
    parser.add_argument("key", help="Sample key, {video_id}_{clip:04d}_{variant}.")
    parser.add_argument("--out", default=".", help="Folder for the rebuilt members (default: here).")
    args = parser.parse_args(argv)
    if not SAMPLE_KEY_PATTERN.fullmatch(args.key):
        raise UsageError(f"{args.key!r} is not a sample key ({{video_id}}_{{clip:04d}}_{{variant}})")
    if is_remote(args.out):
        raise UsageError(f"--out: the members are written to a local folder, got {args.out}")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a file, not a folder")
    if not is_remote(args.output):
        corpus, folder = os.path.realpath(args.output), os.path.realpath(args.out)
        if os.path.commonpath([corpus, folder]) == corpus:
            raise UsageError(f"--out {args.out} lies inside the corpus {args.output}: choose a folder outside it")
    return args


def run(argv: list[str]) -> dict:
    """Rebuild one sample; write its members to ``--out``; report whether they equal the stored ones.

    Raises:
        UsageError: a key that is not in the corpus.
        RecordError: a corpus that cannot rebuild the clip, or a source that cannot be read.
    """
    args = parse(argv)
    out = args.output.rstrip("/")
    manifest = read_manifest(out)
    require_intact(out, manifest)
    shard = _shard_of(out, args.key)
    recorded = RecordedRun.load(out, manifest)
    try:
        made = {s.key: s for s in recorded.samples(clip_of(args.key))}
    except Rejected as exc:
        raise RecordError(f"the source cannot be read: {exc.reason}: {exc.detail}") from None
    if args.key not in made:
        raise RecordError(f"{args.key} was not made again: its clip's draws no longer give it")
    stored = stored_members(out, shard, {args.key}).get(args.key, {})
    folder = Path(args.out)
    written, differ = [], []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for member, data in sorted(made[args.key].members.items()):
            path = folder / f"{args.key}.{member}"
            write_atomic(str(path), data)  # never a partial member, also on a full disk
            written.append(str(path))
            if stored.get(member) != data:
                differ.append(member)
    except OSError as exc:
        for path in written:
            Path(path).unlink(missing_ok=True)
        raise OutputError(f"cannot write to {args.out}: {describe_os_error(exc)}; nothing was left there") from None
    return {"key": args.key, "shard": shard, "written": written, "differ": differ, "identical": not differ}


def _shard_of(out: str, key: str) -> str:
    table = read_table(out, "samples", ["key", "shard"]).to_pydict()
    if key not in table["key"]:
        raise UsageError(f"no sample {key!r} in {out}")
    return table["shard"][table["key"].index(key)]


def main(argv: list[str]) -> int:
    """``kinefake regenerate``: whether the rebuilt members equal the stored ones (exit status
    1 when they differ), and what it wrote."""
    report = run(argv)
    verdict = "identical to the stored members" if report["identical"] else f"DIFFERS in {', '.join(report['differ'])}"
    print(f"{report['key']} ({report['shard']}): {verdict}")
    for path in report["written"]:
        print(f"  wrote {path}")
    return 0 if report["identical"] else 1


#: Refused in one line besides :data:`kinefake.command.REFUSED`.
REFUSED = (RecordError,)

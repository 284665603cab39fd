"""``kinefake regenerate OUT KEY``: rebuild one sample of a corpus from its source video.

The clip is decoded from its source and its samples are made again with the corpus's
recorded config (``manifest.json``), landmarks (the landmark tables) and transplant donors;
the sample's members are written to ``--out`` and compared byte for byte with the stored
ones. The audit report prints this command on every sample card.
"""

from __future__ import annotations

import argparse
import posixpath
import tarfile
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipelines.corpus import read_manifest, read_table
from pipelines.fs import open_source
from pipelines.options import UsageError
from schemas import CLIP_SCHEMA, LANDMARK_SCHEMA, ClipRecord, read_clip_landmarks
from schemas.sample import SAMPLE_KEY_PATTERN
from synth import __version__
from synth.bases.io import load_bases
from synth.errors import Rejected
from synth.perturb.motion import ClipMotion
from synth.perturb.policy import PerturbPolicy
from synth.samples import Crops, Sample, SampleConfig, crop_for_samples, make_samples
from synth.shard import assign_groups
from synth.synthesize import DONOR_GROUP
from synth.video import read_frames


class RecordError(ValueError):
    """A corpus whose recorded config, clips or landmarks cannot rebuild a clip."""


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
        config = manifest["config"]
        clips = {c.key: c for c in (ClipRecord(**r) for r in read_table(out, "clips", CLIP_SCHEMA.names).to_pylist())}
        table = read_table(out, "landmarks", LANDMARK_SCHEMA.names)
        rows_of = defaultdict(list)
        for row, (video, clip) in enumerate(zip(table["video_id"].to_pylist(), table["clip"].to_pylist(), strict=True)):
            rows_of[f"{video}_{clip:04d}"].append(row)
        landmarks = {key: read_clip_landmarks(table.take(rows)) for key, rows in rows_of.items()}
        members = defaultdict(list)
        for key, group in assign_groups(list(clips.values()), config["clips_per_shard"], DONOR_GROUP).items():
            members[group].append(key)
        groups = {key: keys for keys in members.values() for key in keys}
        bases, info = load_bases(None if config["bases"]["path"] == "default" else config["bases"]["path"])
        try:
            policy, sample_config = PerturbPolicy.from_dict(config["policy"]), SampleConfig(**config["samples"])
        except (TypeError, ValueError) as exc:
            raise RecordError(f"the manifest's config does not fit this kinefake {__version__}: {exc}") from None
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
    found = defaultdict(dict)
    path = posixpath.join(out.rstrip("/"), shard)
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f, tarfile.open(fileobj=f) as tar:
        for info in tar:
            name, _, member = info.name.partition(".")
            if name in keys and info.isfile():
                found[name][member] = tar.extractfile(info).read()
    return dict(found)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kinefake regenerate", description=__doc__.split("\n")[0])
    parser.add_argument("output", help="A finished kinefake corpus (local or gs://).")
    parser.add_argument("key", help="Sample key, {video_id}_{clip:04d}_{variant}.")
    parser.add_argument("--out", default=".", help="Folder for the rebuilt members (default: here).")
    args = parser.parse_args(argv)
    if not SAMPLE_KEY_PATTERN.fullmatch(args.key):
        raise UsageError(f"{args.key!r} is not a sample key ({{video_id}}_{{clip:04d}}_{{variant}})")
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
    folder.mkdir(parents=True, exist_ok=True)
    written, differ = [], []
    for member, data in sorted(made[args.key].members.items()):
        path = folder / f"{args.key}.{member}"
        path.write_bytes(data)
        written.append(str(path))
        if stored.get(member) != data:
            differ.append(member)
    return {"key": args.key, "shard": shard, "written": written, "differ": differ, "identical": not differ}


def _shard_of(out: str, key: str) -> str:
    table = read_table(out, "samples", ["key", "shard"]).to_pydict()
    if key not in table["key"]:
        raise UsageError(f"no sample {key!r} in {out}")
    return table["shard"][table["key"].index(key)]

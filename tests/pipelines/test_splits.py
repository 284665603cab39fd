"""Splits by source video: a video's clips, samples, rows and shards are in one split only."""

from __future__ import annotations

import json
import shutil
import tarfile
from collections import Counter, defaultdict

import pyarrow.parquet as pq
import pytest
from datasets import load_dataset

from kinefake.cli import main
from kinefake.corpus.audit import run as audit
from kinefake.pipelines.generate import run
from kinefake.pipelines.shard_videos import identify_input
from kinefake.schemas.inputs import InputRecord
from kinefake.synth.sharding import SplitPlan
from tests.conftest import face

VIDEOS = ("spectre__00002", "first-order", "LipNet", "LivePortrait__d3", "LivePortrait__d0", "SadTalker__WDA_Bob")
SPLITS = "train=0.5,val=0.25,test=0.25"


@pytest.fixture(scope="module")
def split_corpus(faces, tmp_path_factory):
    """Six videos through a manifest: one row names ``test``, one a bad split, one video twice
    (the copy under another name with another split); the rest drawn by ``--splits``."""
    root = tmp_path_factory.mktemp("splits")
    (root / "in").mkdir()
    names = []
    for prefix in VIDEOS:
        src = face(faces, prefix)
        shutil.copyfile(src, root / "in" / src.name)
        names.append(src.name)
    shutil.copyfile(root / "in" / names[1], root / "in" / "copy.mp4")  # same content, another name
    rows = [f"in/{names[0]},test", *(f"in/{n}," for n in names[1:]), "in/copy.mp4,val", f"in/{names[0]},Test Set"]
    (root / "videos.csv").write_text("uri,split\n" + "\n".join(rows) + "\n")
    out = root / "out"
    flags = ["--clip-frames", "16", "--max-clips-per-video", "2", "--size", "64", "--splits", SPLITS, "--seed", "4"]
    return root, out, run(["--input", str(root / "videos.csv"), "--output", str(out), *flags])


def test_no_source_video_is_in_two_splits_anywhere(split_corpus):
    _, out, manifest = split_corpus
    where = defaultdict(set)  # video id -> the splits it was found in, by every place that names one
    for table in ("clips", "samples", "landmarks"):
        for path in (out / "parquet" / table).glob("*/*.parquet"):
            rows = pq.read_table(path, columns=["video_id", "split"]).to_pylist()
            assert {r["split"] for r in rows} <= {path.parent.name}  # a split's folder holds its rows only
            for row in rows:
                where[row["video_id"]].add(row["split"])
    for tar_path in (out / "webdataset").glob("*/*.tar"):
        with tarfile.open(tar_path) as tar:
            for member in tar.getmembers():
                if member.name.endswith(".json"):
                    label = json.loads(tar.extractfile(member).read())
                    assert label["source"]["split"] == tar_path.parent.name
                    where[label["source"]["video_id"]].add(tar_path.parent.name)
    assert len(where) == manifest["counts"]["videos"] >= 5
    assert all(len(splits) == 1 for splits in where.values()), dict(where)
    by_split = {split: n["videos"] for split, n in manifest["counts"]["splits"].items()}
    assert by_split == dict(Counter(next(iter(s)) for s in where.values()))


def test_a_manifest_split_is_kept_and_the_others_are_drawn_from_content_and_seed(split_corpus):
    _, out, manifest = split_corpus
    plan = SplitPlan.parse(SPLITS, seed=4)
    assert manifest["config"]["splits"] == {"train": 0.5, "val": 0.25, "test": 0.25}
    given = {"spectre__00002.mp4": "test", "copy.mp4": "val"}  # the manifest's splits
    clips = [c for p in (out / "parquet" / "clips").glob("*/*.parquet") for c in pq.read_table(p).to_pylist()]
    for clip in clips:
        name = clip["uri"].rsplit("/", 1)[1]
        expected = given.get(name) or plan.split_of(identify_input(InputRecord(clip["uri"])))
        assert clip["split"] == expected, name
    assert {c["uri"].rsplit("/", 1)[1] for c in clips} >= set(given)  # the copy's split won over no split
    reasons = pq.read_table(next((out / "rejects").glob("*.parquet"))).to_pylist()
    bad = [r for r in reasons if r["reason"] == "bad split"]
    assert len(bad) == 1 and "'Test Set'" in bad[0]["detail"]
    duplicate = [r for r in reasons if r["reason"] == "duplicate input"]
    assert len(duplicate) == 1  # one of the two names of one video: it keeps one split


def test_huggingface_and_the_audit_see_the_same_splits_as_the_manifest(split_corpus, tmp_path):
    _, out, manifest = split_corpus
    counts = manifest["counts"]["splits"]
    samples = load_dataset(str(out), cache_dir=str(tmp_path))
    assert list(samples) == [s for s in ("train", "val", "test") if s in counts]  # the usual order
    assert {split: ds.num_rows for split, ds in samples.items()} == {s: n["samples"] for s, n in counts.items()}
    for split, ds in samples.items():
        assert set(ds["split"]) == {split}
    summary = audit([str(out), "--out", str(tmp_path / "audit")])
    assert {s: n["samples"] for s, n in summary["splits"].items()} == {s: n["samples"] for s, n in counts.items()}
    assert {s: n["videos"] for s, n in summary["splits"].items()} == {s: n["videos"] for s, n in counts.items()}
    assert "<h3>By split</h3>" in (tmp_path / "audit" / "index.html").read_text()


def test_draws_follow_the_fractions_and_depend_on_content_and_seed_only():
    digests = [f"{i:064x}" for i in range(4000)]
    plan = SplitPlan.parse("train=0.8,val=0.1,test=0.1", seed=0)
    drawn = Counter(plan.split_of(InputRecord("x", digest=d)) for d in digests)
    assert abs(drawn["train"] / 4000 - 0.8) < 0.03 and abs(drawn["test"] / 4000 - 0.1) < 0.02
    other = SplitPlan.parse("train=0.8,val=0.1,test=0.1", seed=1)
    moved = sum(
        plan.split_of(InputRecord("x", digest=d)) != other.split_of(InputRecord("x", digest=d)) for d in digests
    )
    assert moved > 400  # another seed, another draw
    assert plan.split_of(InputRecord("elsewhere", digest=digests[7])) == plan.split_of(
        InputRecord("x", digest=digests[7])
    )
    assert SplitPlan().split_of(InputRecord("x", digest=digests[0])) == "train"
    assert SplitPlan.parse(None).split_of(InputRecord("x", split="holdout", digest=digests[0])) == "holdout"


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("train=0.8,test=0.1", "expected fractions summing to 1, got 0.9"),
        ("train=0.5,train=0.5", "expected each split once"),
        ("Train=1", "expected names like train or val_2, got 'Train'"),
        ("train", "expected name=fraction pairs"),
        ("train=x,test=1", "expected name=fraction pairs"),
        ("train=1.5,test=-0.5", "expected fractions in (0, 1]"),
    ],
)
def test_a_bad_splits_flag_is_refused_in_one_line(faces, tmp_path, capsys, flag, message):
    video = str(face(faces, "first-order"))
    assert main(["generate", "--input", video, "--output", str(tmp_path / "out"), "--splits", flag]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kinefake generate: --splits: ") and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()

"""``kinefake generate`` end to end on DirectRunner: files read back, re-runs, conflicts."""

from __future__ import annotations

import hashlib
import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import webdataset as wds

from pipelines.cli import main
from pipelines.generate import run
from pipelines.output import OutputConflict
from schemas import CLIP_SCHEMA, LANDMARK_SCHEMA, REJECT_SCHEMA, SAMPLE_SCHEMA
from tests.conftest import face
from tests.media import write_noise_video


@pytest.fixture
def inputs(faces, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for prefix in ("spectre__00002", "first-order", "LipNet"):
        src = face(faces, prefix)
        shutil.copyfile(src, folder / src.name)
    write_noise_video(folder / "short.mp4", 5)
    (folder / "README.txt").write_text("not a video, and not picked up from a folder")
    return folder


def read_tables(out, pattern):
    """All shards of one table, e.g. ``parquet/clips-*.parquet``, as one pyarrow table."""
    paths = sorted(out.glob(pattern))
    assert paths, pattern
    return pa.concat_tables([pq.read_table(p) for p in paths])


def test_generate_writes_tables_and_manifest(inputs, tmp_path):
    # Explicit video ids (the default hashes the URI, which moves with pytest's tmp_path), so the
    # perturbations drawn, keyed by video id, are the same on every machine.
    listing = tmp_path / "videos.csv"
    names = sorted(p.name for p in inputs.iterdir() if p.suffix in (".mp4", ".mpg"))
    listing.write_text("uri,video_id\n" + "".join(f"in/{n},{n.split('.')[0][-12:]}\n" for n in names))
    out = tmp_path / "out"
    manifest = run(["--input", str(listing), "--output", str(out), "--max-clips-per-video", "2"])

    clips = read_tables(out, "parquet/clips-*.parquet")
    assert clips.schema.names == CLIP_SCHEMA.names
    by_video = {}
    for row in clips.to_pylist():
        by_video.setdefault(row["uri"].rsplit("/", 1)[1], []).append((row["clip"], row["start_frame"]))
    assert sorted(by_video) == ["LipNet__swiz3n.mpg", "first-order-model__08.mp4", "spectre__00002.mp4"]
    assert sorted(by_video["first-order-model__08.mp4"]) == [(0, 0), (3, 96)]
    assert by_video["spectre__00002.mp4"] == [(0, 0)]

    rejects = read_tables(out, "rejects/*.parquet")
    assert rejects.schema.names == REJECT_SCHEMA.names
    (reject,) = rejects.to_pylist()
    assert reject["uri"].endswith("short.mp4") and reject["reason"] == "too short"

    landmarks = read_tables(out, "parquet/landmarks-*.parquet")
    assert landmarks.schema.names == LANDMARK_SCHEMA.names
    assert landmarks.num_rows == 5 * 32
    assert set(landmarks.column("layout").to_pylist()) == {"mesh478"}
    by_clip = {(r["video_id"], r["clip"]) for r in clips.to_pylist()}
    assert {
        (v, c) for v, c in zip(landmarks["video_id"].to_pylist(), landmarks["clip"].to_pylist(), strict=True)
    } == by_clip

    samples = read_tables(out, "parquet/samples-*.parquet")
    assert samples.schema.names == SAMPLE_SCHEMA.names
    keys = sorted(samples.column("key").to_pylist())
    assert keys == sorted(f"{v}_{c:04d}_{variant}" for v, c in by_clip for variant in ("real", "fake0"))
    tars = sorted(str(p) for p in out.glob("webdataset/*.tar"))
    read = {s["__key__"]: s for s in wds.WebDataset(tars, shardshuffle=False)}
    assert sorted(read) == keys
    for row in samples.to_pylist():
        member = read[row["key"]]
        assert hashlib.sha256(member["mp4"]).hexdigest() == row["mp4_sha256"]
        assert json.loads(member["json"]) == json.loads(row["label_json"])
        assert row["label"] == (row["variant"] != "real") and (row["operator"] is None) == (row["label"] == 0)

    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    fakes_by_operator = manifest["counts"].pop("fakes_by_operator")
    assert manifest["counts"] == {
        "clips": 5,
        "videos": 3,
        "clips_with_landmarks": 5,
        "samples": 10,
        "real_samples": 5,
        "fake_samples": 5,
        "rejects": 1,
        "rejects_by_reason": {"shard: too short": 1},
    }
    assert sum(fakes_by_operator.values()) == 5
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert {s["path"] for s in manifest["shards"]} == on_disk  # every file, hashed where it was written
    for shard in manifest["shards"]:
        data = (out / shard["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"] and len(data) == shard["bytes"]
    assert sum(s.get("samples", 0) for s in manifest["shards"]) == 10


def test_rerun_replaces_and_conflict_is_refused(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--input", str(inputs), "--output", str(out), "--clip-frames", "16"]
    first = run(argv)
    (out / "parquet" / "clips-00000-of-00003.parquet").write_bytes(b"stale shard of an interrupted run")
    second = run(argv)
    assert second["counts"] == first["counts"]
    assert [s["path"] for s in second["shards"]] == [s["path"] for s in first["shards"]]
    tars = [(s["path"], s["sha256"]) for s in first["shards"] if s["path"].endswith(".tar")]
    assert tars and tars == [(s["path"], s["sha256"]) for s in second["shards"] if s["path"].endswith(".tar")]
    assert read_tables(out, "parquet/clips-*.parquet").num_rows == first["counts"]["clips"]

    assert main(["generate", *argv[:-1], "24"]) == 2
    assert "differs in: clip_frames, clip_stride" in capsys.readouterr().err
    with pytest.raises(OutputConflict):
        run([*argv[:-1], "24"])
    assert run([*argv[:-1], "24", "--overwrite"])["config"]["clip_frames"] == 24


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--operators", "decouple,blink"], "--operators: expected names from"),
        (["--min-strength", "0.05", "--max-strength", "0.02"], "--min-strength <= --max-strength"),
        (["--fakes-per-clip", "-1"], "expected fakes >= 0"),
        (["--clips-per-shard", "0"], "--clips-per-shard: expected >= 1"),
        (["--crf", "60"], "expected crf in 0..51"),
    ],
)
def test_bad_sample_flags_are_refused_before_any_work(tmp_path, capsys, flags, message):
    out = tmp_path / "out"
    assert main(["generate", "--input", str(tmp_path), "--output", str(out), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()

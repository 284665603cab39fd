"""``kinefake generate`` end to end on DirectRunner: files read back, re-runs, conflicts."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import resource
import shutil
import tarfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import webdataset as wds
import yaml
from apache_beam.options.pipeline_options import PipelineOptions
from google.protobuf import json_format

from kinefake.cli import main
from kinefake.pipelines import synthesize
from kinefake.pipelines.generate import pipeline_runner, run, runs_locally
from kinefake.pipelines.output import OutputConflict
from kinefake.schemas import CLIP_SCHEMA, LANDMARK_SCHEMA, REJECT_SCHEMA, SAMPLE_SCHEMA
from kinefake.schemas.layout import shard_name
from kinefake.synth.bases.model import LinearBases
from kinefake.synth.bases.storage import load_bases, save_bases
from kinefake.synth.video import probe
from tests.conftest import WORKER_THREADS, face
from tests.media import write_noise_video, write_two_streams, write_variable_rate


def copy_inputs(faces, folder):
    """Three shared clips, a 5-frame noise video (too short) and a text file (not a video)."""
    folder.mkdir()
    for prefix in ("spectre__00002", "first-order", "LipNet"):
        src = face(faces, prefix)
        shutil.copyfile(src, folder / src.name)
    write_noise_video(folder / "short.mp4", 5)
    (folder / "README.txt").write_text("not a video, and not picked up from a folder")
    return folder


@pytest.fixture
def inputs(faces, tmp_path):
    return copy_inputs(faces, tmp_path / "in")


BAD_IDS = ["../../escape", "/abs/id", "john.doe"]


@pytest.fixture(scope="module")
def corpus(faces, tmp_path_factory):
    """One run over the inputs listed in a manifest (ids from content, plus three given ids that
    would escape the output or split a WebDataset key): ``(out, manifest)``."""
    root = tmp_path_factory.mktemp("generate")
    names = sorted(p.name for p in copy_inputs(faces, root / "in").iterdir() if p.suffix in (".mp4", ".mpg"))
    listing = root / "videos.csv"
    listing.write_text(
        "uri,video_id\n" + "".join(f"in/{n},\n" for n in names) + "".join(f"in/{names[0]},{i}\n" for i in BAD_IDS)
    )
    out = root / "out"
    return out, run(["--input", str(listing), "--output", str(out), "--max-clips-per-video", "2"])


def read_tables(out, pattern):
    """All shards of one table, e.g. ``parquet/clips/*.parquet``, as one pyarrow table."""
    paths = sorted(out.glob(pattern))
    assert paths, pattern
    return pa.concat_tables([pq.read_table(p) for p in paths])


def clip_keys(out) -> set[tuple[str, int]]:
    return {(r["video_id"], r["clip"]) for r in read_tables(out, "parquet/clips/*/*.parquet").to_pylist()}


def test_the_clips_table_holds_the_capped_clips_spread_over_each_video(corpus):
    out, _ = corpus
    clips = read_tables(out, "parquet/clips/*/*.parquet")
    assert clips.schema == CLIP_SCHEMA
    by_video = {}
    for row in clips.to_pylist():
        by_video.setdefault(row["uri"].rsplit("/", 1)[1], []).append((row["clip"], row["start_frame"]))
    assert sorted(by_video) == ["LipNet__swiz3n.mpg", "first-order-model__08.mp4", "spectre__00002.mp4"]
    assert sorted(by_video["first-order-model__08.mp4"]) == [(0, 0), (3, 96)]
    assert by_video["spectre__00002.mp4"] == [(0, 0)]


def test_bad_inputs_and_bad_ids_are_rejects_naming_why(corpus):
    out, _ = corpus
    rejects = read_tables(out, "rejects/*.parquet")
    assert rejects.schema == REJECT_SCHEMA
    rows = sorted(rejects.to_pylist(), key=lambda r: r["detail"])
    assert [r["reason"] for r in rows] == ["too short", "bad video_id", "bad video_id", "bad video_id"]
    assert rows[0]["uri"].endswith("short.mp4")
    assert [r["detail"].split()[1] for r in rows[1:]] == [repr(i) for i in BAD_IDS]


def test_the_landmarks_table_has_every_frame_of_every_clip(corpus):
    out, _ = corpus
    landmarks = read_tables(out, "parquet/landmarks/*/*.parquet")
    assert landmarks.schema == LANDMARK_SCHEMA
    assert landmarks.num_rows == 5 * 32
    assert set(landmarks.column("layout").to_pylist()) == {"mesh478"}
    ids = zip(landmarks["video_id"].to_pylist(), landmarks["clip"].to_pylist(), strict=True)
    assert set(ids) == clip_keys(out)


def test_each_samples_row_is_a_tar_sample_with_the_same_bytes_and_label(corpus):
    out, _ = corpus
    samples = read_tables(out, "parquet/samples/*/*.parquet")
    assert samples.schema == SAMPLE_SCHEMA
    keys = sorted(samples.column("key").to_pylist())
    assert keys == sorted(f"{v}_{c:04d}_{variant}" for v, c in clip_keys(out) for variant in ("real", "fake0"))
    tars = sorted(str(p) for p in out.glob("webdataset/*/*.tar"))
    for tar in tars:
        with tarfile.open(tar) as f:
            assert all(re.fullmatch(r"[A-Za-z0-9_-]+\.[a-z0-9.]+", name) for name in f.getnames()), f.getnames()
    read = {s["__key__"]: s for s in wds.WebDataset(tars, shardshuffle=False)}
    assert sorted(read) == keys
    for row in samples.to_pylist():
        member = read[row["key"]]
        assert hashlib.sha256(member["mp4"]).hexdigest() == row["mp4_sha256"]
        assert json.loads(member["json"]) == json.loads(row["label_json"])
        assert row["label"] == (row["variant"] != "real") and (row["operator"] is None) == (row["label"] == 0)


def test_the_manifest_counts_what_was_written(corpus):
    out, manifest = corpus
    assert json.loads((out / "manifest.json").read_text()) == manifest
    counts = dict(manifest["counts"])
    fakes_by_operator = counts.pop("fakes_by_operator")
    train = counts.pop("splits").pop("train")  # no --splits, no split column: every video in train
    assert train.pop("fakes_by_operator") == fakes_by_operator
    assert train == {"videos": 3, "clips": 5, "samples": 10, "real_samples": 5, "fake_samples": 5}
    assert counts == {
        "clips": 5,
        "videos": 3,
        "clips_with_landmarks": 5,
        "input_frames": 5 * 32,
        "samples": 10,
        "real_samples": 5,
        "fake_samples": 5,
        "rejects": 4,
        "rejects_by_reason": {"shard: bad video_id": 3, "shard: too short": 1},
    }
    assert sum(fakes_by_operator.values()) == 5


def test_the_manifest_hashes_every_file_where_it_was_written(corpus):
    out, manifest = corpus
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"manifest.json", "README.md"}
    assert {s["path"] for s in manifest["shards"]} == on_disk
    for shard in manifest["shards"]:
        data = (out / shard["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"] and len(data) == shard["bytes"]
    assert sum(s.get("samples", 0) for s in manifest["shards"]) == 10
    tar_shards = [s for s in manifest["shards"] if s["path"].endswith(".tar")]
    assert [s["path"] for s in tar_shards] == [shard_name("train", i, len(tar_shards)) for i in range(len(tar_shards))]


def test_the_dataset_card_names_the_tables_fields_and_counts(corpus):
    out, _ = corpus
    card = (out / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    samples, *others = front["configs"]
    assert samples == {
        "config_name": "samples",
        "data_files": [{"split": "train", "path": "parquet/samples/train/*.parquet"}],
        "default": True,
    }
    # No tar config: datasets 5 reads every config of a folder with one builder (Parquet here).
    assert [c["config_name"] for c in others] == ["clips", "landmarks", "rejects"]
    assert 'load_dataset("webdataset", data_files=kinefake.corpus.reader.webdataset_files(OUT)' in card
    assert "| `perturbation.params.lag_frames` | int32 | desync: frames late (early if negative) |" in card
    assert "- samples: 10 (5 real, 5 fake" in card


def test_the_dataset_card_is_one_the_hub_reads(corpus):
    """huggingface_hub parses the card; its dataset_info declares what the files hold (features
    datasets reads back, rows per split) and every config loads; the sections a hub card needs
    are there, with this run's settings and counts."""
    import datasets
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCard

    out, _ = corpus
    manifest = json.loads((out / "manifest.json").read_text())
    card = DatasetCard.load(out / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "other" and data["license_name"] and data["license_link"] == "README.md#licensing"
    assert data["task_categories"] == ["video-classification"] and data["size_categories"] == ["n<1K"]
    assert data["annotations_creators"] == ["machine-generated"] and data["source_datasets"] == ["original"]
    assert data["pretty_name"] == "kinefake kinematic pseudo-fake face videos"
    schemas = {"samples": SAMPLE_SCHEMA, "clips": CLIP_SCHEMA, "landmarks": LANDMARK_SCHEMA, "rejects": REJECT_SCHEMA}
    infos = DatasetInfosDict.from_dataset_card_data(card.data)
    assert sorted(infos) == sorted(schemas)
    for name, info in infos.items():
        assert info.features == datasets.Features.from_arrow_schema(schemas[name]), name
        loaded = datasets.load_dataset(str(out), name)
        table = read_tables(out, f"{'rejects' if name == 'rejects' else 'parquet/' + name}/**/*.parquet")
        assert {s: info.splits[s].num_examples for s in info.splits} == {s: len(d) for s, d in loaded.items()}
        assert sum(len(d) for d in loaded.values()) == table.num_rows > 0, name
        assert loaded["train"].features == info.features, name
    text = card.text
    for heading in ("## Uses", "### Direct use", "### Out-of-scope use", "## Dataset structure",
                    "## Dataset creation", "## Personal and sensitive information",
                    "## Bias, risks and limitations", "## Licensing", "## Citation"):  # fmt: skip
        assert f"\n{heading}\n" in text, heading
    c = manifest["counts"]["splits"]["train"]
    operators = sorted(manifest["counts"]["fakes_by_operator"])
    assert f"| split | videos | clips | real | fake | {' | '.join(operators)} |" in text
    by_op = " | ".join(str(c["fakes_by_operator"][o]) for o in operators)
    assert f"| train | {c['videos']} | {c['clips']} | {c['real_samples']} | {c['fake_samples']} | {by_op} |" in text
    assert "| seed | 0 |" in text and "| crops | 256 px, margin 1.3, bilinear |" in text
    assert "**Not measured for this corpus.**" in text and "@misc{kinefake_corpus," in text


def test_rerun_replaces_and_conflict_is_refused(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--input", str(inputs), "--output", str(out), "--clip-frames", "16"]
    first = run(argv)
    (out / "parquet" / "clips" / "train" / "clips-00000-of-00003.parquet").write_bytes(b"stale file of a killed run")
    (out / "parquet" / "samples" / "beam-temp-samples-0f3a").mkdir()  # debris of a killed write
    (out / "webdataset" / "train" / "shard-00000-of-00009.tar.part00002").write_bytes(b"a group's part of a killed run")
    (out / "notes.txt").write_text("the user's own file, outside the folders a run owns")
    second = run(argv)
    assert second["counts"] == first["counts"]
    assert [s["path"] for s in second["shards"]] == [s["path"] for s in first["shards"]]
    tars = [(s["path"], s["sha256"]) for s in first["shards"] if s["path"].endswith(".tar")]
    assert tars and tars == [(s["path"], s["sha256"]) for s in second["shards"] if s["path"].endswith(".tar")]
    assert read_tables(out, "parquet/clips/*/*.parquet").num_rows == first["counts"]["clips"]
    assert not list(out.rglob("beam-temp-*")) and not list(out.rglob("*.part*")) and (out / "notes.txt").exists()

    assert main(["generate", *argv[:-1], "24"]) == 2
    assert "differs in: clip_frames, clip_stride" in capsys.readouterr().err
    with pytest.raises(OutputConflict):
        run([*argv[:-1], "24"])
    assert run([*argv[:-1], "24", "--overwrite"])["config"]["clip_frames"] == 24


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--operators", "decouple,blink"], "--operators: expected names from"),
        (["--min-strength", "0.05", "--max-strength", "0.02"], "min strength <= max strength <= max shift"),
        (["--max-strength", "0.1"], "max strength <= max shift <= 0.2 IOD, got 0.02, 0.1, 0.06"),
        (["--max-shift", "0.3"], "max shift <= 0.2 IOD"),
        (["--min-strength", "nan"], "--min-strength: expected a finite number, got nan"),
        (["--max-jitter", "inf"], "--max-jitter: expected a finite number, got inf"),
        (["--fakes-per-clip", "-1"], "expected fakes >= 0"),
        (["--clips-per-shard", "0"], "--clips-per-shard: expected >= 1"),
        (["--crf", "60"], "expected crf in 0..51"),
        (["--size", "2048"], "expected a crop size of 16 to 1024 px, got 2048"),
        (["--detect-every", "0"], "expected detect_every >= 1"),
        (["--max-lost-frames", "-1"], "max_lost_frames >= 0"),
        (["--compete-ratio", "-0.5"], "expected compete_ratio >= 0"),
        (["--decode-timeout", "0"], "--decode-timeout: expected > 0 seconds"),
        (["--decode-ahead", "-1"], "expected 0 <= decode_threads <= 16 and 0 <= decode_ahead <= 8, got 1, -1"),
        (["--decode-ahead", "500"], "expected 0 <= decode_threads <= 16 and 0 <= decode_ahead <= 8, got 1, 500"),
        (["--decode-threads", "1000"], "expected 0 <= decode_threads <= 16 and 0 <= decode_ahead <= 8, got 1000, 1"),
        (["--sample-threads", "0"], "expected 1 <= sample_threads <= 8, got 0"),
        (["--sample-threads", "300"], "expected 1 <= sample_threads <= 8, got 300"),
        (["--max-clip-per-video", "1"], "unknown flag --max-clip-per-video; did you mean --max-clips-per-video?"),
        (["--detect_every", "3"], "unknown flag --detect_every; did you mean --detect-every?"),
        (["--frobnicate"], "unknown flag --frobnicate"),
        (["--seed", "abc"], "kinefake generate: --seed: invalid int value: 'abc'\n"),  # one line, not Beam's usage
        (["--preset", "warp"], "kinefake generate: --preset: invalid choice: 'warp'"),
        (["--runner", "DirectRuner"], "Unexpected pipeline runner: DirectRuner"),
    ],
)
def test_bad_sample_flags_are_refused_before_any_work(tmp_path, capsys, flags, message):
    out = tmp_path / "out"
    assert main(["generate", "--input", str(tmp_path), "--output", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_a_run_whose_inputs_all_fail_writes_its_rejects_and_exits_non_zero(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    write_noise_video(folder / "short.mp4", 5)
    (folder / "empty.mp4").write_bytes(b"")
    write_variable_rate(folder / "vfr.mp4", [30, 60] * 30 + [1030] + [45] * 20)
    out = tmp_path / "out"
    assert main(["generate", "--input", str(folder), "--output", str(out)]) == 1
    assert "no samples: every input was rejected (3 rejects)" in capsys.readouterr().err
    reasons = sorted(read_tables(out, "rejects/*.parquet").column("reason").to_pylist())
    assert reasons == ["empty file", "too short", "variable frame rate"]


def test_the_default_video_stream_is_used_and_named_in_the_clips_table(faces, tmp_path):
    two = write_two_streams(tmp_path / "two.mp4", face(faces, "first-order"))
    manifest = run(["--input", str(two), "--output", str(tmp_path / "out"), "--max-clips-per-video", "1"])
    clips = read_tables(tmp_path / "out", "parquet/clips/*/*.parquet").to_pylist()
    assert [c["stream"] for c in clips] == [1] and clips[0]["width"] == probe(face(faces, "first-order")).width
    assert manifest["counts"]["samples"] >= 2  # the face was found: the grey stream 0 has none


def test_a_bases_model_with_nan_is_refused_before_any_work(tmp_path, capsys):
    bases, info = load_bases()
    components = bases.components.copy()
    components[2, 5] = np.nan
    model = tmp_path / "nan.safetensors"
    save_bases(LinearBases(bases.kind, bases.mean, components, bases.coeff_std), model, info)
    out = tmp_path / "out"
    assert main(["generate", "--input", str(tmp_path), "--output", str(out), "--bases", str(model)]) == 2
    assert "non-finite values (NaN or inf) in components" in capsys.readouterr().err
    assert not out.exists()


def test_files_kinefake_did_not_write_are_never_deleted(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "parquet").mkdir(parents=True)
    mine = out / "parquet" / "my_features.parquet"
    mine.write_bytes(b"a user's table, in a folder a run writes into")
    assert main(["generate", "--input", str(inputs), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds files kinefake did not write in the folders it writes (parquet/my_features.parquet)" in err
    assert mine.read_bytes().startswith(b"a user's table") and not (out / "manifest.json").exists()
    mine.unlink()
    (out / "README.md").write_text("# My notes about this folder\n")  # not a card kinefake wrote
    assert main(["generate", "--input", str(inputs), "--output", str(out)]) == 2
    assert "(README.md)" in capsys.readouterr().err and (out / "README.md").read_text().startswith("# My notes")


def test_an_output_that_cannot_be_written_is_one_line_before_any_work(inputs, tmp_path, capsys):
    under_a_file = tmp_path / "a_file"
    under_a_file.write_text("not a folder")
    assert main(["generate", "--input", str(inputs), "--output", str(under_a_file / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"kinefake generate: cannot write to {under_a_file / 'out'}: Not a directory")
    assert "\n" not in err and "Traceback" not in err
    read_only = tmp_path / "ro"
    read_only.mkdir(mode=0o555)
    if os.geteuid() != 0:  # root writes through permission bits; the read-only mount case is in the note
        assert main(["generate", "--input", str(inputs), "--output", str(read_only)]) == 2
        assert "cannot write to" in capsys.readouterr().err


def test_a_run_that_hits_a_file_size_limit_says_so_in_one_line_and_leaves_nothing(faces, tmp_path, capsys):
    out = tmp_path / "out"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, hard))  # as `ulimit -f 200` (Python ignores SIGXFSZ)
    try:
        code = main(["generate", "--input", str(face(faces, "spectre__00002")), "--output", str(out), "--size", "512"])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert code == 2
    err = capsys.readouterr().err
    assert f"kinefake generate: writing {out} failed: File too large (file size limit, see ulimit -f)" in err
    assert "Traceback" not in err
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_a_bug_on_a_worker_thread_is_reported_once_with_its_traceback(faces, tmp_path, capsys, caplog, monkeypatch):
    # Beam prints a failed bundle's traceback from the worker thread and logs it, then raises
    # it on the main thread: only the last is left, where a bug keeps its traceback.
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug in the worker")

    monkeypatch.setattr(synthesize, "DonorGroup", broken)
    argv = ["generate", "--input", str(face(faces, "LivePortrait__d0")), "--output", str(tmp_path / "out")]
    with pytest.raises(RuntimeError, match="ZeroDivisionError: a bug in the worker"):
        main([*argv, "--max-clips-per-video", "1", *WORKER_THREADS])
    assert "Traceback" not in capsys.readouterr().err
    assert not [r for r in caplog.records if r.getMessage().startswith("Error processing instruction")]


def test_two_workers_write_the_same_bytes_as_one_process(inputs, tmp_path, caplog):
    # Tables are sorted and their file counts fixed, tars joined from parts in order: every
    # file of a corpus is the same whatever the runner's parallelism.
    caplog.set_level(logging.INFO, logger="apache_beam")
    argv = ["--input", str(inputs), "--max-clips-per-video", "3", "--clips-per-shard", "2", "--fakes-per-clip", "2"]
    one = run([*argv, "--output", str(tmp_path / "one")])
    two = run(
        [
            *argv,
            "--output",
            str(tmp_path / "two"),
            "--direct_running_mode=multi_processing",
            "--direct_num_workers=2",
        ]
    )
    assert one["shards"] == two["shards"] and one["counts"] == two["counts"]
    tars = [s for s in one["shards"] if s["path"].endswith(".tar")]
    assert len(tars) == -(-one["counts"]["clips"] // 2) >= 3  # several shards, each joined from parts
    samples = read_tables(tmp_path / "two", "parquet/samples/*/*.parquet").column("key").to_pylist()
    assert samples == sorted(samples) and len(samples) == 3 * one["counts"]["clips_with_landmarks"]
    assert not list((tmp_path / "two").rglob("*.part*")) and not list((tmp_path / "two").rglob("*.tmp-*"))
    # Both ran on the FnApiRunner the README measures; DirectRunner would first try to
    # download Prism from GitHub (and run on it where the network allows).
    assert not [r.getMessage() for r in caplog.records if "prism" in r.getMessage().lower()]


@pytest.mark.parametrize(
    ("argv", "expected", "local"),
    [
        ([], "FnApiRunner", True),
        (["--runner=DirectRunner"], "FnApiRunner", True),
        (["--runner", "direct"], "FnApiRunner", True),
        (["--runner=apache_beam.runners.direct.direct_runner.DirectRunner"], "FnApiRunner", True),
        (["--runner=FnApiRunner"], "FnApiRunner", True),
        (["--runner=PrismRunner"], None, True),
        (["--runner=DataflowRunner"], None, False),
        (["--runner=dataflow"], None, False),
    ],
)
def test_local_runs_use_the_fn_api_runner_and_hand_it_the_options(argv, expected, local):
    options = PipelineOptions([*argv, "--direct_num_workers=2", "--clip-frames=16"])
    runner = pipeline_runner(options)
    assert (runner and type(runner).__name__) == expected
    assert runs_locally(options) == local  # workers that can report progress through a local folder
    if runner is not None:  # the workers get every option, kinefake's and Beam's
        given = json_format.MessageToDict(runner._provision_info.provision_info.pipeline_options)
        assert (given["beam:option:direct_num_workers:v1"], given["beam:option:clip_frames:v1"]) == ("2", "16")


def test_a_job_on_an_object_store_reads_and_writes_only_through_beam_filesystems(faces, tmp_path):
    # gs:// without a cloud: an in-memory object store under kfmem:// (objects only, no
    # folders), input named as a folder without its trailing slash. Every file of the
    # corpus lands in the store, and the samples equal a local run's but for the source uri.
    from tests.object_store import OBJECTS

    OBJECTS.clear()
    video = face(faces, "LivePortrait__d0")
    OBJECTS["kfmem://bucket/videos/d0.mp4"] = video.read_bytes()
    (tmp_path / "videos").mkdir()
    shutil.copy(video, tmp_path / "videos" / "d0.mp4")
    flags = ["-q", "--max-clips-per-video", "1", "--fakes-per-clip", "1"]
    assert main(["generate", "--input", "kfmem://bucket/videos", "--output", "kfmem://bucket/out", *flags]) == 0
    assert main(["generate", "--input", str(tmp_path / "videos"), "--output", str(tmp_path / "out"), *flags]) == 0
    local = tmp_path / "out"
    written = sorted(
        path.removeprefix("kfmem://bucket/out/") for path in OBJECTS if path.startswith("kfmem://bucket/out/")
    )
    assert written == sorted(str(p.relative_to(local)) for p in local.rglob("*") if p.is_file())
    shard = shard_name("train", 0, 1)
    with (
        tarfile.open(fileobj=io.BytesIO(OBJECTS[f"kfmem://bucket/out/{shard}"])) as remote,
        tarfile.open(local / shard) as here,
    ):
        assert remote.getnames() == here.getnames() and len(here.getnames()) == 8  # 2 samples x 4 members
        for name in here.getnames():
            mine, theirs = here.extractfile(name).read(), remote.extractfile(name).read()
            if name.endswith(".json"):
                mine, theirs = json.loads(mine), json.loads(theirs)
                assert theirs["source"].pop("uri") == "kfmem://bucket/videos/d0.mp4"
                assert mine["source"].pop("uri") == str(tmp_path / "videos" / "d0.mp4")
            assert mine == theirs, name
    OBJECTS.clear()

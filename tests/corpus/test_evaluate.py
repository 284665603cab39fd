"""``kinefake evaluate`` end to end on a small real corpus."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from kinefake.cli import main
from kinefake.corpus.detectors.baselines import load_detectors
from kinefake.corpus.detectors.videos import ClipSettings, video_clip_views
from kinefake.corpus.evaluate import run as evaluate
from kinefake.errors import ModelFileError
from kinefake.synth.bases.storage import load_bases
from kinefake.synth.landmarks import extract_landmarks, make_backend
from kinefake.synth.perturb.motion import ClipMotion
from kinefake.synth.perturb.policy import PerturbPolicy, sample_perturbation
from kinefake.synth.render.clip import render_clip
from kinefake.synth.sharding import ClipPlan, local_input
from kinefake.synth.video import encode_mp4, probe, read_frames
from tests.conftest import face
from tests.corpora import BLEND_FULL, BLUR_2PX, EASY, VIDEOS, make_corpus
from tests.media import write_noise_video


@pytest.fixture(scope="module")
def easy(faces, tmp_path_factory):
    return make_corpus(faces, tmp_path_factory.mktemp("easy"), EASY)


def full_frame_fake(path, out_path):
    """A whole-frame kinematic fake of the first 32 frames of ``path`` (a test video labelled 1)."""
    info = probe(path)
    frames = read_frames(path, 0, 32)
    lm = extract_landmarks(frames, make_backend("mediapipe"), float(info.fps))
    motion = ClipMotion.from_points(lm.ibug68, load_bases()[0])
    fake = sample_perturbation(
        "t_0000_fake0",
        0,
        motion,
        PerturbPolicy(weights={"jitter": 1.0}, strength=(0.1, 0.1), max_shift=0.1, jitter_sigma=0.03),
    )
    rendered = render_clip(frames, lm.ibug68, fake.target, float(info.fps), full_frame=True)
    out_path.write_bytes(encode_mp4(rendered.fake, info.fps))
    return out_path


def test_evaluate_end_to_end_with_test_videos(easy, faces, tmp_path, capsys):
    test_csv = tmp_path / "test.csv"
    fake = full_frame_fake(face(faces, "spectre__M030"), tmp_path / "fake.mp4")
    noise = write_noise_video(tmp_path / "noise.mp4", 40)
    test_csv.write_text(
        "uri,label\n"
        f"{face(faces, 'spectre__M030')},0\n"
        "fake.mp4,1\n"  # relative to the CSV's folder
        "missing.mp4,0\n"
        f"{face(faces, 'LipNet')},2\n"
        f"{noise.name},1\n"
        ",0\n"
    )
    out = tmp_path / "eval"
    report = evaluate(["--train", str(easy), "--out", str(out), "--folds", "4", "--steps", "20", "--window", "64",
                       "--workers", "1",
                       "--test", str(test_csv), "--test-clips", "2"])  # fmt: skip
    assert {p.name for p in out.iterdir()} >= {"report.json", "scores.csv", "models", "rejects.csv", "test_clips.csv",
                                                "test_videos.csv", "test_rejects.csv"}  # fmt: skip
    assert json.loads((out / "report.json").read_text()) == report
    assert report["videos"] == len(VIDEOS) and report["reals"] >= 20 and report["fakes"] >= 20
    # The easy corpus is separated on held-out source videos, clearly above chance, by the kinematic
    # detector: with ~23 reals and ~33 fakes chance gives 0.50 +- 0.08 (sd), and the draws of seeds
    # 5, 6, 7 measured 0.74, 0.80, 0.85 (seed 6 here); 0.70 is 2.5 sd above chance.
    assert report["detectors"]["kinematic"]["overall"]["auroc"] >= 0.70, report["detectors"]["kinematic"]
    with (out / "scores.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == report["samples"]
    # Every detector's reported AUROC and counts are those of the out-of-fold scores it wrote.
    for name in ("kinematic", "kinematic_paired", "pixel", "headpose"):
        scored = [r for r in rows if r[name] != "nan"]
        labels = [int(r["label"]) for r in scored]
        overall = report["detectors"][name]["overall"]
        assert (overall["reals"], overall["fakes"]) == (labels.count(0), labels.count(1)), name
        assert overall["auroc"] == pytest.approx(roc_auc_score(labels, [float(r[name]) for r in scored])), name
    assert {r["fold"] for r in rows} == {"0", "1", "2", "3"}
    assert all(len({r["fold"] for r in rows if r["video_id"] == v}) == 1 for v in {r["video_id"] for r in rows})

    with (out / "test_videos.csv").open() as f:
        videos = {r["uri"].rsplit("/", 1)[-1]: r for r in csv.DictReader(f)}
    assert set(videos) == {"spectre__M030_level_3_angry_016.mp4", "fake.mp4"}
    with (out / "test_rejects.csv").open() as f:
        rejected = {r["row"]: r["reason"] for r in csv.DictReader(f)}
    assert rejected == {"4": "file not found", "5": "bad label", "6": "no usable clip", "7": "empty uri"}
    printed = capsys.readouterr().out
    assert "video AUROC" in printed and "kinematic" in printed

    # The saved models reload and give the scores the run wrote for the test clips.
    detectors, meta = load_detectors(str(out / "models"))
    assert [d.name for d in detectors] == ["kinematic", "kinematic_paired", "pixel", "headpose"]
    assert meta["landmark_backend"] == "mediapipe" and meta["samples"] == report["samples"]
    with (out / "test_clips.csv").open() as f:
        clip_rows = list(csv.DictReader(f))
    uri = str(fake)
    views, _ = video_clip_views(
        uri, local_input(uri), ClipSettings(clips=ClipPlan(max_clips=2)), make_backend("mediapipe")
    )
    expected = [float(r["kinematic"]) for r in clip_rows if r["uri"] == uri]
    np.testing.assert_allclose(detectors[0].score([v for _, v in views]), expected, rtol=1e-9)

    # An altered model file is refused by name.
    (out / "models" / "kinematic" / "classifier.skops").write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match=r"classifier\.skops"):
        load_detectors(str(out / "models"))


def test_same_seed_same_scores(easy, tmp_path):
    # Half the corpus's clips (a seeded draw, itself part of what must repeat) keeps this quick.
    argv = ["--train", str(easy), "--folds", "4", "--detectors", "kinematic,headpose", "--workers", "1",
            "--max-samples", "30"]  # fmt: skip
    evaluate([*argv, "--out", str(tmp_path / "a")])
    evaluate([*argv, "--out", str(tmp_path / "b")])
    assert (tmp_path / "a" / "scores.csv").read_bytes() == (tmp_path / "b" / "scores.csv").read_bytes()


def test_evaluate_refuses_bad_flags_and_folders(easy, tmp_path, capsys):
    assert main(["evaluate", "--train", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "not a kinefake corpus" in capsys.readouterr().err
    assert main(["evaluate", "--train", str(easy), "--out", str(tmp_path / "x"), "--detectors", "svm"]) == 2
    assert "--detectors: expected names from" in capsys.readouterr().err
    assert main(["evaluate", "--train", str(easy), "--out", str(tmp_path / "x"), "--folds", "40"]) == 2
    assert "folds" in capsys.readouterr().err
    weights = ["--init-weights", str(tmp_path / "r2plus1d.pth")]
    assert main(["evaluate", "--train", str(easy), "--out", str(tmp_path / "x"), "--backbone", "small", *weights]) == 2
    assert "--init-weights: expected --backbone r3d_18 or r2plus1d_18" in capsys.readouterr().err
    (tmp_path / "r2plus1d.pth").write_bytes(b"not a checkpoint")
    assert main(["evaluate", "--train", str(easy), "--out", str(tmp_path / "x"), "--backbone", "r3d_18", *weights]) == 2
    assert "--init-weights: cannot load initial weights" in capsys.readouterr().err
    assert main(["evaluate", "--train", str(easy), "--out", str(tmp_path / "x"), "--no-models", "--test", "t.csv"]) == 2
    assert "--no-models" in capsys.readouterr().err
    assert main(["evaluate", "--train", str(easy), "--out", str(tmp_path / "x"), "--seed", "-1"]) == 2
    assert "--seed: expected >= 0, got -1" in capsys.readouterr().err
    assert main(["evaluate", "--train", str(easy), "--out", str(tmp_path / "x"), "--window", "100000"]) == 2
    assert "--window: expected 16 to 1024, got 100000" in capsys.readouterr().err
    # A test CSV without its columns is refused before any work: nothing was written.
    (tmp_path / "bad.csv").write_text("path,is_fake\na.mp4,1\n")
    assert (
        main(["evaluate", "--train", str(easy), "--out", str(tmp_path / "y"), "--test", str(tmp_path / "bad.csv")]) == 2
    )
    assert "--test: expected a CSV with columns uri,label" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()


def test_test_videos_are_checked_before_training_and_never_scored_twice(easy, faces, tmp_path):
    from kinefake.corpus.evaluate import check_test_videos

    held_out = face(faces, "LipNet")  # not a source of the corpus
    (tmp_path / "copy.mp4").write_bytes(held_out.read_bytes())
    (tmp_path / "link.mp4").symlink_to(held_out)
    source = face(faces, VIDEOS[0])  # a source of the training corpus
    (tmp_path / "test.csv").write_text(
        "uri,label\n"
        f"{held_out},1\n"
        "copy.mp4,0\n"  # the same content, another name and label
        f"{tmp_path}/./link.mp4,1\n"
        f"{source},0\n"
        f"{held_out},1,extra\n"  # ragged: a field more than the header
        "short.mp4\n"  # ragged: a field fewer
    )
    kept, rejects = check_test_videos(str(tmp_path / "test.csv"), str(easy))
    assert [(number, ref.uri, label) for number, ref, label in kept] == [(2, str(held_out), 1)]
    reasons = {r["row"]: r["reason"] for r in rejects}
    assert reasons == {3: "duplicate test video", 4: "duplicate test video", 5: "in the training corpus",
                       6: "ragged row", 7: "ragged row"}  # fmt: skip
    details = {r["row"]: r["detail"] for r in rejects}
    assert details[3].startswith("the same content as row 2") and details[6] == "expected 2 fields, got 3"


@pytest.mark.parametrize(
    "flags",
    [
        # Measured 2026-12-05: 0.914 in 85 s (soft-max pooling; 0.84 with a hard max). The same
        # code and corpus (identical pixels) gave 0.863 on 2026-12-06 on another 2-core machine,
        # the same on every run there: float kernels differ between CPUs and 150 steps amplify
        # it. The bar is 0.80, 3 sd above chance, so that it tests the harness, not the CPU.
        pytest.param(BLUR_2PX, id="blur-2px"),
        pytest.param(
            BLEND_FULL,
            id="blend-full-paste",
            marks=[
                pytest.mark.slow,
                pytest.mark.xfail(
                    strict=True,
                    reason="issue 25 item 6 not met yet: 0.52 here on 2026-12-05; 20 videos x 2 clips gave 0.57-0.63 "
                    "(150-600 steps, 1 or 4 fakes a clip, window 128 or the whole crop), 54 videos 0.615 (300 steps) "
                    "and 0.692 (1200): the net fits its training pairs but does not generalise from a few people",
                ),
            ],
        ),
    ],
)
def test_pixel_detector_separates_held_out_videos_of_easy_corpora(faces, tmp_path, flags):
    # 8 videos x 2 clips, a real and a fake each; two folds by source video, so every score is
    # of a video the net never saw. Chance gives 0.50 +- 0.10 (sd) for 16 reals and 16 fakes.
    corpus = make_corpus(faces, tmp_path, flags)
    report = evaluate(["--train", str(corpus), "--out", str(tmp_path / "eval"), "--detectors", "pixel",
                       "--folds", "2", "--steps", "150", "--no-models", "--workers", "2"])  # fmt: skip
    assert report["fakes"] >= 12 and report["reals"] >= 12
    assert report["detectors"]["pixel"]["overall"]["auroc"] >= 0.80, report["detectors"]["pixel"]
    assert not (tmp_path / "eval" / "models").exists()
    curves = report["loss_curves"]["pixel"]
    assert len(curves) == 2 and all(c[-1] < c[0] for c in curves)


def test_evaluate_on_a_full_disk_fails_in_one_line_and_leaves_no_partial_file(easy, tmp_path, capsys):
    import resource

    out = tmp_path / "eval"
    argv = ["evaluate", "--train", str(easy), "--out", str(out), "--detectors", "kinematic", "--folds", "2",
            "--max-samples", "24", "--workers", "1"]  # fmt: skip
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, hard))  # as a full disk: writes beyond 1000 bytes fail
    try:
        code = main(argv)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    err = capsys.readouterr().err
    assert (
        code == 2 and len(err.splitlines()) == 1 and err.startswith("kinefake evaluate: ") and "File too large" in err
    )
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_unreadable_members_are_reject_rows_not_tracebacks(easy, tmp_path):
    import shutil

    from tests.corpora import rewrite_members

    corpus = tmp_path / "corpus"
    shutil.copytree(easy, corpus)
    rewrite_members(corpus, lambda name: name.endswith("_fake0.json"), b"{not json")
    rewrite_members(corpus, lambda name: name.endswith("_0000_fake1.mask.npz"), b"PK\x03\x04 not a zip")
    out = tmp_path / "eval"
    report = evaluate(["--train", str(corpus), "--out", str(out), "--detectors", "kinematic", "--folds", "2",
                       "--workers", "1", "--no-models"])  # fmt: skip
    with (out / "rejects.csv").open() as f:
        reasons = [r["reason"].split(":")[0] for r in csv.DictReader(f)]
    assert "unreadable label" in reasons and "unreadable members" in reasons and report["fakes"] > 0


def test_card_flag_writes_the_corpus_own_figures_into_its_card_and_nothing_else(easy, tmp_path, capsys):
    import hashlib
    import shutil

    from huggingface_hub import DatasetCard

    corpus = tmp_path / "corpus"
    shutil.copytree(easy, corpus)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in corpus.rglob("*") if p.is_file()}
    argv = ["--train", str(corpus), "--detectors", "kinematic", "--folds", "2", "--max-samples", "24",
            "--workers", "1", "--no-models", "--card"]  # fmt: skip
    report = evaluate([*argv, "--out", str(tmp_path / "eval")])
    auroc = report["detectors"]["kinematic"]["overall"]["auroc"]
    limits = DatasetCard.load(corpus / "README.md").text.split("## Bias, risks and limitations")[1]
    assert f"| kinematic | {auroc:.3f} |" in limits and "Not measured" not in limits
    assert f"{report['samples']} samples ({report['reals']} real, {report['fakes']} fake)" in limits
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in corpus.rglob("*") if p.is_file()}
    assert {p for p in after if after[p] != before.get(p)} == {corpus / "README.md"}  # manifest, data untouched
    assert main(["validate", str(corpus), "--max-fakes", "2", "--regenerate", "0"]) == 0
    # A README.md kinefake did not write is refused before any work, and left as it is.
    (corpus / "README.md").write_text("# my notes\n")
    capsys.readouterr()
    assert main(["evaluate", *argv, "--out", str(tmp_path / "again")]) == 2
    assert "is not a dataset card kinefake wrote" in capsys.readouterr().err
    assert (corpus / "README.md").read_text() == "# my notes\n" and not (tmp_path / "again").exists()

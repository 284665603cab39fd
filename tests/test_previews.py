"""The preview commands write files a person can look at, of the expected shape."""

from __future__ import annotations

import ast
import json

import cv2

from kinefake.cli import main
from kinefake.corpus.contents import iter_samples
from kinefake.synth.video import probe, read_frames
from tests.conftest import face


def test_landmarks_preview(faces, tmp_path, capsys):
    out = tmp_path / "lm.mp4"
    assert main(["landmarks-preview", str(face(faces, "first-order")), "--out", str(out), "--frames", "12"]) == 0
    info = probe(out)
    assert (info.frame_count, info.width, info.height) == (12, 256, 256)
    assert "jitter" in capsys.readouterr().out


def test_landmarks_preview_of_a_crowd_says_why(faces, tmp_path, capsys):
    path = str(face(faces, "facenet-pytorch"))
    assert main(["landmarks-preview", path, "--out", str(tmp_path / "x.mp4"), "--frames", "8"]) == 1
    assert "competing faces" in capsys.readouterr().err


def test_render_preview_panels_and_cap(faces, tmp_path, capsys):
    out = tmp_path / "render.mp4"
    args = ["render-preview", str(face(faces, "LivePortrait__d3")), "--out", str(out), "--frames", "24"]
    assert main([*args, "--operator", "desync", "--max-shift", "0.02"]) == 0
    info = probe(out)
    assert (info.frame_count, info.width, info.height) == (24, 1024, 256)
    printed = capsys.readouterr().out
    assert "desync" in printed
    assert float(printed.rsplit("max ", 1)[1].split()[0]) <= 0.02
    frames = read_frames(out, 0, 24)
    overlay = frames[:, 32:, 512:768].astype(int)  # below the caption
    assert (overlay[..., 0] - overlay[..., 1]).max() > 60  # the mask panel shows the edit in red somewhere
    assert main([*args, "--strength", "0.1"]) == 2  # above the default --max-shift 0.06
    assert "max strength <= max shift" in capsys.readouterr().err


def test_render_preview_of_transplant_takes_its_donor_from_the_next_clip(faces, tmp_path, capsys):
    out = tmp_path / "transplant.mp4"
    args = ["render-preview", str(face(faces, "LipNet")), "--out", str(out), "--frames", "16", "--start", "56"]
    assert main([*args, "--operator", "transplant", "--interpolation", "bicubic", "--size", "128"]) == 0
    assert "transplant" in capsys.readouterr().out  # 56 + 16 + 16 > 75 frames: the donor is frames 40-55
    info = probe(out)
    assert (info.frame_count, info.width, info.height) == (16, 4 * 128, 128)


def test_render_preview_draws_what_generate_writes(faces, tmp_path, capsys):
    video = face(faces, "LivePortrait__d3")
    out = tmp_path / "corpus"
    flags = ["--operators", "desync", "--seed", "7", "--crf", "0", "--max-clips-per-video", "1", "-q"]
    assert main(["generate", "--input", str(video), "--output", str(out), *flags]) == 0
    (sample,) = [s for s in iter_samples(str(out)) if s["__key__"].endswith("_0000_fake0")]
    written = json.loads(sample["json"])["perturbation"]
    preview = ["render-preview", str(video), "--out", str(tmp_path / "p.mp4"), "--operator", "desync", "--seed", "7"]
    assert main(preview) == 0
    printed = capsys.readouterr().out
    params, rest = printed.split(" params ", 1)[1].split(", frames ", 1)
    assert ast.literal_eval(params) == written["params"]
    assert f"{written['operator']} on {written['region']} (partner {written['partner']})" in printed
    assert rest.startswith(f"{written['active_frames']}, max {written['max_displacement_iod']:.3f} IOD")


def test_bases_preview(tmp_path):
    out = tmp_path / "bases.png"
    assert main(["bases-preview", "--out", str(out)]) == 0
    image = cv2.imread(str(out))
    assert image.shape[1] == 4 * 240 and image.shape[0] > 4 * 240

"""The preview commands write files a person can look at, of the expected shape."""

from __future__ import annotations

import cv2

from pipelines.cli import main
from synth.video import probe, read_frames
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


def test_render_preview_full_frame_bicubic(faces, tmp_path):
    out = tmp_path / "full.mp4"
    video = face(faces, "LipNet")
    args = ["render-preview", str(video), "--out", str(out), "--frames", "16", "--operator", "decouple"]
    assert main([*args, "--full-frame", "--interpolation", "bicubic"]) == 0
    info, source = probe(out), probe(video)
    assert (info.frame_count, info.width, info.height) == (16, 4 * source.width, source.height)


def test_bases_preview(tmp_path):
    out = tmp_path / "bases.png"
    assert main(["bases-preview", "--out", str(out)]) == 0
    image = cv2.imread(str(out))
    assert image.shape[1] == 4 * 240 and image.shape[0] > 4 * 240

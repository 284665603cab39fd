"""``kinefake validate`` end to end on a small real corpus."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np

from kinefake.cli import main
from kinefake.corpus.reader import decode_mp4, decode_npz
from kinefake.corpus.validate import run as validate
from kinefake.schemas.layout import VALIDATE_PLOT_FILES
from kinefake.synth.video import encode_mp4
from tests.corpora import make_corpus


def tar_names(path):
    with tarfile.open(path) as tar:
        return tar.getnames()


def _rewrite_member(tar_path, key, ext, data):
    """Replace one member of a WebDataset tar, keeping every other member and the order."""
    with tarfile.open(tar_path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(tar_path, "w") as tar:
        for member, payload in members:
            if member.name == f"{key}.{ext}":
                payload = data
                member.size = len(data)
            tar.addfile(member, io.BytesIO(payload))


def test_validate_passes_a_corpus_and_fails_a_corrupted_sample(faces, tmp_path, capsys):
    corpus = make_corpus(faces, tmp_path / "c", ["--operators", "decouple,freeze,blend"])
    report = validate([str(corpus), "--regenerate", "2"])
    assert report["passed"], (report["outside_mask"], report["regenerated"], report["files"])
    assert report["fakes_checked"] >= 10 and not report["files"]["mismatched"]
    regenerated = [r for r in report["regenerated"]["samples"] if r["regenerated"]]
    assert regenerated and all(r["unmoved_changed_before_encoding"] == 0 for r in regenerated)
    assert all(r["fake_mp4_identical"] and r["mask_identical"] for r in regenerated)
    assert report["plots"] == [f"validate/{name}" for name in VALIDATE_PLOT_FILES]  # audit finds them by name
    for plot in report["plots"]:
        assert (corpus / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((corpus / "validate.json").read_text())["passed"]
    kinematic = [r for r in report["fakes"] if r["operator"] != "blend"]
    assert np.median([r["flow_recovered"] for r in kinematic]) > 0.6

    # Brighten a corner of one fake where its mask is 0: the outside-mask check names it.
    corners = [(slice(None, 40), slice(None, 40)), (slice(None, 40), slice(-40, None)),
               (slice(-40, None), slice(None, 40)), (slice(-40, None), slice(-40, None))]  # fmt: skip
    for victim in (r["key"] for r in kinematic):
        tar_path = next(p for p in (corpus / "webdataset").glob("*/*.tar") if f"{victim}.mp4" in tar_names(p))
        with tarfile.open(tar_path) as tar:
            member = tar.extractfile(f"{victim}.mp4").read()
            mask = decode_npz(tar.extractfile(f"{victim}.mask.npz").read())["pixel"]
        corner = next(((rows, cols) for rows, cols in corners if not mask[:, rows, cols].any()), None)
        if corner is not None:
            break
    assert corner is not None, "every fake's mask reaches every corner"
    frames, fps = decode_mp4(member)
    rows, cols = corner
    frames[:, rows, cols] = np.clip(frames[:, rows, cols].astype(np.int16) + 30, 0, 255).astype(np.uint8)
    _rewrite_member(tar_path, victim, "mp4", encode_mp4(frames, fps))
    assert main(["validate", str(corpus), "--regenerate", "0"]) == 1
    printed = capsys.readouterr().out
    assert "FAILED" in printed and victim in printed
    failed = json.loads((corpus / "validate.json").read_text())
    assert failed["outside_mask"]["failed"] == [victim]
    assert failed["files"]["mismatched"] == [str(tar_path.relative_to(corpus))]

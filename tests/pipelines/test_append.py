"""``generate --append``: new videos become new shards; the corpus's files are not rewritten."""

from __future__ import annotations

import hashlib
import shutil

import pyarrow.parquet as pq
import pytest
from datasets import load_dataset

from kinefake.cli import main
from kinefake.corpus.contents import inspect_corpus
from kinefake.pipelines.generate import run
from tests.conftest import face

FLAGS = ["--max-clips-per-video", "2", "--clips-per-shard", "2", "--size", "64", "--clip-frames", "16"]


def copy(faces, folder, names: dict[str, str]):
    folder.mkdir()
    for prefix, name in names.items():
        shutil.copyfile(face(faces, prefix), folder / name)
    return folder


def digests(folder) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def appended(faces, tmp_path_factory):
    """A corpus of three videos, then an append of three more, one of them a copy of the first's."""
    root = tmp_path_factory.mktemp("append")
    first = copy(
        faces, root / "first", {"spectre__00002": "a.mp4", "first-order": "b.mp4", "LivePortrait__d3": "c.mp4"}
    )
    later = copy(
        faces, root / "later", {"LivePortrait__d3": "copy_of_c.mp4", "LivePortrait__d0": "d.mp4", "LipNet": "e.mpg"}
    )
    out = root / "out"
    before = run(["--input", str(first), "--output", str(out), *FLAGS])
    files_before = digests(out)
    after = run(["--input", str(later), "--output", str(out), *FLAGS, "--append"])
    return root, out, before, files_before, after


def test_the_corpus_files_are_kept_byte_for_byte_and_the_new_ones_carry_the_batch(appended):
    _, out, before, files_before, after = appended
    now = digests(out)
    for path, digest in files_before.items():
        if path not in ("manifest.json", "README.md"):
            assert now[path] == digest, path
    new = set(now) - set(files_before)
    assert new and all("-b001-" in path for path in new), sorted(new)
    assert {s["path"] for s in after["shards"]} == set(now) - {"manifest.json", "README.md"}
    assert after["batches"] == [before["config"]["input"], [str(appended[0] / "later")]]
    assert after["config"] == before["config"]
    assert inspect_corpus(str(out), after, deep=True).problems() == []


def test_counts_cover_both_batches_and_a_video_the_corpus_holds_is_a_duplicate(appended):
    _, out, before, _, after = appended
    assert after["counts"]["videos"] == before["counts"]["videos"] + 2
    assert after["counts"]["samples"] > before["counts"]["samples"]
    rejects = [r for p in (out / "rejects").glob("*b001*.parquet") for r in pq.read_table(p).to_pylist()]
    (duplicate,) = [r for r in rejects if r["reason"] == "duplicate input"]
    assert duplicate["uri"].endswith("copy_of_c.mp4") and "c.mp4, already in the corpus" in duplicate["detail"]
    clips = [c for p in (out / "parquet" / "clips").glob("*/*.parquet") for c in pq.read_table(p).to_pylist()]
    assert {c["batch"] for c in clips if c["uri"].endswith(("d.mp4", "e.mpg"))} == {1}
    assert {c["batch"] for c in clips if c["uri"].endswith(("a.mp4", "b.mp4", "c.mp4"))} == {0}
    assert len({c["digest"] for c in clips}) == after["counts"]["videos"]


def test_readers_see_one_corpus_and_an_appended_sample_regenerates_exactly(appended, tmp_path, capsys):
    _, out, _, _, after = appended
    samples = load_dataset(str(out), split="train", cache_dir=str(tmp_path))
    assert samples.num_rows == after["counts"]["samples"] and len(set(samples["key"])) == samples.num_rows
    key = next(
        k for k, shard in zip(samples["key"], samples["shard"], strict=True) if "-b001-" in shard and "fake" in k
    )
    assert main(["regenerate", str(out), key, "--out", str(tmp_path / "again")]) == 0
    assert "identical to the stored members" in capsys.readouterr().out


def test_append_refuses_other_flags_a_missing_corpus_and_a_plain_rerun_that_would_drop_it(appended, tmp_path, capsys):
    root, out, _, _, _ = appended
    later = str(root / "later")
    assert main(["generate", "--input", later, "--output", str(out), *FLAGS, "--append", "--seed", "2"]) == 2
    assert "was made with other settings (differs in: seed)" in capsys.readouterr().err
    assert main(["generate", "--input", later, "--output", str(tmp_path / "none"), *FLAGS, "--append"]) == 2
    assert "holds none; run without --append first" in capsys.readouterr().err
    assert main(["generate", "--input", str(root / "first"), "--output", str(out), *FLAGS]) == 2
    assert "holds 1 --append batch(es) that a re-run from --input alone would drop" in capsys.readouterr().err
    assert main(["generate", "--input", later, "--output", str(out), *FLAGS, "--append", "--overwrite"]) == 2
    assert "pass one of them" in capsys.readouterr().err

"""``kinefake audit`` on corpora of growing size: its time and report size stay bounded.

A real corpus of a few shared videos is generated once, then copied under new video ids
(tars with their members renamed, the samples and rejects tables extended, the manifest's
shard list) until it holds 100, 1,000 and 10,000 samples. The audit's cost should grow
only with the tables' rows (read column by column), not with the media: it reads the
members of its ``--per-operator`` cards only.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kinefake.corpus.audit import run as audit
from kinefake.pipelines.generate import run as generate
from kinefake.schemas.layout import shard_name

SIZES = (100, 1_000, 10_000)
VIDEOS = ("LivePortrait__d0", "first-order", "SadTalker__WDA_A", "spectre__00002")


def replicate(seed_corpus: Path, out: Path, samples: int) -> int:
    """Copy ``seed_corpus`` under new video ids into ``out`` until it holds at least ``samples``."""
    table = pq.read_table(next((seed_corpus / "parquet" / "samples" / "train").glob("*.parquet")))
    tars = sorted((seed_corpus / "webdataset" / "train").glob("*.tar"))
    copies = -(-samples // table.num_rows)
    shutil.copytree(seed_corpus / "rejects", out / "rejects")
    (out / "webdataset" / "train").mkdir(parents=True)
    manifest = json.loads((seed_corpus / "manifest.json").read_text())
    tables, shards = [], []
    for copy in range(copies):
        prefix = f"c{copy:05d}x"
        renamed = {}
        for index, tar_path in enumerate(tars):
            name = shard_name("train", copy * len(tars) + index, copies * len(tars))
            renamed[str(tar_path.relative_to(seed_corpus))] = name
            with tarfile.open(tar_path) as src, tarfile.open(out / name, "w") as dst:
                for member in src:
                    data = src.extractfile(member).read()
                    member.name = prefix + member.name
                    dst.addfile(member, io.BytesIO(data))
            shards.append({"path": name})
        part = table
        for column in ("key", "video_id"):
            part = part.set_column(
                part.schema.get_field_index(column), column, pc.binary_join_element_wise(prefix, part[column], "")
            )
        shard_column = pa.array([renamed[s] for s in part["shard"].to_pylist()])
        tables.append(part.set_column(part.schema.get_field_index("shard"), "shard", shard_column))
    (out / "parquet" / "samples" / "train").mkdir(parents=True)
    pq.write_table(pa.concat_tables(tables), out / "parquet" / "samples" / "train" / "samples-00000-of-00001.parquet")
    manifest["shards"] = shards
    videos = copies * len(set(table["video_id"].to_pylist()))
    manifest["counts"] = {"samples": copies * table.num_rows, "videos": videos}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return copies * table.num_rows


def run(clips: list[Path]) -> None:
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    chosen = [p for p in clips if p.stem.startswith(VIDEOS)] or clips[:4]
    print(f"\nkinefake audit (default --per-operator 4) on corpora copied from a real one of {len(chosen)} videos")
    print(f"  {'samples':>8} {'tars':>6} {'corpus MB':>10} {'cards':>6} {'audit s':>8} {'report MB':>10}")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        listing = root / "videos.csv"
        listing.write_text("uri\n" + "".join(f"{p.resolve()}\n" for p in chosen))
        seed = root / "seed"
        flags = ["--max-clips-per-video", "3", "--fakes-per-clip", "2"]
        generate(["--input", str(listing), "--output", str(seed), *flags])
        for size in SIZES:
            out = root / f"corpus{size}"
            total = replicate(seed, out, size)
            start = time.perf_counter()
            summary = audit([str(out)])
            seconds = time.perf_counter() - start
            report = sum(p.stat().st_size for p in (out / "audit").rglob("*") if p.is_file()) / 1e6
            corpus = sum(p.stat().st_size for p in (out / "webdataset").glob("*/*.tar")) / 1e6
            tars = len(list((out / "webdataset").glob("*/*.tar")))
            print(f"  {total:>8} {tars:>6} {corpus:>10.0f} {summary['cards']:>6} {seconds:>8.1f} {report:>10.1f}")
            shutil.rmtree(out)

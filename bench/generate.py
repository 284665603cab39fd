"""``kinefake generate`` itself on DirectRunner, one process: Beam, probing, tables and manifest included."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from kinefake.fs import read_columns
from kinefake.pipelines.generate import run as generate

CLIPS_PER_VIDEO = 3


def run(clips: list[Path]) -> None:
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "videos.csv"
        listing.write_text("uri\n" + "".join(f"{p.resolve()}\n" for p in clips))
        out = Path(folder) / "out"
        argv = ["--input", str(listing), "--output", str(out), "--max-clips-per-video", str(CLIPS_PER_VIDEO)]
        start = time.perf_counter()
        manifest = generate([*argv, "--clips-per-shard", "8"])
        seconds = time.perf_counter() - start
        # Input frames that became samples: those of every clip with a real sample.
        input_frames = 0
        for path in sorted(out.glob("parquet/samples/*/*.parquet")):
            for row in read_columns(str(path), ["label", "num_frames"]).to_pylist():
                input_frames += row["num_frames"] if row["label"] == 0 else 0
    counts = manifest["counts"]
    print(f"\nkinefake generate, DirectRunner, one process, {CLIPS_PER_VIDEO} clips per shared video (spread), 1 fake")
    print(
        f"  {counts['clips']} clips, {counts['real_samples']} with samples ({counts['samples']} samples), "
        f"{counts['rejects']} rejects; {seconds:.1f} s wall"
    )
    print(f"  {input_frames} input frames in samples: {input_frames / seconds:.1f} input frames/s end to end")

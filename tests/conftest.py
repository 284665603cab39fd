"""Shared fixtures. The real face clips live in ../shared/data/faces (never committed).

When they are absent the tests that need them skip with a message; with
KINEFAKE_REQUIRE_DATA=1 (set by .ci/run) a missing clip fails instead.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "faces"
#: DirectRunner's worker threads of one process: opt-in (docs/commands.md), so tests of that mode pass them.
WORKER_THREADS = ["--direct_running_mode=multi_threading", "--direct_num_workers=2"]


def _data_dir() -> Path:
    return Path(os.environ.get("KINEFAKE_DATA", DEFAULT_DATA))


def _missing(message: str):
    if os.environ.get("KINEFAKE_REQUIRE_DATA") == "1":
        pytest.fail(f"{message} (KINEFAKE_REQUIRE_DATA=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def faces() -> dict[str, Path]:
    """The shared real face clips by file name, as listed in MANIFEST.tsv, all present."""
    root = _data_dir()
    manifest = root / "MANIFEST.tsv"
    if not manifest.exists():
        _missing(f"shared face clips not found at {root} (set KINEFAKE_DATA)")
    with manifest.open(newline="") as f:
        names = [row["file"] for row in csv.DictReader(f, delimiter="\t")]
    paths = {name: root / name for name in names}
    absent = [name for name, path in paths.items() if not path.exists()]
    if absent:
        _missing(f"clips listed in {manifest} are missing: {absent}")
    return paths


@pytest.fixture(scope="session")
def mediapipe_backend():
    """One MediaPipe backend per session (models load once)."""
    from kinefake.synth.landmarks import make_backend

    return make_backend("mediapipe")


@pytest.fixture(scope="session")
def dlib_backend():
    from kinefake.synth.landmarks import make_backend

    return make_backend("dlib")


def face(faces: dict[str, Path], prefix: str) -> Path:
    """The one shared clip whose name starts with ``prefix``."""
    (match,) = [p for name, p in faces.items() if name.startswith(prefix)]
    return match


def local_pipeline():
    """A Beam test pipeline on the runner ``generate`` uses on this machine (the FnApiRunner;
    DirectRunner would first try to download Prism)."""
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.test_pipeline import TestPipeline

    from kinefake.pipelines.generate import pipeline_runner

    options = PipelineOptions([])
    return TestPipeline(runner=pipeline_runner(options), options=options)

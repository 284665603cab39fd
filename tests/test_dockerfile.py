"""The Dataflow worker image installs what pyproject.toml pins."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(
        re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[a-z,]+\])?==(.+)", dep).groups() for dep in project["dependencies"]
    )


def test_the_worker_image_pins_beam_python_and_cpu_torch_as_pyproject_does():
    dockerfile = (ROOT / "Dockerfile").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (beam,) = re.findall(r"^ARG BEAM_VERSION=(\S+)$", dockerfile, re.M)
    assert beam == pins()["apache-beam"]
    assert "FROM apache/beam_python3.11_sdk:${BEAM_VERSION}" in dockerfile
    assert project["requires-python"] == ">=3.11,<3.12"  # the image's Python
    (torch_line,) = [line for line in dockerfile.splitlines() if "torch==" in line and line.startswith("RUN")]
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch_line
    assert re.search(r"torch==(\S+)", torch_line).group(1) == pins()["torch"]
    assert "apache-beam[gcp]==${BEAM_VERSION}" in dockerfile and "gcp" in project["optional-dependencies"]
    assert project["optional-dependencies"]["gcp"] == [f"apache-beam[gcp]=={beam}"]
    assert "pip check" in dockerfile


def test_generate_workers_do_not_import_torch():
    # What a generate worker unpickles and runs; torch (and webdataset, which imports it) stay out.
    import subprocess
    import sys

    code = (
        "import sys, pipelines.cli, pipelines.generate, pipelines.samples, pipelines.tables, synth.synthesize\n"
        "from synth.bases.io import load_bases; load_bases()\n"
        "print(sorted(m for m in ('torch', 'webdataset') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"

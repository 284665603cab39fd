"""The Dataflow worker image installs what pyproject.toml pins."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
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
    code = (
        "import sys, kinefake.cli, kinefake.pipelines.generate, kinefake.pipelines.synthesize\n"
        "import kinefake.pipelines.tables, kinefake.synth.donor_group\n"
        "from kinefake.synth.bases.storage import load_bases; load_bases()\n"
        "print(sorted(m for m in ('torch', 'webdataset') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"


def test_the_wheel_the_image_installs_holds_every_file_of_the_packages(tmp_path):
    # Dataflow workers run what the wheel holds: a model file left out of package-data would
    # only fail there. Built from a copy of the tracked files, so the checkout gains no build/.
    listed = subprocess.run(["git", "ls-files", "-z"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    tracked = [name for name in listed.split("\0") if name]
    source = tmp_path / "src"
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path)]
    subprocess.run([*command, str(source)], capture_output=True, check=True)
    (wheel,) = tmp_path.glob("kinefake-*.whl")
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in n}
    assert {n.split("/")[0] for n in shipped} == {"kinefake"}  # one import name, nothing else at the top
    folders = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    expected = {
        f"{package.replace('.', '/')}/{name.removeprefix(folder + '/')}"
        for package, folder in folders.items()
        for name in tracked
        if name.startswith(folder + "/") and "/tests/" not in name
    }
    assert shipped == expected  # every tracked file of every package folder, models included
    assert "kinefake/synth/models/bases_default.safetensors" in shipped

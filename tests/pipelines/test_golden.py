"""The bytes a run writes, pinned: a change that alters any file of a corpus fails here.

A refactoring must leave every file identical. A deliberate change of output (a new field,
a better encoder setting) rewrites the digests with ``KINEFAKE_WRITE_GOLDEN=1 pytest
tests/pipelines/test_golden.py`` and says why in its commit. The inputs come from the
in-memory object store, so their recorded URIs (``kfmem://golden/...``) are the same on every
machine and in every temporary folder.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import face

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "corpus.sha256"
CLIPS = ("LivePortrait__d0", "first-order-model__08", "Talking-Face_PC-AVS__741400163")


def digests(root: Path) -> str:
    """``sha256  relative/path`` for every file under ``root``, sorted by path; the audit page
    names the folder it describes, so ``root`` itself is read as ``OUT``."""
    lines = [
        f"{hashlib.sha256(path.read_bytes().replace(str(root).encode(), b'OUT')).hexdigest()}  {path.relative_to(root)}"
        for path in sorted(root.rglob("*"))
        if path.is_file()
    ]
    return "\n".join(lines) + "\n"


#: Run in a fresh interpreter, as ``make demo`` runs: no state of earlier tests in this worker.
JOB = """
import sys
from tests.object_store import OBJECTS
from kinefake.cli import main
out, *clips = sys.argv[1:]
for clip in clips:
    with open(clip, "rb") as f:
        OBJECTS["kfmem://golden/" + clip.rsplit("/", 1)[-1]] = f.read()
flags = ["-q", "--max-clips-per-video", "1"]
assert main(["generate", "--input", "kfmem://golden", "--output", out, *flags]) == 0
assert main(["audit", out]) == 0
"""


def test_generate_and_audit_write_the_pinned_bytes(faces, tmp_path):
    out = tmp_path / "out"
    clips = [str(face(faces, name)) for name in CLIPS]
    root = GOLDEN.parent.parent.parent
    subprocess.run([sys.executable, "-c", JOB, str(out), *clips], cwd=root, check=True, capture_output=True)
    written = digests(out)
    if os.environ.get("KINEFAKE_WRITE_GOLDEN") == "1":
        GOLDEN.write_text(written)
    expected = GOLDEN.read_text()
    assert written.count("\n") > 20  # tables, tars, card, manifest, audit page and its assets
    assert written == expected, f"corpus bytes changed; the new digests:\n{written}"

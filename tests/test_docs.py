"""The README is a front page, its links land, and docs/output.md is the schemas' contract."""

from __future__ import annotations

import re
from pathlib import Path

from kinefake.pipelines.card import CONTRACT_MARKER, contract_document

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "RESULTS.md"]


def test_the_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 250, len(lines)
    headings = [line for line in lines if line.startswith("## ")]
    for needed in ("## Two commands", "## Your own videos", "## Training on it", "## Dataflow", "## What the"):
        assert any(h.startswith(needed) for h in headings), (needed, headings)


def test_every_relative_link_of_the_docs_lands_on_a_file():
    checked = 0
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" in target or target.startswith("../shared/"):
                continue
            assert (doc.parent / target).exists(), (doc.relative_to(ROOT), target)
            checked += 1
    assert checked >= 10, checked


def test_docs_output_holds_the_contract_the_schemas_give_today():
    text = (ROOT / "docs" / "output.md").read_text()
    assert CONTRACT_MARKER in text
    assert text == contract_document(text), "docs/output.md is stale: run make docs"
    assert "| `perturbation.params.lag_frames` | int32 |" in text  # a nested label field is listed

"""The dataset card ``OUT/README.md``: HuggingFace ``configs``, what each table and member holds.

Written with the manifest, from the schemas (field names, types and the descriptions with
their units), so it cannot drift from what the run wrote. The sources' licences are left
for the user to fill in: kinefake cannot know them.
"""

from __future__ import annotations

import pyarrow as pa
import yaml

from kinefake.schemas import CLIP_SCHEMA, LANDMARK_SCHEMA, REJECT_SCHEMA, SAMPLE_SCHEMA
from kinefake.schemas.common import description
from kinefake.schemas.inputs import DEFAULT_SPLIT, split_order
from kinefake.schemas.layout import SPLIT_TABLES, TABLE_FOLDERS, table_glob
from kinefake.schemas.members import LABEL_TYPE, MASK_ARRAYS, MEMBERS

#: First line of the body: marks a card kinefake wrote (and may replace on a re-run).
MARKER = "<!-- written by kinefake with manifest.json; a re-run replaces this file -->"
TABLES = {"samples": SAMPLE_SCHEMA, "clips": CLIP_SCHEMA, "landmarks": LANDMARK_SCHEMA, "rejects": REJECT_SCHEMA}


def _columns(fields, prefix: str = "") -> list[str]:
    rows = []
    for field in fields:
        rows.append(f"| `{prefix}{field.name}` | {field.type} | {description(field)} |")
        if pa.types.is_struct(field.type):
            rows += _columns(field.type, f"{prefix}{field.name}.")
    return rows


def contract_sections() -> list[str]:
    """The output contract as Markdown lines, from the schemas: the members of a WebDataset
    sample, the ``mask.npz`` arrays, the ``json`` label's fields and every table's columns,
    each with its type and meaning. The dataset card ends with them and ``docs/output.md``
    holds them after :data:`CONTRACT_MARKER` (``make docs`` rewrites that part)."""
    lines = [
        "## Members of a WebDataset sample",
        "",
        "| member | encoding |",
        "|---|---|",
        *[f"| `{name}` | {text} |" for name, text in MEMBERS.items()],
        "",
        "| `mask.npz` array | dtype | shape | meaning |",
        "|---|---|---|---|",
        *[f"| `{name}` | {d} | {s} | {text} |" for name, (d, s, text) in MASK_ARRAYS.items()],
        "",
        "## The `json` label",
        "",
        "| field | type | meaning |",
        "|---|---|---|",
        *_columns(LABEL_TYPE),
    ]
    for name, schema in TABLES.items():
        lines += ["", f"## Table `{name}` ({TABLE_FOLDERS[name]}/)", "", "| column | type | meaning |", "|---|---|---|"]
        lines += _columns(schema)
    return lines


def configs(splits: list[str]) -> list[dict]:
    """The card's HuggingFace ``configs``: one per table (``samples`` the default), each split
    of the corpus a data-files entry of its own (the tables without splits, rejects and files,
    in :data:`~kinefake.schemas.inputs.DEFAULT_SPLIT`).

    None for the WebDataset shards: ``datasets`` 5 infers one builder for a whole repository
    from its files, so a tar config beside Parquet ones was read as Parquet and failed
    (``ArrowInvalid: Parquet magic bytes not found``). The card and README give the
    ``load_dataset("webdataset", ...)`` call instead (:func:`kinefake.corpus.reader.webdataset_files`)."""
    splits = sorted(splits, key=split_order)
    found = splits or [DEFAULT_SPLIT]
    out = []
    for name in TABLES:
        paths = {s: table_glob(name, s) for s in found} if name in SPLIT_TABLES else {DEFAULT_SPLIT: table_glob(name)}
        out.append({"config_name": name, "data_files": [{"split": s, "path": p} for s, p in paths.items()]})
    out[0]["default"] = True
    return out


def dataset_card(manifest: dict) -> str:
    """The card's text for a finished run's ``manifest``."""
    counts = manifest["counts"]
    operators = ", ".join(f"{k} {v}" for k, v in counts["fakes_by_operator"].items()) or "none"
    lines = [
        "---",
        yaml.safe_dump({"configs": configs(counts["splits"])}, sort_keys=False).rstrip(),
        "license: other  # the licences of the source videos: fill in",
        "tags:",
        "- deepfake-detection",
        "- video",
        "---",
        MARKER,
        "",
        "# kinefake corpus",
        "",
        f"Real face clips and kinematic pseudo-fakes written by kinefake {manifest['version']} "
        f"(schema {manifest['schema_version']}); `manifest.json` lists every file with its SHA-256.",
        "",
        f"- samples: {counts['samples']} ({counts['real_samples']} real, {counts['fake_samples']} fake: {operators})",
        f"- clips: {counts['clips']} from {counts['videos']} videos; rejects: {counts['rejects']}",
        "- source licences: **fill in** (the sources' own terms apply to every clip)",
        "",
        "Load: `datasets.load_dataset(OUT)` (the samples table, one split per corpus split), "
        "`pyarrow.dataset.dataset(OUT/parquet/samples)`; the samples themselves with "
        '`datasets.load_dataset("webdataset", data_files=kinefake.corpus.reader.webdataset_files(OUT), '
        f"features=kinefake.corpus.reader.huggingface_features({manifest['config']['samples']['size']}), "
        "streaming=True)` (no cache), or in torch with `kinefake.corpus.reader.training_batches`.",
        "",
        *contract_sections(),
    ]
    return "\n".join(lines) + "\n"


#: In ``docs/output.md``: what follows this line is :func:`contract_sections`, rewritten by ``make docs``.
CONTRACT_MARKER = "<!-- generated from kinefake.schemas by `make docs`: edit the schemas, not below -->"


def contract_document(text: str) -> str:
    """``text`` (a document holding :data:`CONTRACT_MARKER`) with what follows the marker
    replaced by the contract the schemas give today.

    Raises:
        ValueError: the document has no marker line.
    """
    head, marker, _ = text.partition(CONTRACT_MARKER)
    if not marker:
        raise ValueError(f"expected a line {CONTRACT_MARKER!r}, found none")
    return head + CONTRACT_MARKER + "\n\n" + "\n".join(contract_sections()) + "\n"


def is_kinefake_card(text: str) -> bool:
    """Whether a ``README.md`` found in an output folder is a card kinefake wrote."""
    return MARKER in text

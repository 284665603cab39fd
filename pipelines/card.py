"""The dataset card ``OUT/README.md``: a HuggingFace dataset card for the corpus.

Its YAML (``huggingface_hub``'s :class:`~huggingface_hub.DatasetCardData`) declares the
``configs`` (one per table, one data-files entry per split), the ``dataset_info`` of each
(features from the schemas, rows per split from the manifest) and the hub's descriptive
fields; its body says what the corpus is, how it was made (the manifest's settings), what
it is for and not for, what it holds about people, its limits (with the corpus's own
learnability when ``kinefake evaluate --card`` measured it) and how to cite it, and ends
with the output contract from the schemas, so it cannot drift from what the run wrote.
The sources' licences are the user's to state: kinefake cannot know them.
"""

from __future__ import annotations

import fnmatch
import re

import pyarrow as pa
from huggingface_hub import DatasetCard, DatasetCardData

from kinefake.schemas import CLIP_SCHEMA, LANDMARK_SCHEMA, REJECT_SCHEMA, SAMPLE_SCHEMA
from kinefake.schemas.common import description
from kinefake.schemas.inputs import DEFAULT_SPLIT, split_order
from kinefake.schemas.layout import SPLIT_TABLES, TABLE_FOLDERS, table_glob
from kinefake.schemas.members import LABEL_TYPE, MASK_ARRAYS, MEMBERS

#: First line of the body: marks a card kinefake wrote (and may replace on a re-run).
MARKER = "<!-- written by kinefake with manifest.json; a re-run replaces this file -->"
TABLES = {"samples": SAMPLE_SCHEMA, "clips": CLIP_SCHEMA, "landmarks": LANDMARK_SCHEMA, "rejects": REJECT_SCHEMA}
#: The hub's ``size_categories``: (upper bound of the samples, name).
SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)
#: The licence fields: the sources' terms, stated in the card's Licensing section.
LICENSE = {"license": "other", "license_name": "source-videos", "license_link": "README.md#licensing"}
#: The project's own learnability figures (docs/learnability.md), for a corpus not yet evaluated.
PROJECT_LEARNABILITY = (
    "In kinefake's own study (docs/learnability.md, 2026-12-05: 60 source identities, 5 folds by "
    "source video, three detectors trained here) no detector separated the kinematic fakes of a "
    "default corpus from the reals better than chance (by-video AUROC 0.50 to 0.51, mean of "
    "three seeds) and no family scored above 0.71; the same harness found a 1-grey-level flicker "
    "(0.99) but barely a blur of sigma 0.5 to 1 px (0.54 to 0.65). Treat these pseudo-fakes as a "
    "hypothesis to test with your own detector, not as a proven training signal."
)


def _type_name(kind: pa.DataType) -> str:
    """A column's type for the tables: a struct's fields have rows of their own."""
    if pa.types.is_struct(kind):
        return "struct"
    if pa.types.is_list(kind) and pa.types.is_struct(kind.value_type):
        return "list<struct<" + ", ".join(f"{f.name}: {f.type}" for f in kind.value_type) + ">>"
    return str(kind)


def _columns(fields, prefix: str = "") -> list[str]:
    rows = []
    for field in fields:
        rows.append(f"| `{prefix}{field.name}` | {_type_name(field.type)} | {description(field)} |")
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


def table_splits(manifest: dict) -> dict[str, dict[str, list[dict]]]:
    """Table name -> split -> the manifest's records of its files holding rows: the
    tables without splits (rejects) in :data:`~kinefake.schemas.inputs.DEFAULT_SPLIT`."""
    splits = sorted(manifest["counts"]["splits"], key=split_order) or [DEFAULT_SPLIT]
    out: dict[str, dict[str, list[dict]]] = {}
    for name in TABLES:
        globs = {s: table_glob(name, s) for s in splits} if name in SPLIT_TABLES else {DEFAULT_SPLIT: table_glob(name)}
        for split, pattern in globs.items():
            files = [f for f in manifest["shards"] if fnmatch.fnmatch(f["path"], pattern)]
            if any(f.get("rows") for f in files):
                out.setdefault(name, {})[split] = files
    return out


def configs(manifest: dict) -> list[dict]:
    """The card's HuggingFace ``configs``: one per table (``samples`` the default), each split
    of the corpus a data-files entry of its own. A table or split without rows is left out:
    ``datasets`` refuses to load one (``Instruction "train" corresponds to no data``), and a
    corpus without rejects has an empty ``rejects`` table.

    None for the WebDataset shards: ``datasets`` 5 infers one builder for a whole repository
    from its files, so a tar config beside Parquet ones was read as Parquet and failed
    (``ArrowInvalid: Parquet magic bytes not found``). The card and README give the
    ``load_dataset("webdataset", ...)`` call instead (:func:`kinefake.corpus.reader.webdataset_files`)."""
    out = [
        {"config_name": name, "data_files": [{"split": s, "path": table_glob(name, s)} for s in splits]}
        if name in SPLIT_TABLES
        else {"config_name": name, "data_files": [{"split": DEFAULT_SPLIT, "path": table_glob(name)}]}
        for name, splits in table_splits(manifest).items()
    ]
    if out:
        out[0]["default"] = True
    return out


def size_category(samples: int) -> str:
    """The hub's ``size_categories`` value for a corpus of ``samples`` samples."""
    for bound, name in SIZE_CATEGORIES:
        if samples < bound:
            return name
    return "n>1T"


def _feature(kind: pa.DataType) -> dict:
    """One field's HuggingFace feature, as the card's YAML spells it (``dtype``, ``list`` with
    a ``length`` when fixed, ``struct``)."""
    if pa.types.is_struct(kind):
        return {"struct": features(kind)}
    if pa.types.is_fixed_size_list(kind) or pa.types.is_list(kind):
        inner = _feature(kind.value_type)
        item = inner["dtype"] if list(inner) == ["dtype"] else inner
        return {"list": item, "length": kind.list_size} if pa.types.is_fixed_size_list(kind) else {"list": item}
    names = {pa.float32(): "float32", pa.float64(): "float64", pa.float16(): "float16"}
    return {"dtype": names.get(kind, str(kind))}


def features(fields) -> list[dict]:
    """``dataset_info.features`` of a schema (or a struct type's fields): the form
    ``datasets.Features`` reads back to the types the Parquet files hold."""
    return [{"name": field.name, **_feature(field.type)} for field in fields]


def dataset_info(manifest: dict) -> list[dict]:
    """Per config (table): its features and, per split, the rows of its files, and their bytes
    (from the manifest's file list, so what the card declares is what was written)."""
    return [
        {
            "config_name": name,
            "features": features(TABLES[name]),
            "splits": [{"name": s, "num_examples": sum(f["rows"] for f in files)} for s, files in splits.items()],
            "download_size": sum(f["bytes"] for files in splits.values() for f in files),
        }
        for name, splits in table_splits(manifest).items()
    ]


def card_data(manifest: dict) -> DatasetCardData:
    """The card's YAML for a finished run's ``manifest``."""
    counts = manifest["counts"]
    return DatasetCardData(
        pretty_name="kinefake kinematic pseudo-fake face videos",
        license=LICENSE["license"],
        license_name=LICENSE["license_name"],
        license_link=LICENSE["license_link"],
        annotations_creators=["machine-generated"],
        source_datasets=["original"],
        size_categories=[size_category(counts["samples"])],
        task_categories=["video-classification"],
        tags=["deepfake-detection", "video", "faces", "synthetic"],
        configs=configs(manifest),
        dataset_info=dataset_info(manifest),
    )


def _fmt(value) -> str:
    return "n/a" if value is None or value != value else f"{value:.3f}"


def _cell(text: str) -> str:
    """``text`` (a user's path) for a table cell: its pipes escaped (GitHub's tables split
    on them, even inside code)."""
    return text.replace("|", "\\|")


def _code_cell(text: str) -> str:
    """``text`` (a user's path or glob) as a code span that a table cell keeps whole, its
    fence one backtick longer than the longest run of backticks in it."""
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text[:1] == "`" or text[-1:] == "`" else ""
    return fence + pad + _cell(text) + pad + fence


def _settings(manifest: dict) -> list[str]:
    """How the corpus was made: the settings that decide the samples, from the manifest."""
    c = manifest["config"]
    policy, samples = c["policy"], c["samples"]
    weights = ", ".join(f"{k} {v:g}" for k, v in policy["weights"].items() if v) or "none"
    splits = (
        ", ".join(f"{k} {v:g}" for k, v in (c.get("splits") or {}).items()) or "from the input manifest, else train"
    )
    inputs = "; ".join(", ".join(map(_code_cell, batch)) for batch in manifest["batches"])
    rows = [
        ("kinefake", f"{manifest['version']} (schema {manifest['schema_version']})"),
        ("inputs (per batch)", inputs),
        ("seed", c["seed"]),
        ("clips", f"{c['clip_frames']} frames every {c['clip_stride']}, at most {c['max_clips_per_video']} per video"),
        ("splits", splits),
        ("landmarks", f"{c['landmark_backend']}, detector every {c['track']['detect_every']} frames"),
        ("gates", ", ".join(f"{k} {v:g}" for k, v in c["gates"].items())),
        ("crops", f"{samples['size']} px, margin {samples['margin']:g}, {samples['interpolation']}"),
        ("encoding", f"libx264 {samples['preset']}, crf {samples['crf']}"),
        ("fakes per clip", samples["fakes"]),
        ("operator weights", weights),
        ("strength", f"{policy['strength'][0]:g} to {policy['strength'][1]:g} IOD"),
        ("motion bases", f"{c['bases']['kind']}, k {c['bases']['k']}, {_cell(c['bases']['path'])}"),
    ]
    return [
        "| setting | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in rows],
        "",
        "Every setting is in `manifest.json` (`config`); "
        "`kinefake generate --config manifest.json --output NEW` runs with them again "
        "(same inputs, same seed: the same samples).",
    ]


def _counts(manifest: dict) -> list[str]:
    counts = manifest["counts"]
    splits = sorted(counts["splits"], key=split_order)
    operators = sorted(counts["fakes_by_operator"])
    lines = ["| split | videos | clips | real | fake |" + "".join(f" {o} |" for o in operators)]
    lines.append("|---|---|---|---|---|" + "---|" * len(operators))
    for name in splits:
        s = counts["splits"][name]
        by_op = "".join(f" {s['fakes_by_operator'].get(o, 0)} |" for o in operators)
        lines.append(f"| {name} | {s['videos']} | {s['clips']} | {s['real_samples']} | {s['fake_samples']} |{by_op}")
    return lines


def _learnability(evaluation: dict | None) -> list[str]:
    """The limits section's figures: the corpus's own (an ``evaluate`` report) or the project's."""
    if evaluation is None:
        return [
            "**Not measured for this corpus.** `kinefake evaluate --train OUT --out DIR --card` trains "
            "detectors on held-out folds by source video and writes the figures here.",
            "",
            PROJECT_LEARNABILITY,
        ]
    detectors = evaluation["detectors"]
    operators = sorted({o for table in detectors.values() for o in table["by_operator"]})
    lines = [
        f"Measured by `kinefake evaluate` on this corpus: {evaluation['samples']} samples "
        f"({evaluation['reals']} real, {evaluation['fakes']} fake) from {evaluation['videos']} source videos, "
        f"{evaluation['folds']} folds by source video, seed {evaluation['seed']}; AUROC of the held-out folds "
        "(0.5 is chance; each operator's fakes against all reals):",
        "",
        f"| detector | all fakes | {' | '.join(operators)} |",
        "|---|---|" + "---|" * len(operators),
    ]
    for name, table in detectors.items():
        cells = " | ".join(_fmt(table["by_operator"].get(o, {}).get("auroc")) for o in operators)
        lines.append(f"| {name} | {_fmt(table['overall']['auroc'])} | {cells} |")
    return [*lines, "", PROJECT_LEARNABILITY]


def card_body(manifest: dict, evaluation: dict | None = None) -> list[str]:
    """The card's Markdown below the YAML."""
    counts = manifest["counts"]
    size = manifest["config"]["samples"]["size"]
    return [
        MARKER,
        "",
        "# kinefake kinematic pseudo-fake face videos",
        "",
        "Real face clips and **pseudo-fakes** of the same clips whose facial motion was subtly broken "
        "(a region frozen, lagged, decoupled, amplified, or moved as another clip's face moved), rendered "
        f"back into the real frames with kinefake {manifest['version']}. Each sample is a {size} px face crop "
        "video with its binary label, the per-frame mask of what was changed, the landmarks and the "
        "perturbation's parameters, for training and probing detectors of face-video manipulation.",
        "",
        f"- samples: {counts['samples']} ({counts['real_samples']} real, {counts['fake_samples']} fake) "
        f"in {len(counts['splits'])} splits",
        f"- clips: {counts['clips']} from {counts['videos']} videos; rejects: {counts['rejects']} "
        "(the `rejects` config: what was left out and why)",
        "- source licences: see [Licensing](#licensing)",
        "",
        "## Uses",
        "",
        "### Direct use",
        "",
        "- Training and evaluating binary real/fake classifiers of face videos, and temporal or "
        "landmark-based detectors of manipulated facial motion, with splits by source video.",
        "- Localisation (the masks), and analyses by operator and strength (the labels).",
        "- Augmenting a detector's training set alongside real deepfakes.",
        "",
        "### Out-of-scope use",
        "",
        "- Identifying, recognising or tracking the people shown, or any biometric use.",
        "- Making deceptive media of them, or any use their licences or consent do not cover.",
        "- Claiming a detector works on real-world deepfakes from these pseudo-fakes alone: they are "
        "not the output of any face-swap or reenactment generator.",
        "",
        "## Dataset structure",
        "",
        *_counts(manifest),
        "",
        "Load: `datasets.load_dataset(OUT)` (the samples table, one split per corpus split), "
        "`pyarrow.dataset.dataset(OUT/parquet/samples)`; the samples themselves with "
        '`datasets.load_dataset("webdataset", data_files=kinefake.corpus.reader.webdataset_files(OUT), '
        f"features=kinefake.corpus.reader.huggingface_features({size}), "
        "streaming=True)` (no cache), or in torch with `kinefake.corpus.reader.training_batches`. "
        "`manifest.json` lists every file with its SHA-256 (`kinefake validate OUT` checks them).",
        "",
        "## Dataset creation",
        "",
        *_settings(manifest),
        "",
        "Labels, masks and landmarks are machine-generated: landmarks by the model above, fakes by "
        "kinefake's operators with recorded parameters (`kinefake regenerate` rebuilds any sample "
        "byte for byte from its source video).",
        "",
        "## Personal and sensitive information",
        "",
        "Every sample shows a real person's face, and faces are biometric personal data (e.g. GDPR "
        "art. 9). The tables also carry each source's path or URL and video id, which may name "
        "people. Publish or share the corpus only where the sources' licences and the people's "
        "consent allow it; to remove a person, drop their videos from the inputs and generate again "
        "(splits are drawn per video, so the others keep theirs).",
        "",
        "## Bias, risks and limitations",
        "",
        "- The people, cameras and settings are those of the input videos: the corpus inherits their "
        "demographic and technical bias, and kinefake does not measure it.",
        "- Clips whose face failed a gate (size, pose, tracking, confidence) are rejects, so hard "
        "poses and small faces are under-represented.",
        "",
        *_learnability(evaluation),
        "",
        "## Licensing",
        "",
        "Every clip is a derivative of its source video and the source's terms apply to it. The "
        "inputs are listed above (`manifest.json` `batches`, and the `clips` table's `uri`); state "
        "their licences here before publishing. kinefake itself writes no licence of its own onto "
        "the data.",
        "",
        "## Citation",
        "",
        "Cite the source videos' own publications, and:",
        "",
        "```bibtex",
        "@misc{kinefake_corpus,",
        "  title = {kinefake kinematic pseudo-fake face videos},",
        f"  note = {{Generated with kinefake {manifest['version']}, schema {manifest['schema_version']}, "
        f"seed {manifest['config']['seed']}}},",
        "}",
        "```",
        "",
        *contract_sections(),
    ]


def dataset_card(manifest: dict, evaluation: dict | None = None) -> str:
    """The card's text for a finished run's ``manifest`` (with ``evaluation``, a ``kinefake
    evaluate`` report of this corpus, its learnability figures)."""
    data = card_data(manifest)
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n" + "\n".join(card_body(manifest, evaluation)) + "\n"))


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

"""``kinefake audit OUT``: a static HTML report of a finished corpus, to look at before training.

The report (``OUT/audit/index.html`` unless ``--out``) opens from disk: every asset sits
beside it under ``assets/`` and is linked relatively; nothing is fetched from a network.
It holds

- a summary of the whole corpus: counts, rejects by stage and reason with examples,
  histograms of operator, region, strength, active-window length and samples per source
  video, and ``validate.json``'s figures and plots when ``kinefake validate`` has run;
- sample cards for a stratified sample of fakes (``--per-operator`` of each operator,
  chosen by a seeded hash of their keys): the clip as real | fake | mask over the fake |
  |diff| x10, each region's displacement over time with the active window shaded, the
  label, and the ``kinefake regenerate`` command that rebuilds that one sample.

Its cost is bounded whatever the corpus's size: the tables are read column by column, and
only the chosen samples' members are read from their tars (through the tar headers).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import posixpath
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from kinefake.command import command_parser
from kinefake.corpus.audit_page import render_page
from kinefake.corpus.contents import (
    MEMBER_ERRORS,
    inspect_corpus,
    is_sample_key,
    leaves,
    listed_files,
    one_line,
    read_manifest,
    read_table,
    shown,
)
from kinefake.corpus.reader import decode_mp4, decode_npz
from kinefake.corpus.regenerate import clip_of, stored_members
from kinefake.errors import OutputError, UsageError, describe_os_error
from kinefake.fs import is_remote, read_bytes
from kinefake.schemas import REJECT_SCHEMA, SAMPLE_SCHEMA
from kinefake.schemas.inputs import split_order
from kinefake.schemas.label import Label
from kinefake.schemas.layout import (
    AUDIT,
    AUDIT_ASSETS,
    AUDIT_PAGE,
    VALIDATE,
    VALIDATE_PLOT_FILES,
    VALIDATE_PLOTS,
    corpus_file_kind,
)
from kinefake.schemas.members import LABEL, MASKS, MP4, REAL
from kinefake.schemas.validate_report import misfit
from kinefake.synth.render.panels import comparison_panels
from kinefake.synth.video import encode_mp4

#: Default fakes shown per operator, and the most a report may show per operator.
PER_OPERATOR = 4
MAX_PER_OPERATOR = 50
#: Examples listed per (stage, reason) of the rejects.
REJECT_EXAMPLES = 3
#: Source videos named in the samples-per-video plot (the rest are summarised).
TOP_VIDEOS = 40
#: Columns of the samples table the summary reads (not the labels: they are read per card).
SUMMARY_COLUMNS = ["key", "video_id", "split", "label", "shard", "operator", "region", "strength_iod",
                   "active_start", "active_end"]  # fmt: skip
REJECT_COLUMNS = ["uri", "stage", "reason", "detail", "measured", "threshold"]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = command_parser(prog="kinefake audit", description=__doc__.split("\n")[0])
    parser.add_argument("output", help="A finished kinefake corpus (local or gs://).")
    parser.add_argument("--per-operator", type=int, default=PER_OPERATOR, help="Sample cards per operator.")
    parser.add_argument("--out", help="Report folder (default OUT/audit; required when OUT is remote).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the stratified choice of cards.")
    args = parser.parse_args(argv)
    if not 0 <= args.per_operator <= MAX_PER_OPERATOR:
        raise UsageError(f"--per-operator: expected 0 to {MAX_PER_OPERATOR}, got {args.per_operator}")
    if args.out is None:
        if is_remote(args.output):
            raise UsageError("--out: give a local folder for the report of a remote corpus")
        args.out = os.path.join(args.output, AUDIT)
    if is_remote(args.out):
        raise UsageError(f"--out: the report is written to a local folder, got {args.out}")
    return args


def split_counts(samples: dict[str, list]) -> dict[str, dict[str, int]]:
    """``{split: {"videos", "samples", "real", "fake"}}`` from the samples table's rows, in
    :func:`~kinefake.schemas.inputs.split_order`."""
    videos, labels = defaultdict(set), defaultdict(Counter)
    for split, video_id, label in zip(samples["split"], samples["video_id"], samples["label"], strict=True):
        videos[str(split)].add(video_id)
        labels[str(split)]["fake" if label == 1 else "real"] += 1
    return {
        s: {
            "videos": len(videos[s]),
            "samples": labels[s].total(),
            "real": labels[s]["real"],
            "fake": labels[s]["fake"],
        }
        for s in sorted(videos, key=split_order)
    }


def choose_cards(samples: dict[str, list], per_operator: int, seed: int) -> list[int]:
    """Row indices of up to ``per_operator`` fakes of each operator, by a seeded hash of the key
    (the same corpus and seed give the same cards), ordered by operator then key."""
    by_operator = defaultdict(list)
    for row, (label, operator) in enumerate(zip(samples["label"], samples["operator"], strict=True)):
        if label == 1:
            by_operator[operator].append(row)

    def rank(row):
        return hashlib.sha256(f"{seed}:{samples['key'][row]}".encode()).hexdigest()

    chosen = []
    for operator in sorted(by_operator):
        picked = sorted(by_operator[operator], key=rank)[:per_operator]
        chosen += sorted(picked, key=lambda r: samples["key"][r])
    return chosen


def reject_groups(rejects: dict[str, list]) -> list[dict]:
    """Rejects grouped by (stage, reason), largest first, each with its first examples."""
    groups = defaultdict(list)
    for row in range(len(rejects["uri"])):
        groups[(rejects["stage"][row], rejects["reason"][row])].append(row)
    out = []
    for (stage, reason), rows in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0])):
        examples = [{c: rejects[c][r] for c in REJECT_COLUMNS} for r in rows[:REJECT_EXAMPLES]]
        out.append({"stage": stage, "reason": reason, "count": len(rows), "examples": examples})
    return out


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def histograms(samples: dict[str, list]) -> dict[str, bytes]:
    """PNG by file name: operator, region, strength, active-window length, samples per video."""
    plt = _plt()
    fakes = [i for i, label in enumerate(samples["label"]) if label == 1]
    plots = {}

    def bars(name, title, counts, xlabel, ylabel="fakes"):
        fig, ax = plt.subplots(figsize=(5, 2.6))
        labels = list(counts)
        ax.bar(range(len(labels)), [counts[k] for k in labels], color="#4878a8")
        ax.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 6 else 0, ha="right", fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        plots[name] = _png(fig)

    def hist(name, title, values, xlabel, bins):
        fig, ax = plt.subplots(figsize=(5, 2.6))
        ax.hist(values, bins=bins, color="#4878a8")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel("fakes", fontsize=8)
        plots[name] = _png(fig)

    operators = Counter(samples["operator"][i] for i in fakes)
    bars("operator.png", "Fakes by operator", dict(sorted(operators.items())), "operator")
    regions = Counter(samples["region"][i] for i in fakes)
    bars("region.png", "Fakes by edited region", dict(sorted(regions.items())), "region")
    strengths = [samples["strength_iod"][i] for i in fakes if samples["strength_iod"][i] is not None]
    hist("strength.png", "Drawn strength", strengths, "largest displacement, IOD", 20)
    lengths = [samples["active_end"][i] - samples["active_start"][i] for i in fakes
               if samples["active_start"][i] is not None]  # fmt: skip
    hist("window.png", "Active window", lengths, "frames that moved", 20)
    per_video = Counter(samples["video_id"])
    top = dict(per_video.most_common(TOP_VIDEOS))
    more = len(per_video) - len(top)
    title = f"Samples per source video ({len(per_video)} videos" + (f", top {len(top)} shown)" if more else ")")
    bars("videos.png", title, top, "video_id", "samples")
    return plots


def displacement_plot(region: np.ndarray, regions: list[str], perturbation) -> bytes:
    """Each region's displacement over the clip (``region`` ``(T, R)``, IOD), the edited
    region drawn bold, the active frames shaded and the drawn window dashed (``perturbation``:
    a :class:`~kinefake.schemas.label.Label`'s)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 2.4))
    frames = np.arange(region.shape[0])
    for column, name in enumerate(regions):
        edited = name == perturbation.region
        ax.plot(frames, region[:, column], lw=2.2 if edited else 0.9, label=name, zorder=3 if edited else 2)
    active = perturbation.active_frames or []
    if len(active) == 2 and active[1] > active[0]:
        ax.axvspan(active[0] - 0.5, active[1] - 0.5, color="#f4c542", alpha=0.3, label="active", zorder=1)
    window = perturbation.window or []
    for edge in window:
        ax.axvline(edge - 0.5, color="grey", ls="--", lw=0.8)
    ax.set_xlim(-0.5, region.shape[0] - 0.5)
    ax.set_xlabel("frame", fontsize=8)
    ax.set_ylabel("displacement, IOD" if perturbation.family != "appearance" else "blend weight", fontsize=8)
    ax.legend(fontsize=6, ncol=4, loc="upper left")
    return _png(fig)


def card(out_arg: str, index: int, row: int, samples: dict, members: dict[str, dict[str, bytes]], assets: Path) -> dict:
    """Write one card's assets (panels mp4, displacement png, label json), named by the card's
    ``index`` (never by a key read from the corpus); return its page fields."""
    key = samples["key"][row]
    fake, real = members.get(key), members.get(f"{clip_of(key)}_{REAL}")
    fields = {"key": key, "operator": samples["operator"][row], "region": samples["region"][row],
              "strength": samples["strength_iod"][row], "label": None, "video": None, "curves": None,
              "command": f"kinefake regenerate {out_arg} {key} --out regenerated"}  # fmt: skip
    if fake is None or not {LABEL, MASKS, MP4} <= set(fake):
        fields["problem"] = f"the sample's members are missing from {samples['shard'][row]}"
        return fields
    try:
        label = json.loads(fake[LABEL])
        perturbation = Label.from_json(label).perturbation
        masks = decode_npz(fake[MASKS])
        curves = displacement_plot(masks["region"].astype(np.float32), perturbation.regions, perturbation)
        fake_frames, fps = decode_mp4(fake[MP4])
        real_frames = None if real is None or MP4 not in real else decode_mp4(real[MP4])[0]
        panels = None if real_frames is None else comparison_panels(real_frames, fake_frames, masks["pixel"])
    except MEMBER_ERRORS as exc:
        fields["problem"] = f"the sample's members cannot be read ({one_line(exc)})"
        return fields
    name = f"card-{index:04d}"
    fields["label"] = label
    if panels is None:
        fields["problem"] = f"the real sample {clip_of(key)}_{REAL} is missing from {samples['shard'][row]}"
    else:
        (assets / f"{name}.mp4").write_bytes(encode_mp4(panels, fps))
        fields["video"] = f"{AUDIT_ASSETS}/{name}.mp4"
        fields["frames"] = len(panels)
    (assets / f"{name}.png").write_bytes(curves)
    (assets / f"{name}.json").write_text(json.dumps(label, indent=2) + "\n")
    fields["curves"], fields["label_file"] = f"{AUDIT_ASSETS}/{name}.png", f"{AUDIT_ASSETS}/{name}.json"
    return fields


def read_validated(out: str) -> tuple[dict | None, str | None]:
    """The corpus's ``validate.json`` when it fits :data:`kinefake.schemas.validate_report.VALIDATE_REPORT`,
    and what is wrong with it otherwise: ``(report, None)``, ``(None, problem)`` or ``(None, None)``
    when the corpus has not been validated."""
    path = posixpath.join(out, VALIDATE)
    if not FileSystems.exists(path):
        return None, None
    try:
        validated = json.loads(read_bytes(path))
    except (OSError, ValueError) as exc:
        return None, f"{VALIDATE} cannot be read as JSON: {exc}"
    problem = misfit(validated)
    return (None, f"{problem}: not shown") if problem else (validated, None)


def usable_rows(samples: dict, listed: set[str], unreadable: set[str]) -> tuple[list[int], list[str]]:
    """Rows of the samples table whose key is a sample key and whose shard is a listed tar
    that reads; and a finding for each kind of row left out."""
    rows, bad_key, bad_shard, damaged = [], [], [], []
    for row, (key, shard) in enumerate(zip(samples["key"], samples["shard"], strict=True)):
        if not is_sample_key(key):
            bad_key.append(key)
        elif shard not in listed:
            bad_shard.append(shard)
        elif shard in unreadable:
            damaged.append(key)
        else:
            rows.append(row)
    findings = []
    if bad_key:
        findings.append(f"samples table: {len(bad_key)} rows whose key is not a sample key, "
                        f"left out (first {shown(bad_key[0])})")  # fmt: skip
    if bad_shard:
        findings.append(f"samples table: {len(bad_shard)} rows naming a shard the manifest does not list, "
                        f"left out (first {shown(bad_shard[0])})")  # fmt: skip
    if damaged:
        findings.append(f"{len(damaged)} samples in a missing or damaged tar get no card")
    return rows, findings


def read_columns_as(out: str, name: str, schema: pa.Schema, columns: list[str], problems: list[str]) -> dict:
    """``columns`` of table ``name`` cast to their types in ``schema``; empty, with a problem
    noted, when the table cannot be read or holds other types."""
    try:
        return read_table(out, name, columns).cast(pa.schema([schema.field(c) for c in columns])).to_pydict()
    except (OSError, pa.ArrowException, ValueError) as exc:
        problems.append(f"the {name} table cannot be read ({one_line(exc)}): its part is empty")
        return {c: [] for c in columns}


def run(argv: list[str]) -> dict:
    """Write the report; return its summary (what it counted and what it sampled, and the
    corpus's problems: damage found, rows left out).

    Raises:
        UsageError: bad flags.
        CorpusError: ``OUT`` is not a finished corpus.
        OutputError: the report cannot be written (nothing of it is left).
    """
    started = time.monotonic()
    args = parse(argv)
    out = args.output.rstrip("/")
    manifest = read_manifest(out)
    inspection = inspect_corpus(out, manifest, deep=False)
    problems = inspection.problems()
    samples = read_columns_as(out, "samples", SAMPLE_SCHEMA, SUMMARY_COLUMNS, problems)
    rejects = read_columns_as(out, "rejects", REJECT_SCHEMA, REJECT_COLUMNS, problems)
    tars = {p for p in listed_files(manifest) if corpus_file_kind(p) == "shards"}
    rows, findings = usable_rows(samples, tars, set(inspection.unusable))
    problems += findings
    validated, validate_problem = read_validated(out)
    usable = {c: [values[r] for r in rows] for c, values in samples.items()}
    chosen = [rows[i] for i in choose_cards(usable, args.per_operator, args.seed)]

    target = Path(args.out)
    _check_replaceable(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as exc:
        raise OutputError(f"cannot write the report to {target}: {describe_os_error(exc)}") from None
    building.chmod(0o755)  # mkdtemp makes it private; the report is a plain folder
    try:
        assets = building / AUDIT_ASSETS
        assets.mkdir()
        wanted = defaultdict(set)
        for row in chosen:
            key = samples["key"][row]
            wanted[samples["shard"][row]] |= {key, f"{clip_of(key)}_{REAL}"}
        members = {}
        for shard, keys in sorted(wanted.items()):
            members.update(stored_members(out, shard, keys))
        out_arg = out if is_remote(out) else os.path.abspath(out)
        cards = [card(out_arg, i, row, samples, members, assets) for i, row in enumerate(chosen)]
        problems += [f"card {c['key']}: {c['problem']}" for c in cards if c.get("problem")]
        plots = histograms(samples)
        for name, data in plots.items():
            (assets / name).write_bytes(data)
        validate_plots = []
        for name in VALIDATE_PLOT_FILES if validated else ():
            source = posixpath.join(out, VALIDATE_PLOTS, name)
            if FileSystems.exists(source) and not leaves(out, source):
                (assets / f"validate_{name}").write_bytes(read_bytes(source))
                validate_plots.append(f"{AUDIT_ASSETS}/validate_{name}")
        fakes = sum(1 for label in samples["label"] if label == 1)
        summary = {
            "corpus": out,
            "samples": len(samples["key"]),
            "reals": len(samples["key"]) - fakes,
            "fakes": fakes,
            "videos": len(set(samples["video_id"])),
            "shards": len(set(samples["shard"])),
            "rejects": len(rejects["uri"]),
            "cards": len(cards),
            "per_operator": args.per_operator,
            "seed": args.seed,
            "operators": dict(sorted(Counter(s for s in samples["operator"] if s).items())),
            "splits": split_counts(samples),
            "problems": problems,
        }
        validation = (validated, validate_problem)
        page = render_page(manifest, summary, reject_groups(rejects), sorted(plots), validation, validate_plots, cards)
        (building / AUDIT_PAGE).write_text(page, encoding="utf-8")
        _replace(building, target)
    except BaseException:  # a full disk among them: the command says so in one line (kinefake.cli)
        shutil.rmtree(building, ignore_errors=True)
        raise
    summary["report"] = str(target.resolve() / AUDIT_PAGE)
    summary["seconds"] = round(time.monotonic() - started, 1)
    return summary


def _replace(building: Path, target: Path) -> None:
    """Put the finished report in place of ``target``; an earlier report there is removed,
    anything else refuses (nothing of the user's is deleted)."""
    if target.exists():
        _check_replaceable(target)
        shutil.rmtree(target)
    building.rename(target)


def _check_replaceable(target: Path) -> None:
    """Refuse a ``target`` that is a file or holds anything but an earlier report."""
    if target.exists() and not target.is_dir():
        raise UsageError(f"--out {target} is a file")
    if target.exists():
        foreign = [p for p in target.rglob("*") if not _is_report_file(p.relative_to(target))]
        if foreign:
            raise UsageError(f"--out {target} holds files kinefake audit did not write ({foreign[0]}): not replaced")


def _is_report_file(relative: Path) -> bool:
    parts = relative.parts
    return parts in ((AUDIT_PAGE,), (AUDIT_ASSETS,)) or (len(parts) == 2 and parts[0] == AUDIT_ASSETS)


def main(argv: list[str]) -> int:
    """``kinefake audit``: where the page is; exit status 1 (and the first problem on stderr)
    when the corpus is damaged."""
    report = run(argv)
    print(
        f"audit of {report['corpus']}: {report['samples']} samples, {report['rejects']} rejects, "
        f"{report['cards']} sample cards in {report['seconds']} s\n  open {report['report']}"
    )
    problems = report["problems"]
    if problems:
        more = f" (and {len(problems) - 1} more on the page)" if len(problems) > 1 else ""
        print(f"kinefake audit: DAMAGED corpus: {problems[0]}{more}", file=sys.stderr)
        return 1
    return 0

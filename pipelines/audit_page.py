"""The audit report's HTML: one self-contained page, plain CSS and JS, relative links only."""

from __future__ import annotations

import json
from html import escape

from synth.render.panels import CAPTIONS, DIFF_GAIN

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1200px; }
h1 { font-size: 1.5em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.plots img { margin: 4px; border: 1px solid #eee; }
.bar { position: sticky; top: 0; background: #fff; padding: .5em 0; border-bottom: 1px solid #ccc; z-index: 2; }
.card { border: 1px solid #bbb; border-radius: 6px; margin: 1em 0; padding: .5em 1em; scroll-margin-top: 3em; }
.card:target, .card.opened { outline: 3px solid #e0a800; }
.card summary { cursor: pointer; font-weight: 600; }
.card video { width: 100%; max-width: 1024px; display: block; background: #000; }
.captions { display: flex; max-width: 1024px; }
.captions span { flex: 1; text-align: center; color: #555; font-size: 12px; }
pre { background: #f6f6f6; padding: .5em; overflow-x: auto; font-size: 12px; }
.pass { color: #17702f; font-weight: 700; } .fail { color: #b00020; font-weight: 700; }
.muted { color: #666; }
"""

SCRIPT = """
const cards = Array.from(document.querySelectorAll('.card'));
const byOperator = document.getElementById('filter-operator');
const byRegion = document.getElementById('filter-region');
const shown = document.getElementById('shown');
function applyFilters() {
  let n = 0;
  for (const card of cards) {
    const show = (!byOperator.value || card.dataset.operator === byOperator.value) &&
                 (!byRegion.value || card.dataset.region === byRegion.value);
    card.hidden = !show;
    if (show) n += 1;
  }
  shown.textContent = n;
}
function openFromHash() {
  const key = decodeURIComponent(location.hash.slice(1));
  const card = key && document.getElementById(key);
  if (!card || !card.classList.contains('card')) return;
  if (card.hidden) { byOperator.value = ''; byRegion.value = ''; applyFilters(); }
  for (const other of cards) other.classList.remove('opened');
  card.open = true;
  card.classList.add('opened');
  card.scrollIntoView();
}
byOperator.addEventListener('change', applyFilters);
byRegion.addEventListener('change', applyFilters);
window.addEventListener('hashchange', openFromHash);
applyFilters();
openFromHash();
"""


def _num(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(cell) -> str:
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return f'<td class="n">{escape(_num(cell))}</td>'
    return f"<td>{cell}</td>"  # callers escape text cells


def _summary(manifest: dict, summary: dict) -> str:
    counts = [[escape(k.replace("_", " ")), v] for k, v in manifest.get("counts", {}).items() if isinstance(v, int)]
    counts += [["source videos with samples", summary["videos"]], ["shards", summary["shards"]]]
    operators = [[escape(k), v] for k, v in summary["operators"].items()]
    config = manifest.get("config", {})
    versions = escape(f"written by kinefake {manifest.get('version', '?')}, seed {config.get('seed')}")
    return (
        f"<p class='muted'>{versions}</p>"
        + _table(["count", "value"], counts)
        + "<h3>Fakes by operator</h3>"
        + _table(["operator", "fakes"], operators)
    )


def _rejects(groups: list[dict]) -> str:
    if not groups:
        return "<p>No rejects: every input and clip gave samples.</p>"
    rows = []
    for group in groups:
        examples = "<br>".join(
            f"{escape(e['uri'])}: {escape(e['detail'])}"
            + (
                f" (measured {escape(_num(e['measured']))} vs threshold {escape(_num(e['threshold']))})"
                if e["measured"] is not None
                else ""
            )
            for e in group["examples"]
        )
        rows.append([escape(group["stage"]), escape(group["reason"]), group["count"], examples])
    return _table(["stage", "reason", "rows", f"examples (first {len(groups[0]['examples'])})"], rows)


def _validate(validated: dict | None, plots: list[str], corpus: str) -> str:
    if validated is None:
        return f"<p>Not validated yet: <code>kinefake validate {escape(corpus)}</code> adds its figures here.</p>"
    verdict = "<span class='pass'>PASSED</span>" if validated.get("passed") else "<span class='fail'>FAILED</span>"
    outside = validated.get("outside_mask", {})
    regen = validated.get("regenerated", {})
    regenerated = sum(1 for r in regen.get("samples", []) if r.get("regenerated"))
    rows = [
        ["fakes checked", validated.get("fakes_checked")],
        ["judge backend", escape(str(validated.get("judge")))],
        ["outside-mask median, grey levels", outside.get("median_grey")],
        ["outside-mask failures", escape(", ".join(outside.get("failed", [])) or "none")],
        ["fakes regenerated from source", regenerated],
        ["regenerated that differ", escape(", ".join(regen.get("failed", [])) or "none")],
    ]
    for name, figures in validated.get("headpose", {}).items():
        rows.append([escape(f"head pose {name}: AUROC real vs fake"), figures.get("auroc")])
    by_op = validated.get("by_operator", {})
    columns = sorted({c for figures in by_op.values() for c in figures})
    op_rows = [[escape(op)] + [figures.get(c) for c in columns] for op, figures in by_op.items()]
    images = "".join(f'<img src="{escape(p)}" alt="{escape(p)}" height="260">' for p in plots)
    return (
        f"<p>validate.json: {verdict}</p>"
        + _table(["figure", "value"], rows)
        + "<h3>By operator</h3>"
        + _table(["operator", *columns], op_rows)
        + f"<div class='plots'>{images}</div>"
    )


def _card(card: dict, checked: dict | None) -> str:
    key = escape(card["key"])
    strength = _num(card["strength"])
    title = f"{key}: {escape(str(card['operator']))} on {escape(str(card['region']))}, strength {strength} IOD"
    captions = "".join(f"<span>{escape(c)}</span>" for c in CAPTIONS)
    if card["video"]:
        video = (
            f'<video src="{escape(card["video"])}" controls loop muted playsinline preload="metadata"></video>'
            f"<div class='captions'>{captions}</div>"
        )
    else:
        video = f"<p class='fail'>{escape(card['problem'])}</p>"
    figures = ""
    if checked:
        keep = ("recovered", "flow_recovered", "outside_grey", "outside_worst_block", "coupling_drop")
        figures = _table(["validate", "value"], [[escape(k), checked.get(k)] for k in keep if k in checked])
    perturbation = card["label"]["perturbation"]
    window = f"window {perturbation.get('window')}, active frames {perturbation.get('active_frames')}"
    params = {k: v for k, v in (perturbation.get("params") or {}).items() if v is not None}
    changed = (
        f"{perturbation['operator']} ({perturbation['family']}) on {perturbation['region']}"
        + (f", coupling with {perturbation['partner']} broken" if perturbation.get("partner") else "")
        + f"; drawn strength {_num(perturbation.get('strength_iod'))} IOD, largest shift rendered "
        + f"{_num(perturbation.get('max_displacement_iod'))} IOD; params {json.dumps(params)}"
    )
    label = escape(json.dumps(card["label"], indent=2))
    operator, region = escape(str(card["operator"])), escape(str(card["region"]))
    return f"""
<details class="card" id="{key}" data-operator="{operator}" data-region="{region}" open>
<summary>{title} <a href="#{key}" title="link to this card">#</a></summary>
<p class="changed">What changed: {escape(changed)}</p>
{video}
<p class="muted">real | fake | mask over the fake (red) | |fake - real| x{DIFF_GAIN}. {escape(window)}.</p>
<img src="{escape(card["curves"])}" alt="per-region displacement of {key}">
{figures}
<p>Rebuild this sample from its source (exit 0 when identical to the stored one):</p>
<pre class="cmd">{escape(card["command"])}</pre>
<details><summary>label (<a href="{escape(card["label_file"])}">json</a>)</summary><pre>{label}</pre></details>
</details>"""


def render_page(manifest, summary, rejects, plots, validated, validate_plots, cards) -> str:
    """The whole report. ``plots`` are file names under ``assets/``; ``cards`` from
    :func:`pipelines.audit.card`; ``validated`` the corpus's ``validate.json`` or None."""
    checked = {row["key"]: row for row in (validated or {}).get("fakes", [])}
    operators = sorted({str(c["operator"]) for c in cards})
    regions = sorted({str(c["region"]) for c in cards})
    op_options = "".join(f'<option value="{escape(o)}">{escape(o)}</option>' for o in operators)
    region_options = "".join(f'<option value="{escape(r)}">{escape(r)}</option>' for r in regions)
    images = "".join(f'<img src="assets/{escape(p)}" alt="{escape(p)}">' for p in plots)
    sampled = (
        f"{summary['cards']} sample cards: up to {summary['per_operator']} fakes of each operator, chosen by a "
        f"hash of their keys with seed {summary['seed']} (kinefake audit --per-operator N --seed S), "
        f"from {summary['fakes']} fakes. Counts, histograms and rejects cover the whole corpus."
    )
    cards_html = "".join(_card(c, checked.get(c["key"])) for c in cards)
    corpus = escape(summary["corpus"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kinefake audit: {corpus}</title>
<style>{STYLE}</style></head>
<body>
<h1>kinefake audit: {corpus}</h1>
<p id="sampled">{escape(sampled)}</p>
<h2>Summary</h2>
{_summary(manifest, summary)}
<div class="plots">{images}</div>
<h2>Rejects</h2>
{_rejects(rejects)}
<h2>Validation</h2>
{_validate(validated, validate_plots, summary["corpus"])}
<h2>Sample cards</h2>
<div class="bar">
<label>operator <select id="filter-operator"><option value="">all</option>{op_options}</select></label>
<label>region <select id="filter-region"><option value="">all</option>{region_options}</select></label>
<span><span id="shown">{len(cards)}</span> of {len(cards)} cards shown</span>
</div>
{cards_html}
<script>{SCRIPT}</script>
</body></html>
"""

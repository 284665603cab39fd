"""The audit report's HTML: one self-contained page, plain CSS and JS, relative links only.

The corpus may come from anyone, so every value read from it is escaped (text) or formatted
as a number; pre-built fragments travel as :class:`Html`. A Content-Security-Policy allows
the page's own style and script (by their SHA-256) and files beside it, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import json
from html import escape

from kinefake.schemas.label import Label
from kinefake.synth.render.panels import CAPTIONS, DIFF_GAIN

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


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


#: Only this page's own style and script run; images and videos come from beside it.
CSP = (
    f"default-src 'none'; style-src {_csp_hash(STYLE)}; script-src {_csp_hash(SCRIPT)}; "
    "img-src 'self'; media-src 'self'; base-uri 'none'; form-action 'none'"
)


class Html(str):
    """A fragment built here from escaped parts: put into a table cell as it is."""


def _num(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return escape(str(value))  # never reached with a checked report, escaped all the same


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(cell) -> str:
    """A number (formatted), an :class:`Html` fragment, or text (escaped)."""
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return f'<td class="n">{escape(_num(cell))}</td>'
    if isinstance(cell, Html):
        return f"<td>{cell}</td>"
    return f"<td>{escape(str(cell))}</td>"


def _summary(manifest: dict, summary: dict) -> str:
    counts = manifest.get("counts") if isinstance(manifest.get("counts"), dict) else {}
    counts = [[k.replace("_", " "), v] for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool)]
    counts += [["source videos with samples", summary["videos"]], ["shards", summary["shards"]]]
    operators = [[str(k), v] for k, v in summary["operators"].items()]
    splits = [[s, n["videos"], n["real"], n["fake"]] for s, n in summary["splits"].items()]
    config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    versions = escape(f"written by kinefake {manifest.get('version', '?')}, seed {config.get('seed')}")
    return (
        f"<p class='muted'>{versions}</p>"
        + _table(["count", "value"], counts)
        + "<h3>By split</h3><p class='muted'>each source video is in one split only</p>"
        + _table(["split", "source videos", "real", "fake"], splits)
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
        rows.append([group["stage"], group["reason"], group["count"], Html(examples)])
    return _table(["stage", "reason", "rows", f"examples (first {len(groups[0]['examples'])})"], rows)


def _problems(problems: list[str]) -> str:
    if not problems:
        return (
            "<p class='pass'>No damage found: every listed file is there with its size, "
            "the tables read and the counts agree.</p>"
        )
    items = "".join(f"<li>{escape(p)}</li>" for p in problems)
    return f"<p class='fail'>DAMAGED: {len(problems)} problems.</p><ul>{items}</ul>"


def _validate(validated: dict | None, problem: str | None, plots: list[str], corpus: str) -> str:
    if problem is not None:
        return f"<p class='fail'>validate.json does not fit its schema ({escape(problem)}).</p>"
    if validated is None:
        return f"<p>Not validated yet: <code>kinefake validate {escape(corpus)}</code> adds its figures here.</p>"
    verdict = "<span class='pass'>PASSED</span>" if validated["passed"] else "<span class='fail'>FAILED</span>"
    outside = validated["outside_mask"]
    regen = validated["regenerated"]
    regenerated = sum(1 for r in regen["samples"] if r["regenerated"])
    rows = [
        ["fakes checked", validated["fakes_checked"]],
        ["judge backend", str(validated["judge"])],
        ["outside-mask median, grey levels", outside["median_grey"]],
        ["outside-mask failures", ", ".join(outside["failed"]) or "none"],
        ["fakes regenerated from source", regenerated],
        ["regenerated that differ", ", ".join(regen["failed"]) or "none"],
        ["problems", "; ".join(validated["problems"]) or "none"],
    ]
    for name, figures in validated["headpose"].items():
        rows.append([f"head pose {name}: AUROC real vs fake", figures["auroc"]])
    by_op = validated["by_operator"]
    columns = sorted({c for figures in by_op.values() for c in figures})
    op_rows = [[op] + [figures.get(c) for c in columns] for op, figures in by_op.items()]
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
        figures = _table(["validate", "value"], [[k, checked.get(k)] for k in keep if k in checked])
    command = (
        "<p>Rebuild this sample from its source (exit 0 when identical to the stored one):</p>\n"
        f'<pre class="cmd">{escape(card["command"])}</pre>'
    )
    operator, region = escape(str(card["operator"])), escape(str(card["region"]))
    head = f"""
<details class="card" id="{key}" data-operator="{operator}" data-region="{region}" open>
<summary>{title} <a href="#{key}" title="link to this card">#</a></summary>"""
    if card["label"] is None:
        return f"{head}\n{video}\n{command}\n</details>"
    perturbation = Label.from_json(card["label"]).perturbation
    window = f"window {perturbation.window}, active frames {perturbation.active_frames}"
    drawn = {} if perturbation.params is None else perturbation.params.to_json()
    params = {k: v for k, v in sorted(drawn.items()) if v is not None}  # as the stored label orders them
    changed = (
        f"{perturbation.operator} ({perturbation.family}) on {perturbation.region}"
        + (f", coupling with {perturbation.partner} broken" if perturbation.partner else "")
        + f"; drawn strength {_num(perturbation.strength_iod)} IOD, largest shift rendered "
        + f"{_num(perturbation.max_displacement_iod)} IOD; params {json.dumps(params)}"
    )
    label = escape(json.dumps(card["label"], indent=2))
    return f"""{head}
<p class="changed">What changed: {escape(changed)}</p>
{video}
<p class="muted">real | fake | mask over the fake (red) | |fake - real| x{DIFF_GAIN}. {escape(window)}.</p>
<img src="{escape(card["curves"])}" alt="per-region displacement of {key}">
{figures}
{command}
<details><summary>label (<a href="{escape(card["label_file"])}">json</a>)</summary><pre>{label}</pre></details>
</details>"""


def render_page(manifest, summary, rejects, plots, validated, validate_plots, cards) -> str:
    """The whole report. ``plots`` are file names under ``assets/``; ``cards`` from
    :func:`kinefake.corpus.audit.card`; ``validated`` ``(the corpus's validate.json, checked against
    its schema, or None; what is wrong with it, or None)``."""
    validated, validate_problem = validated
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
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>kinefake audit: {corpus}</title>
<style>{STYLE}</style></head>
<body>
<h1>kinefake audit: {corpus}</h1>
<p id="sampled">{escape(sampled)}</p>
<h2>Summary</h2>
{_problems(summary["problems"])}
{_summary(manifest, summary)}
<div class="plots">{images}</div>
<h2>Rejects</h2>
{_rejects(rejects)}
<h2>Validation</h2>
{_validate(validated, validate_problem, validate_plots, summary["corpus"])}
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

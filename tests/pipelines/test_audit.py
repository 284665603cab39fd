"""``kinefake audit`` and ``kinefake regenerate`` on a small real corpus, the report driven in Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.audit import run as audit
from pipelines.cli import main
from pipelines.generate import run as generate
from pipelines.validate import run as validate
from synth.video import probe
from tests.conftest import REPO, face
from tests.media import write_noise_video

PER_OPERATOR = 2
#: Chromium for the browser test: Debian's package (``.ci/run`` installs it), or ``KINEFAKE_CHROMIUM``.
CHROMIUM = os.environ.get("KINEFAKE_CHROMIUM", "/usr/bin/chromium")
#: Where the browser test keeps its screenshot.
ARTIFACTS = REPO / "build" / "test-artifacts"


@pytest.fixture(scope="module")
def corpus(faces, tmp_path_factory):
    """Three shared clips and one too-short video (a reject), two fakes of two clips each, validated."""
    folder = tmp_path_factory.mktemp("audit")
    inputs = folder / "in"
    inputs.mkdir()
    for prefix in ("spectre__00002", "first-order", "LipNet"):
        shutil.copyfile(face(faces, prefix), inputs / face(faces, prefix).name)
    write_noise_video(inputs / "short.mp4", 5)
    out = folder / "corpus"
    generate(["--input", str(inputs), "--output", str(out), "--max-clips-per-video", "2", "--fakes-per-clip", "2"])
    validate([str(out), "--max-fakes", "4", "--regenerate", "1"])
    return out


@pytest.fixture(scope="module")
def report(corpus):
    summary = audit([str(corpus), "--per-operator", str(PER_OPERATOR)])
    return summary, corpus / "audit" / "index.html"


def fakes_by_operator(corpus: Path) -> Counter:
    table = pq.read_table(next((corpus / "parquet" / "samples").glob("*.parquet")), columns=["label", "operator"])
    return Counter(r["operator"] for r in table.to_pylist() if r["label"] == 1)


class Links(HTMLParser):
    """Every ``src``/``href`` of a page, and the ids and data attributes of its cards."""

    def __init__(self) -> None:
        super().__init__()
        self.links, self.cards = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [attrs[a] for a in ("src", "href") if a in attrs]
        if "card" in (attrs.get("class") or "").split():
            self.cards.append(attrs)


def test_report_shows_a_stratified_sample_with_every_asset_beside_it(report, corpus):
    summary, page = report
    counts = fakes_by_operator(corpus)
    expected = sum(min(PER_OPERATOR, n) for n in counts.values())
    assert summary["cards"] == expected and summary["fakes"] == sum(counts.values())
    parsed = Links()
    parsed.feed(page.read_text())
    assert len(parsed.cards) == expected
    assert Counter(c["data-operator"] for c in parsed.cards) == {o: min(PER_OPERATOR, n) for o, n in counts.items()}
    # Opens from disk: every link is relative, inside the report folder, and there.
    for link in parsed.links:
        if link.startswith("#"):
            continue
        assert not re.match(r"^[a-z]+:|^/", link), link
        assert (page.parent / link).resolve().is_relative_to(page.parent.resolve()) and (page.parent / link).is_file()
    text = page.read_text()
    assert "http://" not in text and "https://" not in text
    # The summary: rejects by reason with an example, validate's verdict and plots.
    assert "too short" in text and "short.mp4" in text
    assert "validate.json: <span class='pass'>PASSED</span>" in text
    assert (page.parent / "assets" / "validate_fidelity.png").read_bytes()[:4] == b"\x89PNG"
    assert str(expected) in page.read_text().split('id="sampled">')[1].split("</p>")[0]


def test_each_card_shows_its_own_sample(report, corpus):
    _, page = report
    parsed = Links()
    parsed.feed(page.read_text())
    with tarfile.open(next((corpus / "webdataset").glob("*.tar"))) as tar:
        labels = {m.name[: -len(".json")]: json.load(tar.extractfile(m)) for m in tar if m.name.endswith(".json")}
    for card in parsed.cards:
        key = card["id"]
        assert json.loads((page.parent / "assets" / f"{key}.json").read_text()) == labels[key]
        assert card["data-region"] == labels[key]["perturbation"]["region"]
        info = probe(page.parent / "assets" / f"{key}.mp4")
        assert (info.width, info.height) == (4 * 256, 256) and info.frame_count == 32
        assert (page.parent / "assets" / f"{key}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"kinefake regenerate {corpus} {key} --out regenerated" in page.read_text()


def test_the_same_corpus_gives_the_same_report_and_a_rerun_replaces_it(report, corpus, tmp_path):
    summary, page = report
    again = audit([str(corpus), "--per-operator", str(PER_OPERATOR), "--out", str(tmp_path / "again")])
    assert (tmp_path / "again" / "index.html").read_text() == page.read_text().replace(
        str(corpus / "audit"), str(tmp_path / "again")
    )
    assert sorted(p.name for p in (tmp_path / "again" / "assets").iterdir()) == sorted(
        p.name for p in (page.parent / "assets").iterdir()
    )
    assert again["cards"] == summary["cards"]
    # A different seed draws other cards where an operator has more fakes than shown.
    other = audit([str(corpus), "--per-operator", "1", "--seed", "7", "--out", str(tmp_path / "one")])
    assert other["cards"] == len(fakes_by_operator(corpus))
    assert not list(tmp_path.glob(".one.tmp-*"))


def test_bad_audits_are_refused_and_nothing_of_the_users_is_deleted(corpus, tmp_path, capsys):
    assert main(["audit", str(tmp_path)]) == 2
    assert "not a kinefake corpus" in capsys.readouterr().err
    assert main(["audit", str(corpus), "--per-operator", "51"]) == 2
    assert "--per-operator: expected 0 to 50" in capsys.readouterr().err
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    assert main(["audit", str(corpus), "--out", str(mine)]) == 2
    assert "did not write" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "keep" and not list(tmp_path.glob(".mine.tmp-*"))


def test_regenerate_rebuilds_a_card_sample_byte_for_byte(report, corpus, tmp_path, capsys):
    _, page = report
    key = re.search(r"kinefake regenerate \S+ (\S+) --out regenerated", page.read_text()).group(1)
    assert main(["regenerate", str(corpus), key, "--out", str(tmp_path)]) == 0
    assert "identical to the stored members" in capsys.readouterr().out
    tar = next((corpus / "webdataset").glob("*.tar"))
    with tarfile.open(tar) as f:
        stored = f.extractfile(f"{key}.mp4").read()
    assert (tmp_path / f"{key}.mp4").read_bytes() == stored
    assert main(["regenerate", str(corpus), "a.b_0000_fake0"]) == 2
    assert "is not a sample key" in capsys.readouterr().err
    assert main(["regenerate", str(corpus), "nothere_0000_fake0"]) == 2
    assert "no sample 'nothere_0000_fake0'" in capsys.readouterr().err


def chromium_or_skip() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set KINEFAKE_CHROMIUM)"
    if os.environ.get("KINEFAKE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message} (KINEFAKE_REQUIRE_BROWSER=1)")
    pytest.skip(message)


def test_the_report_works_in_chromium(report, corpus):
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    _, page_path = report
    counts = {o: min(PER_OPERATOR, n) for o, n in fakes_by_operator(corpus).items()}
    url = page_path.resolve().as_uri()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            assert page.locator(".card:visible").count() == sum(counts.values())
            page.wait_for_function(
                "Array.from(document.querySelectorAll('video')).every(v => v.readyState >= 1)", timeout=20000
            )
            durations = page.eval_on_selector_all("video", "vs => vs.map(v => v.duration)")
            assert len(durations) == sum(counts.values()) and all(d > 0 for d in durations), durations
            assert page.eval_on_selector_all("img", "imgs => imgs.every(i => i.complete && i.naturalWidth > 0)")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "audit_report.png"), full_page=False)

            operator = min(counts, key=lambda o: (counts[o], o))
            page.select_option("#filter-operator", operator)
            assert page.locator(".card:visible").count() == counts[operator] < sum(counts.values())
            assert page.locator("#shown").inner_text() == str(counts[operator])
            page.select_option("#filter-operator", "")
            assert page.locator(".card:visible").count() == sum(counts.values())

            # A key in the hash opens its card, even one the filter had hidden.
            key = page.locator(".card").nth(sum(counts.values()) - 1).get_attribute("id")
            other = next(o for o in counts if o != page.locator(f"[id='{key}']").get_attribute("data-operator"))
            page.select_option("#filter-operator", other)
            page.goto(f"{url}#{key}")
            page.reload()
            card = page.locator(f"[id='{key}']")
            assert card.is_visible() and "opened" in card.get_attribute("class")
            assert card.evaluate("c => c.open")
            page.screenshot(path=str(ARTIFACTS / "audit_card.png"), full_page=False)
            assert not errors, errors
        finally:
            browser.close()

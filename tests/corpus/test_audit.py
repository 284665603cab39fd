"""``kinefake audit`` and ``kinefake regenerate`` on a small real corpus, the report driven in Chromium."""

from __future__ import annotations

import contextlib
import html
import io
import json
import os
import re
import resource
import shutil
import tarfile
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyarrow import array as pa_array

from kinefake.cli import main
from kinefake.corpus.audit import run as audit
from kinefake.corpus.validate import run as validate
from kinefake.pipelines.generate import run as generate
from kinefake.synth.video import probe
from tests.conftest import REPO, face
from tests.corpora import reseal, rewrite_members
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
    table = pq.read_table(next((corpus / "parquet" / "samples").glob("*/*.parquet")), columns=["label", "operator"])
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
    with tarfile.open(next((corpus / "webdataset").glob("*/*.tar"))) as tar:
        labels = {m.name[: -len(".json")]: json.load(tar.extractfile(m)) for m in tar if m.name.endswith(".json")}
    assert parsed.cards
    for index, card in enumerate(parsed.cards):
        key, assets = card["id"], page.parent / "assets" / f"card-{index:04d}"  # named by index, never by key
        assert json.loads(assets.with_suffix(".json").read_text()) == labels[key]
        assert card["data-region"] == labels[key]["perturbation"]["region"]
        info = probe(assets.with_suffix(".mp4"))
        assert (info.width, info.height) == (4 * 256, 256) and info.frame_count == 32
        assert assets.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
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
    tar = next((corpus / "webdataset").glob("*/*.tar"))
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


# --- a corpus from someone else -----------------------------------------------------------------

#: Strings that run script or add attributes if a page puts them into HTML unescaped.
PAYLOADS = ["<script>window.pwned = 1</script>", '"><img src=x onerror="window.pwned = 2">',
            "<svg onload='window.pwned = 3'>", "</pre><iframe srcdoc='<script>parent.pwned = 4</script>'>"]  # fmt: skip


def hostile_corpus(corpus: Path, folder: Path) -> tuple[Path, Path]:
    """A copy of ``corpus`` whose fake key (table and tar) is a path into ``folder/escape``,
    whose manifest lists a tar outside it, and whose validate.json fits its schema but carries
    script in every string and names local files as plots. Returns the copy and the target."""
    hostile = folder / "hostile"
    shutil.copytree(corpus, hostile, ignore=shutil.ignore_patterns("audit"))
    (folder / "secret").write_text("not for the report")
    target = folder / "escape" / "pwned_0000_fake0"
    table_path = next((hostile / "parquet" / "samples").glob("*/*.parquet"))
    table = pq.read_table(table_path)
    keys = table.column("key").to_pylist()
    victim = next(k for k, label in zip(keys, table.column("label").to_pylist(), strict=True) if label == 1)
    keys[keys.index(victim)] = str(target)
    pq.write_table(table.set_column(table.schema.get_field_index("key"), "key", pa_array(keys)), table_path)
    tar_path = next(p for p in (hostile / "webdataset").glob("*/*.tar") if f"{victim}.mp4" in tar_names(p))
    with tarfile.open(tar_path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(tar_path, "w") as tar:
        for member, payload in members:
            if member.name.startswith(f"{victim}."):
                member.name = str(target) + member.name[len(victim) :]
            tar.addfile(member, io.BytesIO(payload))
    validated = json.loads((hostile / "validate.json").read_text())
    validated.update(judge=PAYLOADS[0], problems=PAYLOADS, plots=["/etc/hostname", "../../secret", "../secret"])
    validated["outside_mask"]["failed"] = PAYLOADS
    validated["regenerated"]["failed"] = PAYLOADS
    validated["by_operator"][PAYLOADS[1]] = {PAYLOADS[2]: 1.0}
    validated["headpose"][PAYLOADS[3]] = {"auroc": 0.5}
    validated["fakes"][0]["key"] = PAYLOADS[1]
    (hostile / "validate.json").write_text(json.dumps(validated))
    manifest = json.loads((hostile / "manifest.json").read_text())
    manifest["shards"].append({"path": "../../../etc/passwd.tar", "bytes": 1, "sha256": "0" * 64, "samples": 1})
    manifest["config"]["seed"] = PAYLOADS[2]
    (hostile / "manifest.json").write_text(json.dumps(manifest))
    reseal(hostile)
    return hostile, target


def tar_names(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()


def tree(folder: Path) -> dict[str, tuple[int, int] | None]:
    """Every path under ``folder``: a file's size and modification time, None for a folder."""
    return {
        str(p.relative_to(folder)): None if p.is_dir() else (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def test_a_hostile_corpus_reaches_nothing_outside_its_report_and_runs_no_script(corpus, tmp_path, capsys):
    hostile, target = hostile_corpus(corpus, tmp_path)
    before = tree(tmp_path)
    assert main(["audit", str(hostile)]) == 1
    err = capsys.readouterr().err
    assert "DAMAGED corpus" in err and "is not a file name kinefake writes" in err and len(err.splitlines()) == 1
    after = tree(tmp_path)
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    assert changed and all(p == "hostile/audit" or p.startswith("hostile/audit/") for p in changed), changed
    assert not target.parent.exists()
    page = hostile / "audit" / "index.html"
    text = page.read_text()
    assert "samples table: 1 rows whose key is not a sample key" in text
    assert str(target) not in [c["id"] for c in _cards(text)]
    assets = sorted(p.name for p in (page.parent / "assets").iterdir())
    assert all(re.fullmatch(r"card-\d{4}\.(mp4|png|json)|[a-z_]+\.png", n) for n in assets), assets
    assert "validate_hostname" not in assets and "validate_secret" not in assets
    assert "validate_fidelity.png" in assets  # plots come from their fixed names under OUT/validate/

    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            browser_page = browser.new_page()
            browser_page.goto(page.resolve().as_uri())
            browser_page.wait_for_load_state("load")
            assert browser_page.evaluate("typeof window.pwned") == "undefined"
            assert browser_page.locator("script").count() == 1  # the report's own
            injected = "[onerror], [onload], iframe, svg, img[src='x']"
            assert browser_page.locator(injected).count() == 0
            assert browser_page.locator(".card").count() >= 1  # the page's own script still runs
            assert browser_page.locator("#shown").inner_text() == str(browser_page.locator(".card").count())
            assert PAYLOADS[1] in browser_page.locator("body").inner_text()  # shown as text
        finally:
            browser.close()

    # validate never opens the listed tar outside the corpus, and fails naming both problems.
    assert main(["validate", str(hostile), "--max-fakes", "2", "--regenerate", "0"]) == 1
    printed = capsys.readouterr().out
    assert "'../../../etc/passwd.tar' is not a file name kinefake writes" in printed
    assert "tars: 1 samples whose key is not a sample key" in printed and "FAILED" in printed
    assert not target.parent.exists()


def _cards(text: str) -> list[dict]:
    parsed = Links()
    parsed.feed(text)
    return parsed.cards


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _edit_manifest(corpus: Path, edit) -> None:
    manifest = json.loads((corpus / "manifest.json").read_text())
    edit(manifest)
    (corpus / "manifest.json").write_text(json.dumps(manifest))


DAMAGE = {
    "truncated tar": (
        lambda c: _truncate(next((c / "webdataset").glob("*/*.tar"))),
        "cannot be read as a WebDataset tar",
    ),
    "deleted tar": (lambda c: next((c / "webdataset").glob("*/*.tar")).unlink(), ".tar: missing"),
    "deleted samples table": (lambda c: next((c / "parquet/samples").glob("*/*")).unlink(), ".parquet: missing"),
    "truncated samples table": (
        lambda c: _truncate(next((c / "parquet/samples").glob("*/*"))),
        "cannot be read as a Parquet file",
    ),
    "manifest without shards": (lambda c: _edit_manifest(c, lambda m: m.pop("shards")), "no 'shards' list"),
    "counts that lie": (
        lambda c: _edit_manifest(c, lambda m: m["counts"].update(samples=999)),
        "counts.samples is 999, the samples table holds",
    ),
    # The maker vouches for these (sizes and hashes resealed): only their contents are wrong.
    "labels that are not JSON": (
        lambda c: rewrite_members(c, lambda name: "_fake" in name and name.endswith(".json"), b"{not json"),
        "members cannot be read",
    ),
    "masks that are not npz": (
        lambda c: rewrite_members(c, lambda name: name.endswith(".mask.npz"), b"PK\x03\x04 not a zip"),
        "members cannot be read",
    ),
    "a samples table of another schema": (
        lambda c: _retype_label(c),
        "not a kinefake samples table: column 'label' is string, expected int8",
    ),
}


def _retype_label(corpus: Path) -> None:
    path = next((corpus / "parquet" / "samples").glob("*/*.parquet"))
    table = pq.read_table(path)
    labels = pa_array([str(v) for v in table.column("label").to_pylist()])
    pq.write_table(table.set_column(table.schema.get_field_index("label"), "label", labels), path)
    reseal(corpus)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_corpus_fails_validate_and_audit_in_one_line_naming_the_file(corpus, tmp_path, capsys, damage):
    damaged = tmp_path / "damaged"
    shutil.copytree(corpus, damaged, ignore=shutil.ignore_patterns("audit"))
    harm, expected = DAMAGE[damage]
    harm(damaged)
    assert main(["validate", str(damaged), "--max-fakes", "1", "--regenerate", "0"]) == 1
    captured = capsys.readouterr()
    assert not captured.err and "Traceback" not in captured.out
    assert (
        "problem: " in captured.out
        and expected in captured.out
        and captured.out.rstrip().split("\n")[-1].startswith("FAILED")
    )
    assert not json.loads((damaged / "validate.json").read_text())["passed"]
    assert main(["audit", str(damaged), "--out", str(tmp_path / "report")]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("kinefake audit: DAMAGED corpus: ")
    assert html.escape(expected) in (tmp_path / "report" / "index.html").read_text()


def test_a_manifest_that_is_not_an_object_is_refused_in_one_line(corpus, tmp_path, capsys):
    copied = tmp_path / "copied"
    shutil.copytree(corpus, copied, ignore=shutil.ignore_patterns("audit"))
    (copied / "manifest.json").write_text("[1, 2]")
    for argv in (["validate", str(copied)], ["audit", str(copied)], ["regenerate", str(copied), a_fake_key(corpus)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "is not a kinefake manifest: a JSON list" in err, err


def test_a_validate_json_of_another_shape_is_refused_not_shown(corpus, tmp_path):
    copied = tmp_path / "copied"
    shutil.copytree(corpus, copied, ignore=shutil.ignore_patterns("audit"))
    validated = json.loads((copied / "validate.json").read_text())
    validated["fakes_checked"] = PAYLOADS[0]
    (copied / "validate.json").write_text(json.dumps(validated))
    summary = audit([str(copied), "--per-operator", "1"])
    text = (copied / "audit" / "index.html").read_text()
    assert "validate.json does not fit its schema" in text and "fakes_checked: expected int, got str" in text
    assert "<script>window" not in text and text.count("<script>") == 1
    assert not any(n.startswith("validate_") for n in os.listdir(copied / "audit" / "assets"))
    assert summary["problems"] == []


# --- regenerate's folder, and every command on a full disk ---------------------------------------


def a_fake_key(corpus: Path) -> str:
    rows = pq.read_table(corpus / "parquet" / "samples", columns=["key", "label"]).to_pylist()
    return min(r["key"] for r in rows if r["label"] == 1)


def test_regenerate_refuses_an_out_that_is_a_file_or_inside_the_corpus(corpus, tmp_path, capsys):
    key = a_fake_key(corpus)
    (tmp_path / "a-file").write_text("mine")
    assert main(["regenerate", str(corpus), key, "--out", str(tmp_path / "a-file")]) == 2
    assert f"--out {tmp_path / 'a-file'} is a file" in capsys.readouterr().err
    assert main(["regenerate", str(corpus), key, "--out", str(corpus / "webdataset")]) == 2
    assert "lies inside the corpus" in capsys.readouterr().err
    assert (tmp_path / "a-file").read_text() == "mine"


def test_regenerate_finds_relative_sources_from_another_folder(faces, tmp_path, monkeypatch, capsys):
    made = tmp_path / "made"
    (made / "in").mkdir(parents=True)
    shutil.copyfile(face(faces, "first-order"), made / "in" / "video.mp4")
    monkeypatch.chdir(made)
    generate(["--input", "in", "--output", "corpus", "--max-clips-per-video", "1", "--fakes-per-clip", "1"])
    key = next(k for k in pq.read_table(made / "corpus" / "parquet" / "samples").column("key").to_pylist())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["regenerate", str(made / "corpus"), key, "--out", "rebuilt"]) == 0
    assert "identical to the stored members" in capsys.readouterr().out


@contextlib.contextmanager
def file_size_limit(size: int):
    """Writes beyond ``size`` bytes fail with EFBIG, as on a full disk (``ulimit -f``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_audit_validate_and_regenerate_on_a_full_disk_fail_in_one_line_and_leave_no_partial_file(
    corpus, tmp_path, capsys
):
    copied = tmp_path / "copied"
    shutil.copytree(corpus, copied, ignore=shutil.ignore_patterns("audit", "validate*"))
    key = a_fake_key(corpus)
    runs = {
        "audit": ["audit", str(copied), "--out", str(tmp_path / "report")],
        "validate": ["validate", str(copied), "--max-fakes", "1", "--regenerate", "0"],
        "regenerate": ["regenerate", str(copied), key, "--out", str(tmp_path / "rebuilt")],
    }
    before = tree(tmp_path)
    for command, argv in runs.items():
        with file_size_limit(3000):
            assert main(argv) == 2, command
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "File too large" in err and err.startswith(f"kinefake {command}: "), err
    after = tree(tmp_path)
    added = sorted(p for p in after if p not in before and after[p] is not None)
    assert added == [], added  # no partial file anywhere: no report, no validate.json, no 0-byte member

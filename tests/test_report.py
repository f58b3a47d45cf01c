"""The run report: built from a realistic output folder, then opened in a real headless Chromium.

The output folder is made by the library's own commit, publish and stats code (not by the pipeline
stages, which are tested elsewhere): four staged shards of seven languages with filter signals,
LID scores and dedup clusters, one quarantined shard and a few quarantined records.

Chromium: `apt-get install -y chromium` (Debian). Without it the browser tests skip, except on CI
(`CI` set), where a missing browser is a failure.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from matplotlib.figure import Figure

from cc_curate.output.publish import apply_decisions, publish_language
from cc_curate.output.schema import STAGED, UNDETERMINED_LANG
from cc_curate.output.staging import commit_shard, read_ledger, read_slices, slices_by_language
from cc_curate.output.storage import Storage
from cc_curate.recipe import load_recipe
from cc_curate.report import charts
from cc_curate.report import html as report_html
from cc_curate.report.charts import BAR_COLOR, Threshold
from cc_curate.report.html import build_report, funnel_steps
from cc_curate.report.run_data import thresholds_for
from cc_curate.report.stats import build_stats, write_stats
from cc_curate.settings import OutputSettings
from cc_curate.stages.base import Document, run_filters
from cc_curate.stages.filters import FinewebQuality, GopherQuality, GopherRepetition
from cc_curate.stages.registry import rules_for

from .conftest import REPO_ROOT

RECIPE = REPO_ROOT / "recipes" / "fineweb2.yaml"
# language -> (share of documents, vocabulary seed words, tokenizer)
LANGUAGES = {
    "eng_Latn": (0.38, "the of and to in is that it was for on are with as".split(), "whitespace"),
    "deu_Latn": (0.15, "der die und in den von zu das mit sich des auf für ist".split(), "whitespace"),
    "rus_Cyrl": (0.14, "в и на с по из был к не от что за для его как".split(), "whitespace"),
    "fra_Latn": (0.11, "de la le et les des en un une du est que pour dans".split(), "whitespace"),
    "cmn_Hani": (0.09, "的 一 是 不 了 人 我 在 有 他 这 中 大 来".split(), "jieba"),
    "spa_Latn": (0.07, "de la que el en y a los se del las un por con".split(), "whitespace"),
    "jpn_Jpan": (0.04, "の に は を た が で て と し れ さ ある いる".split(), "sudachi"),
}
URL_FILTERED_SHARE = 0.02
DOCS_PER_SHARD = 450
SHARDS = 4


def _signals(rng: np.random.Generator, words: int) -> dict[str, float]:
    """Plausible per-document values of the signals the quality filters write (their names)."""
    return {
        "dup_line_frac": float(rng.beta(1.2, 12)),
        "dup_para_frac": float(rng.beta(1.0, 14)),
        "top_2_gram": float(rng.beta(1.5, 14)),
        "duplicated_5_n_grams": float(rng.beta(1.1, 14)),
        "line_punct_ratio": float(rng.beta(4, 2.5)),
        "char_dup_ratio": float(rng.beta(1, 30)),
        "list_ratio": float(rng.gamma(2.0, 0.07)),
        "gopher_words": float(words),
        "gopher_avg_word_length": float(rng.normal(5.2, 1.2)),
        "gopher_alpha_words_ratio": float(rng.beta(14, 1.2)),
        "gopher_stop_words": float(rng.poisson(12)),
    }


def _first_failing_rule(signals: dict[str, float], params: dict) -> str | None:
    """A simplified FineWeb2 order over the fixture's signals, using the recipe's thresholds."""
    rep, fw, gq = (params["filters"][k] for k in ("gopher_repetition", "fineweb_quality", "gopher_quality"))
    checks = (
        ("gopher_repetition:dup_line_frac", signals["dup_line_frac"] > rep["dup_line_frac"]),
        ("gopher_repetition:top_2_gram", signals["top_2_gram"] > dict(rep["top_n_grams"])[2]),
        ("fineweb_quality:line_punct_ratio", signals["line_punct_ratio"] < fw["line_punct_thr"]),
        ("fineweb_quality:list_ratio", signals["list_ratio"] > fw["new_line_ratio"]),
        ("gopher_quality:gopher_short_doc", signals["gopher_words"] < gq["min_doc_words"]),
        ("gopher_quality:gopher_below_avg_threshold", signals["gopher_avg_word_length"] < gq["min_avg_word_length"]),
        ("gopher_quality:gopher_above_avg_threshold", signals["gopher_avg_word_length"] > gq["max_avg_word_length"]),
    )
    return next((reason for reason, failed in checks if failed), None)


def _shard_rows(rng: np.random.Generator, recipe, shard: int) -> tuple[pa.Table, list[dict], dict[str, float]]:
    langs = list(LANGUAGES)
    shares = np.array([LANGUAGES[lang][0] for lang in langs])
    rows, quarantined = [], []
    counters: dict[str, float] = {}

    def add(name: str, amount: float = 1) -> None:
        counters[name] = counters.get(name, 0) + amount

    for n in range(DOCS_PER_SHARD):
        doc_id = f"<urn:uuid:{rng.integers(0, 2**63):016x}-{shard:02d}-{n:04d}>"
        url = f"https://site{rng.integers(0, 400)}.example/page/{n}"
        base = dict(id=doc_id, url=url, dump="CC-MAIN-2024-10", date="2024-03-01T00:00:00Z",
                    file_path=f"s3://commoncrawl/crawl-data/CC-MAIN-2024-10/shard-{shard}.warc.gz",
                    minhash_cluster_size=None, minhash=None, text_hash=int(rng.integers(0, 2**63)))
        if rng.random() < URL_FILTERED_SHARE:
            add("url_filter.removed.blocked_domain")
            rows.append({**base, "text": "", "lang": UNDETERMINED_LANG, "language": "und", "language_script": "Zyyy",
                         "language_score": 0.0, "top_langs": "{}", "filter_reason": "url_filter",
                         "filter_signals": [], "word_count": 0, "tokenizer": None})
            continue
        lang = langs[rng.choice(len(langs), p=shares / shares.sum())]
        params = recipe.for_language(lang)
        vocab, tokenizer = LANGUAGES[lang][1], LANGUAGES[lang][2]
        words = int(np.clip(rng.lognormal(5.0, 0.8), 5, 4000))
        text = " ".join(rng.choice(vocab, size=words))
        score = float(np.clip(rng.beta(9, 1.6), 0, 1))
        signals = _signals(rng, words)
        reason = "language_score" if score <= params["lid"]["threshold"] else _first_failing_rule(signals, params)
        add("extraction.extracted")
        add(f"tokenizer.{tokenizer}")
        iso, script = lang.split("_")
        rows.append({**base, "text": text, "lang": lang, "language": iso, "language_script": script,
                     "language_score": score, "top_langs": json.dumps({f"{lang}_score": round(score, 4)}),
                     "filter_reason": reason, "filter_signals": list(signals.items()), "word_count": words,
                     "tokenizer": tokenizer})
    skipped = {"not_html": 140 + shard, "not_response": 900, "corrupt_record": 1}
    failed = {"empty": 12, "timeout": 1 + shard % 2}
    for reason, count in skipped.items():
        add(f"records.skipped.{reason}", count)
    for reason, count in failed.items():
        add(f"extraction.failed.{reason}", count)
        for k in range(count):  # a failed extraction is a removed row without language, as the pipeline stages it
            rows.append({"id": f"<urn:uuid:failed-{shard}-{reason}-{k}>", "url": f"https://failed{shard}.example/{k}",
                         "dump": "CC-MAIN-2024-10", "date": "2024-03-01T00:00:00Z",
                         "file_path": f"s3://commoncrawl/crawl-data/CC-MAIN-2024-10/shard-{shard}.warc.gz",
                         "minhash_cluster_size": None, "minhash": None, "text_hash": None, "text": "",
                         "lang": UNDETERMINED_LANG, "language": "und", "language_script": "Zyyy",
                         "language_score": 0.0, "top_langs": "{}", "filter_reason": f"extraction:{reason}",
                         "filter_signals": [], "word_count": None, "tokenizer": None})
    quarantined.append({"id": f"<urn:uuid:bad-{shard}>", "url": f"https://broken{shard}.example/",
                        "reason": "corrupt_record", "detail": "bad gzip member", "shard": f"shard-{shard}"})
    for k in range(failed["timeout"]):
        quarantined.append({"id": f"<urn:uuid:slow-{shard}-{k}>", "url": f"https://slow{shard}.example/{k}",
                            "reason": "timeout", "detail": "extraction took longer than 30.0 s",
                            "shard": f"shard-{shard}"})
    documents = len(rows)
    add("records.read", documents + sum(skipped.values()))
    add("records.quarantined", len(quarantined))
    stage_seconds = {"read": 0.4, "url_filter": 0.02, "extraction": 3.1, "lid": 0.5, "tokenize": 0.9,
                     "filters": 0.7, "minhash": 0.6, "text_fixes": 0.2, "commit": 0.3}
    for stage, seconds in stage_seconds.items():
        add(f"time.stage.{stage}", seconds * (1 + 0.1 * shard))
    if shard < 2:  # two worker processes built their pipeline (models load once per process)
        add("time.stage.setup", 1.5)
        add("pipeline.builds")
    add("time.shard_seconds", sum(v for k, v in counters.items() if k.startswith("time.stage.")) + 0.05)
    add("memory.peak_rss_bytes", float((700 + 40 * shard) * 2**20))
    add("shards.processed")
    table = pa.Table.from_pylist(rows, schema=STAGED)
    return table, quarantined, counters


def _decisions(rng: np.random.Generator, table: pa.Table) -> pa.Table:
    """Dedup decisions: most documents are singletons, some fall in clusters of a Zipf-like size."""
    candidates = table.filter(pc.invert(pc.is_in(table["filter_reason"], pa.array(["url_filter", "language_score"]))))
    ids = sorted(candidates["id"].to_pylist())
    rng.shuffle(ids)
    out_ids, sizes, dup_of = [], [], []
    position = 0
    while position < len(ids):
        size = 1 if rng.random() < 0.75 else int(min(rng.zipf(1.8) + 1, 40))
        members = sorted(ids[position:position + size])
        position += size
        for member in members:
            out_ids.append(member)
            sizes.append(len(members))
            dup_of.append(None if member == members[0] else members[0])
    text_hash = dict(zip(candidates["id"].to_pylist(), candidates["text_hash"].to_pylist()))
    return pa.table({"id": pa.array(out_ids, pa.string()),
                     "text_hash": pa.array([text_hash[i] for i in out_ids], pa.uint64()),
                     "minhash_cluster_size": pa.array(sizes, pa.int64()),
                     "duplicate_of": pa.array(dup_of, pa.string())})


def make_output(out: Path, *, dedup: bool = True, seed: int = 7) -> Path:
    """Write a small but complete, realistic run output under ``out`` and return it."""
    rng = np.random.default_rng(seed)
    recipe = load_recipe(RECIPE)
    storage = Storage(str(out))
    for shard in range(SHARDS):
        table, quarantined, counters = _shard_rows(rng, recipe, shard)
        commit_shard(storage, f"shard-{shard}", f"shard-{shard}.warc.gz", [table], quarantined, counters)
    storage.write_json("_quarantine/shards/shard-9.json", {
        "shard_id": "shard-9", "path": "s3://commoncrawl/crawl-data/CC-MAIN-2024-10/shard-9.warc.gz",
        "error": "OSError: connection reset by peer", "traceback": "OSError: connection reset by peer",
        "at": "2024-03-02T10:00:00Z",
    })
    committed = read_ledger(storage)
    languages = {}
    for lang, slices in sorted(slices_by_language(committed.values()).items()):
        table = read_slices(storage, slices)
        decisions = _decisions(rng, table) if dedup and lang != UNDETERMINED_LANG else None
        table = apply_decisions(table, decisions)
        stats = publish_language(storage, lang, table, recipe.section(OutputSettings, "output", lang))
        languages[lang] = stats
    stats = build_stats(recipe, committed, languages, ["shard-9"], shards_total=SHARDS + 1)
    stats["counters"]["time"].update({"dedup_seconds": 2.5, "publish_seconds": 1.8})
    write_stats(storage, stats, recipe)
    return out


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_output(tmp_path_factory.mktemp("report") / "out")


@pytest.fixture(scope="module")
def report(output: Path) -> Path:
    return Path(build_report(str(output)))


# --- the page itself -------------------------------------------------------------------------


def test_report_is_self_contained(report: Path) -> None:
    assert report == report.parent / "index.html" and report.parent.name == "report"
    html = report.read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert {"funnel.png", "languages.png", "removal_rates.png", "language_score.png", "cluster_sizes.png",
            "time.png", "signals_eng_Latn.png"} <= set(sources)
    for source in sources:
        assert "/" not in source and (report.parent / source).stat().st_size > 5_000, source
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)="(https?:)?//', html), "the page must not load anything from the network"


def test_report_tables(report: Path, output: Path) -> None:
    html = report.read_text(encoding="utf-8")
    stats = json.loads((output / "stats.json").read_text())
    for name, count, _ in funnel_steps(stats):
        assert f"<td>{name}</td><td class=\"n\">{count:,}</td>" in html
    assert "shard-9" in html and "connection reset by peer" in html  # quarantined shard
    assert "https://slow0.example/0" in html and "bad gzip member" in html  # quarantined records
    assert "records_add_up: yes" in html and "documents_add_up: yes" in html
    assert "Assumptions:" in html  # the cost estimate


def test_funnel_adds_up(output: Path) -> None:
    stats = json.loads((output / "stats.json").read_text())
    steps = dict((name, count) for name, count, _ in funnel_steps(stats))
    funnel = stats["funnel"]
    assert steps["records read"] == funnel["records_read"]
    assert steps["HTML records"] == funnel["records_read"] - funnel["skipped"]
    assert steps["filters kept"] == steps["published"] == funnel["kept"]
    counts = list(steps.values())
    assert counts == sorted(counts, reverse=True)
    removed = {r: v["total"] for r, v in stats["filters"].items()}
    assert steps["dedup kept"] - steps["filters kept"] == sum(
        n for r, n in removed.items() if r not in ("url_filter", "language_score", "duplicate")
        and not r.startswith("extraction:"))


def test_documents_check_counts_each_side_apart(tmp_path: Path) -> None:
    """``documents`` are the rows the shard pass committed (ledger), ``kept + removed`` what publish
    decided: a row that publish never reads breaks the check. Fails on ``removed = documents - kept``
    (checked: with that line back in report/stats.py the check stays true here)."""
    out = make_output(tmp_path / "out", dedup=False)
    assert json.loads((out / "stats.json").read_text())["check"]["documents_add_up"]
    storage, recipe = Storage(str(out)), load_recipe(RECIPE)
    committed = read_ledger(storage)
    languages = {}
    for lang, slices in sorted(slices_by_language(committed.values()).items()):
        table = apply_decisions(read_slices(storage, slices), None)
        if lang == "eng_Latn":
            table = table.slice(1)  # a row lost between the ledger and publish
        languages[lang] = publish_language(storage, lang, table, recipe.section(OutputSettings, "output", lang))
    stats = build_stats(recipe, committed, languages, [], shards_total=SHARDS)
    assert stats["check"] == {"records_add_up": True, "documents_add_up": False}


def test_thresholds_follow_the_recipe() -> None:
    params = copy.deepcopy(load_recipe(RECIPE).for_language("rus_Cyrl"))
    fw = params["filters"]["fineweb_quality"]
    assert [(t.key, t.value, t.bound) for t in thresholds_for("line_punct_ratio", params)] == [
        ("line_punct_thr", fw["line_punct_thr"], "min")]
    assert {(t.key, t.bound) for t in thresholds_for("gopher_avg_word_length", params)} == {
        ("min_avg_word_length", "min"), ("max_avg_word_length", "max")}
    top_2 = dict(params["filters"]["gopher_repetition"]["top_n_grams"])[2]
    assert [(t.key, t.value) for t in thresholds_for("top_2_gram", params)] == [("top_n_grams[2]", top_2)]
    assert [t.key for t in thresholds_for("duplicated_5_n_grams", params)] == ["dup_n_grams[5]"]
    assert thresholds_for("no_such_signal", params) == []
    params["filters"]["gopher_repetition"]["dup_line_frac"] = -1  # -1 turns a rule off
    assert thresholds_for("dup_line_frac", params) == []
    params["filters"]["gopher_quality"]["min_stop_words"] = 0  # so does 0 in the Gopher filters
    assert thresholds_for("gopher_stop_words", params) == []
    fw["enabled"] = False
    assert thresholds_for("line_punct_ratio", params) == []


def test_every_filter_signal_has_its_thresholds() -> None:
    """The stages' declared signals cover every signal the quality filters write."""
    recipe = load_recipe(RECIPE)
    params = recipe.for_language("eng_Latn")
    text = ("The committee met on Monday to discuss the budget for the coming year.\n"
            "Members agreed that the library and the park need more money, and that the roads can wait.\n"
            "A final vote will take place next week, after the public has had a chance to comment.\n"
            "Several residents asked whether the new bridge would be finished before winter arrives.\n"
            "The mayor said the engineers expect to open it in early November, weather permitting.\n")
    doc = Document(id="d", url="", date=None, text=text, lang="eng_Latn", words=text.split())
    stages = (GopherRepetition, FinewebQuality, GopherQuality)
    assert run_filters(doc, [(stage(recipe.params(stage, "eng_Latn")), recipe.params(stage, "eng_Latn"))
                             for stage in stages]) is None
    signals = doc.signals
    assert len(signals) >= 20  # every rule ran: the text passes them all
    missing = [name for name in signals if not thresholds_for(name, copy.deepcopy(params))
               and not rules_for(name)]
    assert not missing, f"signals the report cannot draw thresholds for: {missing}"


def test_grids_of_panels_are_drawn_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """They are the report's cost; fitting them (bbox_inches="tight") would lay every panel out twice."""
    draws = []
    draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda fig, renderer: (draws.append(fig), draw(fig, renderer))[1])
    rng = np.random.default_rng(1)
    signals = {f"signal_{i}": (rng.random(200), rng.random(20)) for i in range(25)}
    pngs = [
        charts.signals_chart("eng_Latn", signals, {"signal_0": [Threshold("key", 0.5, "max")]}),
        charts.lid_chart({"eng_Latn": rng.random(100), "deu_Latn": rng.random(50)}, {"eng_Latn": 0.65}),
    ]
    assert all(png.startswith(b"\x89PNG") for png in pngs)
    assert len(draws) == len(set(map(id, draws))) == len(pngs)


@pytest.fixture
def fewer_charts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draw the per-language figures for one or two languages only (charts are the slow part)."""
    monkeypatch.setattr(report_html, "SIGNAL_LANGUAGES", 1)
    monkeypatch.setattr(report_html, "LID_LANGUAGES", 2)


def test_dedup_off_is_said(tmp_path: Path, fewer_charts: None) -> None:
    out = make_output(tmp_path / "out", dedup=False)
    html = Path(build_report(str(out))).read_text(encoding="utf-8")
    assert "minhash_cluster_size is null for every document" in html
    assert "cluster_sizes.png" not in html


def test_signals_without_staging(tmp_path: Path, output: Path, fewer_charts: None) -> None:
    """After the run state is removed, removed documents' signals still come from the published files."""
    out = tmp_path / "out"
    shutil.copytree(output, out)
    shutil.rmtree(out / "_staging")
    shutil.rmtree(out / "_ledger")
    html = Path(build_report(str(out))).read_text(encoding="utf-8")
    assert "only removed documents are shown" in html
    assert "signals_eng_Latn.png" in html
    assert "The ledger is gone" in html


# --- in a real browser ------------------------------------------------------------------------


def chromium() -> str:
    """The Chromium binary; skip without it, but fail on CI where it must be installed."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    message = "chromium is not installed (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must install it")
    pytest.skip(message)


CHECK_SCRIPT = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images).map(i => [i.getAttribute("src"), i.complete, i.naturalWidth]);
  const out = document.createElement("pre");
  out.id = "imgcheck";
  out.textContent = JSON.stringify(images);
  document.body.appendChild(out);
});
</script>
"""


def _run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def check_in_browser(report: Path, tmp_path: Path) -> Path:
    """Screenshot the page and check every chart loaded and shows; return the screenshot."""
    from PIL import Image, ImageStat

    binary = chromium()
    # 1. every <img> decoded (naturalWidth > 0): a copy of the page with a probe script, in the same
    #    folder so the relative image paths resolve exactly as for the real page
    probe = report.parent / "_imgcheck.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8")
    try:
        result = _run_chromium(binary, tmp_path / "profile-dom", "--virtual-time-budget=10000", "--dump-dom",
                               probe.as_uri())
    finally:
        probe.unlink()
    match = re.search(r'<pre id="imgcheck">(.*?)</pre>', result.stdout, re.S)
    assert match, f"probe script did not run:\n{result.stderr[-2000:]}"
    images = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert len(images) >= 6
    broken = [src for src, complete, width in images if not (complete and width > 0)]
    assert not broken, f"images that did not load: {broken}"

    # 2. the screenshot is not blank and the charts' colours are on it
    shot = tmp_path / "report.png"
    result = _run_chromium(binary, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,4000",
                           "--hide-scrollbars", report.as_uri())
    assert shot.exists(), f"no screenshot:\n{result.stderr[-2000:]}"
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 4000)
    assert ImageStat.Stat(image.convert("L")).stddev[0] > 20, "the screenshot is (nearly) blank"
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    bar = np.array([int(BAR_COLOR[i:i + 2], 16) for i in (1, 3, 5)])
    assert (np.abs(pixels - bar).sum(axis=1) < 30).sum() > 5_000, "no chart bars visible in the screenshot"
    white = (pixels.min(axis=1) > 245).mean()
    assert white < 0.97, f"{white:.0%} of the screenshot is white"
    return shot


def test_report_in_chromium(report: Path, tmp_path: Path) -> None:
    shot = check_in_browser(report, tmp_path)
    keep = os.environ.get("CC_CURATE_KEEP_SCREENSHOT")
    if keep:  # to look at it: CC_CURATE_KEEP_SCREENSHOT=/tmp/report.png pytest tests/test_report.py
        shutil.copy(shot, keep)


# --- on a real pipeline output ---------------------------------------------------------------


@pytest.mark.slow
def test_report_on_real_pipeline_output(tmp_path: Path, shared_data: Path) -> None:
    """The whole pipeline on genuine Common Crawl WARC samples, then the report in Chromium."""
    out = tmp_path / "out"
    samples = shared_data / "cc_warc_samples"
    args = [sys.executable, "-m", "cc_curate.cli", "run", str(RECIPE), "--output", str(out), "--workers", "2",
            "--input", str(samples / "resiliparse-CC-MAIN-2020-34-sample.warc.gz"),
            "--input", str(samples / "whirlwind.warc.gz")]
    env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    result = subprocess.run(args, capture_output=True, text=True, cwd=REPO_ROOT, env=env)
    assert (out / "stats.json").exists(), f"the run published nothing:\n{result.stderr[-4000:]}"
    report = Path(build_report(str(out)))
    html = report.read_text(encoding="utf-8")
    assert "funnel.png" in html and "language_score.png" in html
    check_in_browser(report, tmp_path)

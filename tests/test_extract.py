"""Extraction: quality on real article pages, determinism, the per-document time limit."""

from __future__ import annotations

import gzip
import json
import re
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from cc_curate.stages import extract as extract_module
from cc_curate.stages.extract import (
    ExtractionMemoryExceeded,
    ExtractionTimeout,
    Extractor,
    _trim_short_edge_lines,
    resident_bytes,
)

PAGES = 12  # the first pages (by file name) of the Zyte benchmark


def token_f1(predicted: str, gold: str) -> float:
    pred = Counter(re.findall(r"\w+", predicted.lower()))
    ref = Counter(re.findall(r"\w+", gold.lower()))
    overlap = sum((pred & ref).values())
    if not overlap:
        return 0.0
    p, r = overlap / sum(pred.values()), overlap / sum(ref.values())
    return 2 * p * r / (p + r)


@pytest.fixture(scope="module")
def articles(shared_data: Path) -> list[tuple[str, str, str]]:
    root = shared_data / "extraction_scrapinghub_aeb"
    gold = json.loads(gzip.decompress((root / "ground-truth.json.gz").read_bytes()))
    pages = []
    for key in sorted(gold)[:PAGES]:
        html = gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8", "replace")
        pages.append((html, gold[key]["url"], gold[key]["articleBody"]))
    return pages


@pytest.mark.parametrize("backend,min_f1", [("trafilatura", 0.9), ("resiliparse", 0.85)])
def test_article_token_f1(articles: list[tuple[str, str, str]], backend: str, min_f1: float) -> None:
    extractor = Extractor({"backend": backend, "timeout_seconds": 30})
    scores = [token_f1(extractor.extract(html, url) or "", body) for html, url, body in articles]
    assert sum(scores) / len(scores) >= min_f1, scores


def test_trafilatura_is_deterministic_across_repeats(articles: list[tuple[str, str, str]]) -> None:
    # trafilatura's process-wide dedup cache would drop the third copy of a page; ours must not.
    html, url, _ = articles[0]
    extractor = Extractor({"backend": "trafilatura", "deduplicate": True})
    outputs = {extractor.extract(html, url) for _ in range(4)}
    assert len(outputs) == 1 and None not in outputs


def test_nothing_to_extract() -> None:
    for backend in ("trafilatura", "resiliparse"):
        extractor = Extractor({"backend": backend})
        assert extractor.extract("", "http://x") is None
        assert extractor.extract("<html><body>  </body></html>", "http://x") is None


def test_library_errors_propagate(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: Extractor, html: str, url: str) -> str:
        raise RuntimeError("parser crashed")

    monkeypatch.setattr(Extractor, "_trafilatura", boom)
    with pytest.raises(RuntimeError, match="parser crashed"):
        Extractor({"backend": "trafilatura", "timeout_seconds": 1}).extract("<p>x</p>", "u")
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="backend"):
        Extractor({"backend": "lynx"})


def _spin(self: Extractor, html: str, url: str) -> str:
    while True:
        try:
            time.sleep(0.001)
        except Exception:  # a library swallowing exceptions must not defeat the limit
            pass


def test_timeout_raises_and_restores_signal_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Extractor, "_trafilatura", _spin)
    extractor = Extractor({"backend": "trafilatura", "timeout_seconds": 0.2})
    handler_before = signal.getsignal(signal.SIGALRM)
    start = time.perf_counter()
    with pytest.raises(ExtractionTimeout):
        extractor.extract("<p>x</p>", "http://slow")
    assert time.perf_counter() - start < 2
    assert signal.getsignal(signal.SIGALRM) == handler_before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def _many_blocks(count: int) -> str:
    return "<html><body>" + "".join(
        f"<div class='c{i}'><p>word{i} and a few more words in block {i}</p></div>" for i in range(count)
    ) + "</body></html>"


def test_a_page_that_needs_too_much_memory_is_refused() -> None:
    # 20,000 blocks: trafilatura's tree walks grow the process by ~80 MB; the limit is 16 MiB.
    html = _many_blocks(20_000)
    extractor = Extractor({"backend": "trafilatura", "timeout_seconds": 120, "max_memory_mb": 16})
    before = resident_bytes()
    with pytest.raises(ExtractionMemoryExceeded, match="16 MiB"):
        extractor.extract(html, "http://big")
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert resident_bytes() - before < 512 << 20  # stopped, not run to the end
    # the same extractor goes on with the next page
    assert extractor.extract(_many_blocks(20), "http://small")


def test_out_of_memory_inside_the_library_is_reported_as_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    def oom(self: Extractor, html: str, url: str) -> str:
        raise MemoryError

    monkeypatch.setattr(Extractor, "_resiliparse", oom)
    with pytest.raises(ExtractionMemoryExceeded, match="out of memory"):
        Extractor({"backend": "resiliparse", "timeout_seconds": 5}).extract("<p>x</p>", "u")


def test_fast_pages_do_not_time_out(articles: list[tuple[str, str, str]]) -> None:
    extractor = Extractor({"backend": "resiliparse", "timeout_seconds": 5})
    html, url, _ = articles[1]
    for _ in range(3):
        assert extractor.extract(html, url)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_outside_main_thread_runs_without_limit(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setattr(Extractor, "_resiliparse", lambda self, html, url: "text")
    extractor = Extractor({"backend": "resiliparse", "timeout_seconds": 0.1})
    results: list[str | None] = []
    worker = threading.Thread(target=lambda: results.append(extractor.extract("<p>x</p>", "u")))
    with caplog.at_level("WARNING", logger=extract_module.__name__):
        worker.start()
        worker.join()
    assert results == ["text"]
    assert "main thread" in caplog.text


def test_trim_short_edge_lines() -> None:
    long = "x" * 70
    page = f"Menu\nShare\n{long}\nmiddle\n{long}\nRelated posts"
    assert _trim_short_edge_lines(page, 60) == f"{long}\nmiddle\n{long}"
    assert _trim_short_edge_lines("only\nshort\nlines", 60) == "only\nshort\nlines"
    assert _trim_short_edge_lines("a\nb", 0) == "a\nb"

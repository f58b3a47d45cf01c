"""Main-text extraction from HTML: trafilatura (FineWeb's choice) or resiliparse (faster).

trafilatura runs with FineWeb/datatrove's settings: ``favor_precision=True``,
``include_comments=False``, ``deduplicate=True``, plain-text output, everything else default.
One deliberate difference: trafilatura's deduplication normally remembers text segments in a
process-wide cache, so the same page extracted twice in one process loses its repeated parts
(and a third copy is dropped whole) — the output would depend on which documents a worker saw
before. We give every document a fresh cache instead, which keeps deduplication of segments
repeated *within* a page and makes extraction a pure function of the page (cross-document
duplicates are MinHash dedup's job).

Per-document guards: a time limit and a memory limit, both checked by one SIGALRM interval
timer (``signal.setitimer``, the mechanism datatrove uses for its time limit). The timer ticks
every ``GUARD_TICK_SECONDS`` while a document is extracted; at each tick the handler compares the
elapsed time with ``timeout_seconds`` and this process's resident memory (``/proc/self/statm``)
with its value when the document started plus ``max_memory_mb``. A document that extracts
within one tick (almost all) costs two ``setitimer`` calls and nothing else. The guards
interrupt pure-Python work (trafilatura's tree walks, regexes called from Python); they cannot
interrupt one long call into C (lxml parsing, resiliparse), which the recipe's
``max_html_bytes`` bounds instead (the pipeline quarantines larger pages before they reach the
extractor); a ``MemoryError`` raised inside such a call is reported like an exceeded limit.
Signals only reach the main thread, which is where Ray runs tasks and non-threaded actor
methods; when called from another thread the guards are skipped with a one-time warning (a
thread-based guard such as resiliparse's ``time_guard`` costs hundreds of milliseconds per call,
too much per document).
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from cc_curate.params import setting
from cc_curate.stages.base import BatchContext, Document, QuarantinedRecord, Stage

log = logging.getLogger(__name__)

# resiliparse options chosen by scripts/eval_extraction.py (see docs/extraction_quality.md).
# ``skip_elements`` are CSS selectors of blocks dropped before extraction (figure captions,
# related-article and newsletter boxes, footers; each measured to raise F1 on both gold sets).
# All but the last are extract_plain_text's; ``edge_line_min_chars`` is ours: leading and
# trailing lines shorter than this are dropped (0 = keep), because resiliparse's main-content
# rules keep the short blocks around an article (headings of related-article lists, bylines,
# "share"/"newsletter" lines) that trafilatura's density heuristics remove. Lines are measured in
# characters, not words, so that scripts without spaces (CJK, Thai) are treated alike.
RESILIPARSE_DEFAULTS: dict[str, Any] = {
    "preserve_formatting": True,
    "main_content": True,
    "list_bullets": True,
    "alt_texts": False,
    "links": False,
    "form_fields": False,
    "noscript": False,
    "post_meta": False,
    "hidden_elements": False,
    "skip_elements": ["footer", "[class*=caption]", "[class*=related]", "[class*=newsletter]"],
    "edge_line_min_chars": 60,
}


class ExtractionTimeout(Exception):
    """Extraction of one document took longer than ``timeout_seconds``; quarantine the record."""


class ExtractionMemoryExceeded(Exception):
    """Extraction of one document grew the process by more than ``max_memory_mb``; quarantine it."""


# resiliparse's main-content rules take time growing faster than the square of the nesting depth
# (5,000 nested elements: ~1 s; 20,000: ~90 s; 100,000: about half an hour), inside one C call
# that the time limit cannot interrupt. Deeper pages are refused after the (fast) parse. 512 is
# where browsers (Blink's HTML parser) stop nesting; lxml, under trafilatura, stops at 256.
MAX_DEPTH = 512
_TOO_DEEP = "*" + " > *" * MAX_DEPTH  # matches an element with MAX_DEPTH element ancestors

# How often the guards look at the clock and the memory while one document is extracted.
GUARD_TICK_SECONDS = 0.05
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class HtmlTooDeep(Exception):
    """The page's elements nest deeper than MAX_DEPTH (resiliparse); quarantine the record."""


class _Alarm(BaseException):
    """Raised by the SIGALRM handler. A BaseException so that the ``except Exception`` blocks
    inside extraction libraries cannot swallow it."""


def resident_bytes() -> int:
    """This process's resident set size now (Linux: /proc/self/statm; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_BYTES
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)


@contextmanager
def _guarded(seconds: float, max_growth_bytes: int) -> Iterator[list[str | None]]:
    """Raise ``_Alarm`` in the block once it runs over ``seconds`` or grows RSS by ``max_growth_bytes``.

    0 disables either limit. Yields a one-item list holding which limit fired ("time" or
    "memory"), which also catches the case where a library swallowed the exception anyway.
    """
    fired: list[str | None] = [None]
    started = time.monotonic()
    rss_limit = resident_bytes() + max_growth_bytes if max_growth_bytes > 0 else 0

    def on_tick(signum: int, frame: Any) -> None:
        if seconds > 0 and time.monotonic() - started >= seconds:
            fired[0] = "time"
        elif rss_limit and resident_bytes() > rss_limit:
            fired[0] = "memory"
        else:
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        raise _Alarm

    tick = min(GUARD_TICK_SECONDS, seconds) if seconds > 0 else GUARD_TICK_SECONDS
    previous = signal.signal(signal.SIGALRM, on_tick)
    signal.setitimer(signal.ITIMER_REAL, tick, tick)
    try:
        yield fired
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)


def _trim_short_edge_lines(text: str, min_chars: int) -> str:
    """Drop the lines before the first and after the last line of ``min_chars`` or more.

    A text with no such line is returned whole (a short page is not boilerplate by itself).
    """
    if min_chars <= 0:
        return text
    lines = text.split("\n")
    long_lines = [i for i, line in enumerate(lines) if len(line.strip()) >= min_chars]
    if not long_lines:
        return text
    return "\n".join(lines[long_lines[0] : long_lines[-1] + 1])


def _clean(text: str | None) -> str | None:
    return (text.strip() or None) if text else None


class Extractor:
    """Built once per worker from the recipe's ``extraction`` section; ``extract`` per document.

    Params: ``backend`` ("trafilatura" | "resiliparse"), ``favor_precision`` (true; trafilatura only),
    ``include_comments`` (false), ``deduplicate`` (true; trafilatura only),
    ``timeout_seconds`` (per document; 0 or unset = no limit), ``max_memory_mb`` (most growth
    of this process's resident memory while one document is extracted; 0 or unset = no limit),
    and optionally ``resiliparse``
    (a dict overriding ``RESILIPARSE_DEFAULTS``). ``max_html_bytes`` is the caller's: pages over
    it are quarantined by the pipeline, never cut (a truncated page extracts differently).
    """

    def __init__(self, params: Mapping[str, Any]):
        self.backend = str(params.get("backend", "trafilatura"))
        self.favor_precision = bool(params.get("favor_precision", True))
        self.include_comments = bool(params.get("include_comments", False))
        self.deduplicate = bool(params.get("deduplicate", True))
        self.timeout_seconds = float(params.get("timeout_seconds") or 0.0)
        self.max_memory_bytes = int(float(params.get("max_memory_mb") or 0) * (1 << 20))
        self._warned_thread = False
        self._run: Callable[[str, str], str | None]
        if self.backend == "trafilatura":
            # trafilatura logs a WARNING for every page it finds no text in; at Common Crawl
            # scale that drowns the worker logs. Only tightened when nobody configured it.
            traf_log = logging.getLogger("trafilatura")
            if traf_log.level == logging.NOTSET:
                traf_log.setLevel(logging.ERROR)
            self._run = self._trafilatura
        elif self.backend == "resiliparse":
            options = {
                **RESILIPARSE_DEFAULTS,
                "comments": self.include_comments,
                **dict(params.get("resiliparse") or {}),
            }
            self._edge_line_min_chars = int(options.pop("edge_line_min_chars"))
            self._resiliparse_options = options
            self._run = self._resiliparse
        else:
            raise ValueError(f"extraction.backend must be 'trafilatura' or 'resiliparse', not {self.backend!r}")

    def extract(self, html: str, url: str) -> str | None:
        """The main text of the page, or None when there is none.

        Raises ExtractionTimeout when the page takes longer than ``timeout_seconds``,
        ExtractionMemoryExceeded when it needs more than ``max_memory_mb`` (or the library runs
        out of memory); any other exception of the HTML library propagates, so the caller can
        quarantine the page with its reason instead of mistaking a crash for an empty page.
        """
        if not html:
            return None
        guarded = self.timeout_seconds > 0 or self.max_memory_bytes > 0
        try:
            if not guarded or not self._can_use_alarm():
                return _clean(self._run(html, url))
            with _guarded(self.timeout_seconds, self.max_memory_bytes) as fired:
                text = _clean(self._run(html, url))
        except _Alarm:
            pass
        except MemoryError:
            raise ExtractionMemoryExceeded(f"out of memory extracting {len(html)} chars: {url}") from None
        if fired[0] == "time":
            raise ExtractionTimeout(f"extraction took over {self.timeout_seconds}s: {url}")
        if fired[0] == "memory":
            raise ExtractionMemoryExceeded(
                f"extraction grew the worker by over {self.max_memory_bytes >> 20} MiB: {url}")
        return text

    def _can_use_alarm(self) -> bool:
        if threading.current_thread() is threading.main_thread():
            return True
        if not self._warned_thread:
            log.warning("extraction runs outside the main thread: no per-document time and memory limits")
            self._warned_thread = True
        return False

    def _trafilatura(self, html: str, url: str) -> str | None:
        import trafilatura
        from trafilatura.deduplication import LRUCache
        from trafilatura.settings import LRU_SIZE

        return trafilatura.extract(
            html,
            url=url or None,
            favor_precision=self.favor_precision,
            include_comments=self.include_comments,
            # a fresh cache per document: deduplication within the page only (see module doc)
            deduplicate=LRUCache(maxsize=LRU_SIZE) if self.deduplicate else False,
            output_format="txt",
        )

    def _resiliparse(self, html: str, url: str) -> str | None:
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.html import HTMLTree

        tree = HTMLTree.parse(html)
        if tree.document is not None and tree.document.query_selector(_TOO_DEEP) is not None:
            raise HtmlTooDeep(f"elements nested more than {MAX_DEPTH} deep: {url}")
        text = extract_plain_text(tree, **self._resiliparse_options)
        return _trim_short_edge_lines(text, self._edge_line_min_chars)


@dataclass(frozen=True)
class ExtractionParams:
    backend: str = setting("trafilatura", "Main-text extractor", choices=("trafilatura", "resiliparse"))
    favor_precision: bool = setting(True, "trafilatura: prefer precision (FineWeb setting)")
    include_comments: bool = setting(False, "trafilatura: keep comment sections")
    deduplicate: bool = setting(True, "trafilatura: drop repeated segments")
    timeout_seconds: float = setting(30.0, "Per-document extraction time limit", low=0.1)
    max_memory_mb: int = setting(2048, "Per-document extraction memory limit (MiB of growth; 0 = none)", low=0)
    max_html_bytes: int = setting(5000000, "Largest decoded HTML handed to the extractor", low=1)


# Why an extraction failed; the document's filter_reason is "extraction:{reason}".
FAILURES = ("empty", "html_too_large", "timeout", "memory", "html_too_deep", "extractor_error")
_RAISED = ((ExtractionTimeout, "timeout"), (ExtractionMemoryExceeded, "memory"), (HtmlTooDeep, "html_too_deep"))


class Extraction(Stage):
    """HTML -> main text. A page that fails (or has no text) stays a row, removed with
    ``extraction:{why}`` and no language; all but empty pages are also listed in _quarantine/."""

    name = "extraction"
    phase = "extract"
    doc = "Main-text extraction from HTML (trafilatura or resiliparse), with per-page time and memory limits"
    Params = ExtractionParams
    reasons = tuple(f"extraction:{why}" for why in FAILURES)
    decides_before_dedup = True
    needs_html = True

    def __init__(self, params: ExtractionParams, params_for: Any = None) -> None:
        super().__init__(params, params_for)
        self.extractor = Extractor(asdict(params))
        # Extraction libraries import and initialise on first use: do it now, as part of the
        # build, so that it is counted as set-up rather than as the first document's extraction.
        self.extractor.extract("<html><body><article><p>warm-up</p></article></body></html>", "")

    def process(self, doc: Document, params: ExtractionParams, context: BatchContext) -> None:
        if doc.text is None:
            failure = self._extract(doc, params)
            if failure is not None:
                context.counters.add(f"extraction.failed.{failure.reason}")
                if failure.reason != "empty":
                    context.quarantined.append(failure)
                doc.text = ""
                doc.remove(f"extraction:{failure.reason}")
                return
        context.counters.add("extraction.extracted")

    def _extract(self, doc: Document, params: ExtractionParams) -> QuarantinedRecord | None:
        html = doc.html or ""
        if len(html) > params.max_html_bytes:
            return QuarantinedRecord(doc.id, doc.url, "html_too_large", f"{len(html)} chars")
        try:
            text = self.extractor.extract(html, doc.url)
        except (ExtractionTimeout, ExtractionMemoryExceeded, HtmlTooDeep) as exc:
            why = next(reason for kind, reason in _RAISED if isinstance(exc, kind))
            return QuarantinedRecord(doc.id, doc.url, why, str(exc))
        except Exception as exc:  # the extractor crashed on this page: quarantine it, go on
            return QuarantinedRecord(doc.id, doc.url, "extractor_error", f"{type(exc).__name__}: {exc}")
        if not text or not text.strip():
            return QuarantinedRecord(doc.id, doc.url, "empty")
        doc.text = text
        return None

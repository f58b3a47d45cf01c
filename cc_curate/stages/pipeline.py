"""The per-document work of a shard, as one pure transform: raw records -> a STAGED Arrow table.

Order (FineWeb2): URL filter -> extraction -> language ID -> LID threshold -> quality filters
(Gopher repetition, FineWeb quality, Gopher quality, ...) -> text fixes and PII masking.
Rows are never dropped: a failed rule sets ``filter_reason`` (the first one that failed) so the
publish step can apply decisions in FineWeb2's order and write the ``_removed`` partitions.

Each document is tokenized once; the quality filters and the MinHash shingles share the words.
No Ray and no output I/O here: the runtime feeds batches in and writes what comes out.

Each batch also returns the wall seconds spent per stage as ``time.stage.{name}`` counters
(``url_filter``, ``extraction``, ``lid``, ``tokenize``, ``filters``, ``minhash``,
``text_fixes``, ``pii``, ``arrow``; ``setup`` takes the first call of each word tokenizer in
the process, which is where segmenters load their models). Two ``perf_counter`` calls per stage
and document: well under 1% of a document's time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from cc_curate.output.schema import STAGED, UNDETERMINED_LANG
from cc_curate.recipe import Recipe
from cc_curate.redaction import representable
from cc_curate.report.counters import Counters
from cc_curate.sources import RawRecord
from cc_curate.stages.extract import ExtractionMemoryExceeded, ExtractionTimeout, Extractor, HtmlTooDeep
from cc_curate.stages.filters import FILTERS
from cc_curate.stages.filters.text_fixes import fix_encoding, remove_symbol_lines
from cc_curate.stages.lid import LanguageIdentifier
from cc_curate.stages.minhash import minhash_signature, text_hash
from cc_curate.stages.pii import mask_pii
from cc_curate.stages.tokenize import get_tokenizer
from cc_curate.stages.url_filter import UrlFilter
from cc_curate.url_lists import CompiledUrlLists
from cc_curate.url_lists import for_recipe as url_lists_for_recipe


@dataclass
class QuarantinedRecord:
    """A record the pipeline could not process (kept out of the output, listed in _quarantine/)."""

    id: str
    url: str
    reason: str
    detail: str = ""


@dataclass
class BatchResult:
    table: pa.Table
    counters: Counters
    quarantined: list[QuarantinedRecord] = field(default_factory=list)


class DocumentPipeline:
    """Built once per worker process (models and word lists load once), then called per batch."""

    def __init__(self, recipe: Recipe, url_lists: CompiledUrlLists | None = None):
        """``url_lists``: FineWeb's compiled URL lists when the caller has them (the driver sends
        them to every worker); else they are loaded here if the recipe asks for them."""
        self.recipe = recipe
        settings = recipe.settings
        if url_lists is None:
            url_lists = url_lists_for_recipe(settings["url_filter"], recipe.path)
        self.url_filter = UrlFilter(settings["url_filter"], url_lists)
        self.extractor = Extractor(settings["extraction"])
        self.lid = LanguageIdentifier(settings["lid"])
        self.wanted_languages = frozenset(settings.get("languages") or ())
        self._warm_tokenizers: set[Any] = set()  # tokenizers this process has called once
        # Extraction libraries import and initialise on first use: do it now, as part of the
        # build, so that it is counted as set-up rather than as the first document's extraction.
        self.extractor.extract("<html><body><article><p>warm-up</p></article></body></html>", "")

    def process(self, records: Sequence[RawRecord], *, dump: str, file_path: str) -> BatchResult:
        """Turn one batch of records into staged rows plus the counters of what happened."""
        counters = Counters()
        times = dict.fromkeys(STAGE_TIMERS, 0.0)
        quarantined: list[QuarantinedRecord] = []
        rows: list[dict[str, Any]] = []
        texts: list[str] = []
        pending: list[dict[str, Any]] = []  # rows waiting for language ID
        url_seconds = extraction_seconds = 0.0

        for record in records:
            row = _base_row(record, dump, file_path)
            started = perf_counter()
            rule = self.url_filter.blocked(record.url)
            checked = perf_counter()
            url_seconds += checked - started
            if rule:
                counters.add(f"url_filter.removed.{rule}")
                row.update(text="", lang=UNDETERMINED_LANG, language="und", language_script="Zyyy",
                           language_score=0.0, filter_reason="url_filter",
                           filter_signals=[(f"url_filter.{rule}", 1.0)])
                rows.append(row)
                continue
            text = record.text
            if text is None:
                text, failure = self._extract(record)
                extraction_seconds += perf_counter() - checked
                if failure:
                    counters.add(f"extraction.failed.{failure.reason}")
                    if failure.reason != "empty":
                        quarantined.append(failure)
                    continue
            counters.add("extraction.extracted")
            row["text"] = text
            texts.append(text)
            pending.append(row)
        times["url_filter"] = url_seconds
        times["extraction"] = extraction_seconds

        started = perf_counter()
        results = self.lid.predict(texts)
        times["lid"] = perf_counter() - started
        for row, result in zip(pending, results):
            row.update(lang=result.lang, language=result.language, language_script=result.script,
                       language_score=result.score, top_langs=result.top_langs)
            if result.unsafe_label:  # a model label that names no safe partition: counted as und
                counters.add("lid.unsafe_label")
            self._annotate(row, counters, times)
            rows.append(row)
        started = perf_counter()
        table, rejected = _to_table(rows)
        for row, why in rejected:  # sources/ checks every field; this is the net under that check
            counters.add("records.skipped.unrepresentable")  # as when sources/ finds it
            quarantined.append(QuarantinedRecord(representable(row["id"]), representable(row["url"]),
                                                 "unrepresentable", why))
        times["arrow"] = perf_counter() - started
        for name, seconds in times.items():
            if seconds:
                counters.add(f"time.stage.{name}", seconds)
        return BatchResult(table, counters, quarantined)

    def _extract(self, record: RawRecord) -> tuple[str | None, QuarantinedRecord | None]:
        html = record.html or ""
        limit = self.recipe.settings["extraction"]["max_html_bytes"]
        if len(html) > limit:
            return None, QuarantinedRecord(record.id, record.url, "html_too_large", f"{len(html)} chars")
        try:
            text = self.extractor.extract(html, record.url)
        except ExtractionTimeout as exc:
            return None, QuarantinedRecord(record.id, record.url, "timeout", str(exc))
        except ExtractionMemoryExceeded as exc:
            return None, QuarantinedRecord(record.id, record.url, "memory", str(exc))
        except HtmlTooDeep as exc:
            return None, QuarantinedRecord(record.id, record.url, "html_too_deep", str(exc))
        except Exception as exc:  # the extractor crashed on this page: quarantine it, go on
            return None, QuarantinedRecord(record.id, record.url, "extractor_error", f"{type(exc).__name__}: {exc}")
        if not text or not text.strip():
            return None, QuarantinedRecord(record.id, record.url, "empty")
        return text, None

    def _annotate(self, row: dict[str, Any], counters: Counters, times: dict[str, float]) -> None:
        """Tokenize once; run every filter; compute the MinHash signature; mask PII."""
        lang = row["lang"]
        params = self.recipe.for_language(lang)
        text = row["text"]
        tokenizer = get_tokenizer(lang)
        started = perf_counter()
        words = tokenizer.words(text)
        done = perf_counter()
        if tokenizer in self._warm_tokenizers:
            times["tokenize"] += done - started
        else:  # the first call loads the segmenter's model (once per process): set-up, not work
            self._warm_tokenizers.add(tokenizer)
            times["setup"] += done - started
        signals: dict[str, float] = {}
        reason = None
        if self.wanted_languages and lang not in self.wanted_languages:
            reason = "language_not_selected"
        elif row["language_score"] < params["lid"]["threshold"]:
            reason = "language_score"
        filters = params["filters"]
        for name in FILTERS:  # FineWeb2's three first, then the optional C4 and precision filters
            section = filters.get(name)
            if not section or not section.get("enabled", False):
                continue
            extra = {"url": row["url"]} if name == "precision" else {}
            failed = FILTERS[name](text, words, section, signals, **extra)
            reason = reason or failed
        precision = filters.get("precision") or {}
        if precision.get("enabled") and not precision.get("wordlist"):  # FineWeb2 had a wordlist here
            counters.add(f"precision_no_wordlist.{lang}")
        started = perf_counter()
        times["filters"] += started - done
        row["filter_reason"] = reason
        row["filter_signals"] = list(signals.items())
        row["word_count"] = len(words)
        row["tokenizer"] = tokenizer.name
        signature = minhash_signature(words, params["minhash"])
        row["minhash"] = signature
        row["text_hash"] = text_hash(text)
        done = perf_counter()
        times["minhash"] += done - started
        # FineWeb2 repairs the text of the documents it keeps; one removed by a rule already here
        # stays removed whatever dedup decides, so its text is published (in _removed) as extracted.
        fixed = remove_symbol_lines(_fix_encoding_lines(text)) if reason is None else text
        started = perf_counter()
        times["text_fixes"] += started - done
        if params["pii"]["enabled"]:
            fixed, masked = mask_pii(fixed, params["pii"])
            counters.add("pii.masked", masked)
            times["pii"] += perf_counter() - started
        row["text"] = fixed
        counters.add(f"tokenizer.{tokenizer.name}")
        if tokenizer.name.startswith("fallback"):
            counters.add(f"tokenizer_fallback.{lang}")


# Stages timed per batch (``time.stage.{name}`` counters, wall seconds).
STAGE_TIMERS = ("setup", "url_filter", "extraction", "lid", "tokenize", "filters", "minhash",
                "text_fixes", "pii", "arrow")


# A line made only of these characters is one ftfy cannot change with FTFY_CONFIG: printable
# ASCII except "&" (HTML entities), plus tab. Control characters, "\r" and all non-ASCII go to ftfy.
_FTFY_UNTOUCHABLE_LINE = re.compile(r"[\t\x20-\x25\x27-\x7e]*")
_FTFY_UNTOUCHABLE_TEXT = re.compile(r"[\t\n\x20-\x25\x27-\x7e]*")


def _fix_encoding_lines(text: str) -> str:
    """``fix_encoding(text)``, exactly, with the lines ftfy cannot change kept out of its way.

    ftfy works one ``\n``-terminated line at a time and costs tens of microseconds per line even
    when it changes nothing; most lines of web text are plain ASCII. Its only state carried from
    line to line is HTML unescaping, switched off for good by the first line with a "<": when a
    text has both "<" and "&" it goes to ftfy whole, otherwise runs of consecutive lines that
    need it are fixed together and the rest is copied.
    """
    if "<" in text and "&" in text:
        return fix_encoding(text)
    if _FTFY_UNTOUCHABLE_TEXT.fullmatch(text):
        return text
    lines = text.split("\n")
    last = len(lines) - 1
    out: list[str] = []
    run: list[str] = []  # consecutive lines that go to ftfy, with their newlines
    for i, line in enumerate(lines):
        segment = line if i == last else line + "\n"
        if _FTFY_UNTOUCHABLE_LINE.fullmatch(line):
            if run:
                out.append(fix_encoding("".join(run)))
                run = []
            out.append(segment)
        else:
            run.append(segment)
    if run:
        out.append(fix_encoding("".join(run)))
    return "".join(out)


def _base_row(record: RawRecord, dump: str, file_path: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "url": record.url,
        "date": record.date,
        "dump": dump,
        "file_path": file_path,
        "minhash_cluster_size": None,
        "top_langs": json.dumps({}),
        "filter_signals": [],
    }


def _to_table(rows: Sequence[dict[str, Any]]) -> tuple[pa.Table, list[tuple[dict[str, Any], str]]]:
    """The STAGED table of ``rows``, and the rows Arrow refused with why: one bad row never fails the batch."""
    try:
        return _build_table(rows), []
    except (pa.ArrowException, UnicodeError, TypeError, ValueError, OverflowError):
        good, rejected = [], []
        for row in rows:  # rare: find the rows at fault, one by one
            try:
                _build_table([row])
                good.append(row)
            except (pa.ArrowException, UnicodeError, TypeError, ValueError, OverflowError) as exc:
                rejected.append((row, representable(f"{type(exc).__name__}: {exc}")))
        return _build_table(good), rejected


def _build_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    columns: dict[str, Any] = {name: [row.get(name) for row in rows] for name in STAGED.names if name != "minhash"}
    columns["minhash"] = _minhash_column([row.get("minhash") for row in rows])
    return pa.Table.from_pydict(columns, schema=STAGED)


def _minhash_column(signatures: Sequence[np.ndarray | None]) -> pa.Array:
    """The ``minhash`` column built from the numpy signatures in one piece (no Python ints)."""
    offsets = np.zeros(len(signatures) + 1, dtype=np.int32)
    missing = np.zeros(len(signatures), dtype=bool)
    parts = []
    for i, signature in enumerate(signatures):
        if signature is None:
            missing[i] = True
            offsets[i + 1] = offsets[i]
        else:
            parts.append(signature)
            offsets[i + 1] = offsets[i] + len(signature)
    values = pa.array(np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64), type=pa.uint64())
    mask = pa.array(missing) if missing.any() else None
    return pa.ListArray.from_arrays(pa.array(offsets), values, type=STAGED.field("minhash").type, mask=mask)

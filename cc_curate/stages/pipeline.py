"""The per-document work of a shard, as one pure transform: raw records -> a STAGED Arrow table.

Order (FineWeb2): URL filter -> extraction -> language ID -> LID threshold -> quality filters
(Gopher repetition, FineWeb quality, Gopher quality, ...) -> text fixes and PII masking.
Rows are never dropped: a failed rule sets ``filter_reason`` (the first one that failed) so the
publish step can apply decisions in FineWeb2's order and write the ``_removed`` partitions.

Each document is tokenized once; the quality filters and the MinHash shingles share the words.
No Ray and no output I/O here: the runtime feeds batches in and writes what comes out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import pyarrow as pa

from cc_curate.output.schema import STAGED, UNDETERMINED_LANG
from cc_curate.recipe import Recipe
from cc_curate.report.counters import Counters
from cc_curate.sources import RawRecord
from cc_curate.stages.extract import ExtractionTimeout, Extractor
from cc_curate.stages.filters import FILTERS, FINEWEB2_ORDER
from cc_curate.stages.filters.text_fixes import fix_encoding, remove_symbol_lines
from cc_curate.stages.lid import LanguageIdentifier
from cc_curate.stages.minhash import minhash_signature, text_hash
from cc_curate.stages.pii import mask_pii
from cc_curate.stages.tokenize import get_tokenizer
from cc_curate.stages.url_filter import UrlFilter


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

    def __init__(self, recipe: Recipe):
        self.recipe = recipe
        settings = recipe.settings
        self.url_filter = UrlFilter(settings["url_filter"])
        self.extractor = Extractor(settings["extraction"])
        self.lid = LanguageIdentifier(settings["lid"])
        self.wanted_languages = frozenset(settings.get("languages") or ())

    def process(self, records: Sequence[RawRecord], *, dump: str, file_path: str) -> BatchResult:
        """Turn one batch of records into staged rows plus the counters of what happened."""
        counters = Counters()
        quarantined: list[QuarantinedRecord] = []
        rows: list[dict[str, Any]] = []
        texts: list[str] = []
        pending: list[dict[str, Any]] = []  # rows waiting for language ID

        for record in records:
            row = _base_row(record, dump, file_path)
            rule = self.url_filter.blocked(record.url)
            if rule:
                counters.add(f"url_filter.removed.{rule}")
                row.update(text="", lang=UNDETERMINED_LANG, language="und", language_script="Zyyy",
                           language_score=0.0, filter_reason="url_filter")
                rows.append(row)
                continue
            text = record.text
            if text is None:
                text, failure = self._extract(record)
                if failure:
                    counters.add(f"extraction.failed.{failure.reason}")
                    if failure.reason != "empty":
                        quarantined.append(failure)
                    continue
            counters.add("extraction.extracted")
            row["text"] = text
            texts.append(text)
            pending.append(row)

        for row, result in zip(pending, self.lid.predict(texts)):
            row.update(lang=result.lang, language=result.language, language_script=result.script,
                       language_score=result.score, top_langs=result.top_langs)
            self._annotate(row, counters)
            rows.append(row)
        return BatchResult(_to_table(rows), counters, quarantined)

    def _extract(self, record: RawRecord) -> tuple[str | None, QuarantinedRecord | None]:
        html = record.html or ""
        limit = self.recipe.settings["extraction"]["max_html_bytes"]
        if len(html) > limit:
            return None, QuarantinedRecord(record.id, record.url, "html_too_large", f"{len(html)} chars")
        try:
            text = self.extractor.extract(html, record.url)
        except ExtractionTimeout as exc:
            return None, QuarantinedRecord(record.id, record.url, "timeout", str(exc))
        except Exception as exc:  # the extractor crashed on this page: quarantine it, go on
            return None, QuarantinedRecord(record.id, record.url, "extractor_error", f"{type(exc).__name__}: {exc}")
        if not text or not text.strip():
            return None, QuarantinedRecord(record.id, record.url, "empty")
        return text, None

    def _annotate(self, row: dict[str, Any], counters: Counters) -> None:
        """Tokenize once; run every filter; compute the MinHash signature; mask PII."""
        lang = row["lang"]
        params = self.recipe.for_language(lang)
        text = row["text"]
        tokenizer = get_tokenizer(lang)
        words = tokenizer.words(text)
        signals: dict[str, float] = {}
        reason = None
        if self.wanted_languages and lang not in self.wanted_languages:
            reason = "language_not_selected"
        elif row["language_score"] < params["lid"]["threshold"]:
            reason = "language_score"
        for name in FINEWEB2_ORDER:
            section = params["filters"].get(name)
            if not section or not section.get("enabled", False):
                continue
            extra = {"url": row["url"]} if name == "precision" else {}
            failed = FILTERS[name](text, words, section, signals, **extra)
            reason = reason or failed
        row["filter_reason"] = reason
        row["filter_signals"] = list(signals.items())
        row["word_count"] = len(words)
        row["tokenizer"] = tokenizer.name
        signature = minhash_signature(words, params["minhash"])
        row["minhash"] = None if signature is None else signature.tolist()
        row["text_hash"] = text_hash(text)
        fixed = remove_symbol_lines(fix_encoding(text))
        if params["pii"]["enabled"]:
            fixed, masked = mask_pii(fixed, params["pii"])
            counters.add("pii.masked", masked)
        row["text"] = fixed
        counters.add(f"tokenizer.{tokenizer.name}")
        if tokenizer.name.startswith("fallback"):
            counters.add(f"tokenizer_fallback.{lang}")


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


def _to_table(rows: Iterable[dict[str, Any]]) -> pa.Table:
    rows = list(rows)
    columns = {name: [row.get(name) for row in rows] for name in STAGED.names}
    return pa.Table.from_pydict(columns, schema=STAGED)

"""The per-document work of a shard, as one pure transform: raw records -> a staged Arrow table.

The recipe's stages run phase by phase over each batch (``cc_curate.stages.base`` lists the
phases; FineWeb2's order: URL filter -> extraction -> language ID and threshold -> tokenize ->
quality filters -> MinHash -> text fixes and PII masking). Rows are never dropped: a failed rule
sets ``filter_reason`` (the first one that failed) so the publish step can apply decisions in
FineWeb2's order and write the ``_removed`` partitions. A record whose URL is blocked or whose
extraction fails has no text and skips the later phases; it is a removed row without language.

Each document is tokenized once; the quality filters and the MinHash shingles share the words.
No Ray and no output I/O here: the runtime feeds batches in and writes what comes out.

Each batch also returns the wall seconds spent per stage as ``time.stage.{timer}`` counters
(``url_filter``, ``extraction``, ``lid``, ``tokenize``, ``filters`` (every quality filter),
``minhash``, ``text_fixes``, ``pii``, ``arrow``; ``setup`` takes the first call of each word
tokenizer in the process, which is where segmenters load their models).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Sequence

import pyarrow as pa

from cc_curate.output.schema import UNDETERMINED_LANG, staged_schema
from cc_curate.recipe import Recipe
from cc_curate.redaction import representable
from cc_curate.report.counters import Counters
from cc_curate.sources import RawRecord
from cc_curate.stages.base import BatchContext, Document, QuarantinedRecord, Stage, StageSetup
from cc_curate.url_lists import CompiledUrlLists

__all__ = ["BatchResult", "DocumentPipeline", "QuarantinedRecord"]

# What Arrow raises for a value it cannot hold (e.g. a lone surrogate in a string).
_ARROW_REFUSALS = (pa.ArrowException, UnicodeError, TypeError, ValueError, OverflowError)


@dataclass
class BatchResult:
    table: pa.Table
    counters: Counters
    quarantined: list[QuarantinedRecord] = field(default_factory=list)


class DocumentPipeline:
    """Built once per worker process (models and word lists load once), then called per batch."""

    def __init__(self, recipe: Recipe, url_lists: CompiledUrlLists | None = None):
        """``url_lists``: FineWeb's compiled URL lists when the caller has them (the driver sends
        them to every worker); else the URL filter loads them if the recipe asks for them."""
        self.recipe = recipe
        setup = StageSetup(languages=tuple(recipe.run.top.languages), recipe_path=recipe.path,
                           shared={"url_lists": url_lists} if url_lists is not None else {})
        self.stages: list[Stage] = []
        for cls in recipe.stages():
            stage = cls(recipe.params(cls), lambda lang, cls=cls: recipe.params(cls, lang))
            stage.setup(setup)
            self.stages.append(stage)
        self.schema = staged_schema([field for stage in self.stages for field in stage.columns])

    def process(self, records: Sequence[RawRecord], *, dump: str, file_path: str) -> BatchResult:
        """Turn one batch of records into staged rows plus the counters of what happened."""
        context = BatchContext()
        times: dict[str, float] = {}
        docs = [Document(id=r.id, url=r.url, date=r.date, html=r.html, text=r.text) for r in records]
        live = docs
        for stage in self.stages:
            if stage.phase in ("extract", "language"):  # a blocked or failed record goes no further
                live = [doc for doc in live if doc.filter_reason is None]
            setup_before = context.setup_seconds
            started = perf_counter()
            stage.process_batch(live, context)
            spent = perf_counter() - started - (context.setup_seconds - setup_before)
            timer = stage.timer or stage.name
            times[timer] = times.get(timer, 0.0) + spent
        started = perf_counter()
        table, rejected = self._to_table(docs, dump, file_path)
        for doc, why in rejected:  # sources/ checks every field; this is the net under that check
            context.counters.add("records.skipped.unrepresentable")  # as when sources/ finds it
            context.quarantined.append(QuarantinedRecord(representable(doc.id), representable(doc.url),
                                                         "unrepresentable", why))
        times["arrow"] = perf_counter() - started
        times["setup"] = context.setup_seconds
        for name, seconds in times.items():
            if seconds:
                context.counters.add(f"time.stage.{name}", seconds)
        return BatchResult(table, context.counters, context.quarantined)

    def _to_table(self, docs: Sequence[Document], dump: str,
                  file_path: str) -> tuple[pa.Table, list[tuple[Document, str]]]:
        """The staged rows, in the pipeline's schema (declared, never inferred), and the documents
        Arrow refused with why: one bad row never fails the batch."""
        try:
            return self._build_table(docs, dump, file_path), []
        except _ARROW_REFUSALS:
            good, rejected = [], []
            for doc in docs:  # rare: find the rows at fault, one by one
                try:
                    self._build_table([doc], dump, file_path)
                    good.append(doc)
                except _ARROW_REFUSALS as exc:
                    rejected.append((doc, representable(f"{type(exc).__name__}: {exc}")))
            return self._build_table(good, dump, file_path), rejected

    def _build_table(self, docs: Sequence[Document], dump: str, file_path: str) -> pa.Table:
        n = len(docs)
        undetermined = [doc.lang is None for doc in docs]
        columns: dict[str, Any] = {
            "text": ["" if u else doc.text for doc, u in zip(docs, undetermined)],
            "id": [doc.id for doc in docs],
            "dump": [dump] * n,
            "url": [doc.url for doc in docs],
            "date": [doc.date for doc in docs],
            "file_path": [file_path] * n,
            "language": ["und" if u else doc.language for doc, u in zip(docs, undetermined)],
            "language_score": [0.0 if u else doc.language_score for doc, u in zip(docs, undetermined)],
            "language_script": ["Zyyy" if u else doc.language_script for doc, u in zip(docs, undetermined)],
            "minhash_cluster_size": [None] * n,
            "top_langs": [doc.top_langs for doc in docs],
            "lang": [UNDETERMINED_LANG if u else doc.lang for doc, u in zip(docs, undetermined)],
            "filter_reason": [doc.filter_reason for doc in docs],
            "filter_signals": [list(doc.signals.items()) for doc in docs],
        }
        for stage in self.stages:
            for field in stage.columns:
                values = [doc.columns.get(field.name) for doc in docs]
                built = stage.to_arrow(field.name, values)
                columns[field.name] = built if built is not None else values
        return pa.Table.from_pydict({name: columns[name] for name in self.schema.names}, schema=self.schema)

"""Propose per-language quality thresholds from a target keep rate (``cc-curate calibrate --quality-keep``).

The sample is a run's output folder (its staged rows, minus those removed before scoring: URL
filter, LID) or a reference corpus of one language. Rows that already carry quality scores
(a run with the quality stage) are read as they are; otherwise each text is scored here with
the given models, on the words of the pipeline's tokenizer. The proposal, per language:

* ``min_score``: the combined score that keeps the target share of the sample;
* ``min_model_score``: the same per model, when there are several;
* ``min_bucket``: the highest percentile bucket threshold that keeps at least the share
  (buckets computed over the sample, as publishing computes them over the language).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow.compute as pc

from cc_curate.errors import UserError
from cc_curate.output.schema import PRE_DEDUP_REASONS
from cc_curate.output.staging import read_ledger, read_slices, slices_by_language
from cc_curate.output.storage import Storage
from cc_curate.quality.buckets import DEFAULT_BUCKETS, Histogram, combine
from cc_curate.quality.decisions import bucket_for_keep_rate, score_for_keep_rate
from cc_curate.quality.scoring import (
    SCORE_COLUMN,
    ModelSpec,
    QualityScorer,
    model_column,
)
from cc_curate.sources import RawRecord, iter_records
from cc_curate.sources.inputs import resolve_inputs
from cc_curate.stages.tokenize import get_tokenizer


def quality_layers(inputs: Sequence[str], languages: Sequence[str], models: Sequence[str], keep: float, *,
                   rule: str = "rank_mean") -> dict[str, dict[str, Any]]:
    """The ``quality`` layer of each language for ``cc-curate calibrate --quality-model NAME=PATH ...``."""
    specs = [model_arg(item, languages) for item in models]
    scorer = QualityScorer(specs)
    scores = collect_scores(inputs, languages, scorer)
    return {lang: propose(scores[lang], [s.name for s in specs], keep, ranges=dict(scorer.value_ranges(lang)),
                          rule=rule) for lang in languages}


def model_arg(item: str, languages: Sequence[str]) -> ModelSpec:
    """``NAME=PATH`` as a model spec (a PATH with ``{lang}`` serves ``languages``)."""
    name, sep, path = item.partition("=")
    if not sep or not path:
        raise UserError(f"--quality-model {item!r}: expected NAME=PATH")
    return ModelSpec(name, path, languages=tuple(languages) if "{lang}" in path else ())


def collect_scores(inputs: Sequence[str], languages: Sequence[str], scorer: QualityScorer) -> dict[str, dict[str, np.ndarray]]:
    """Every score column's values per language over the sample, one entry per document (NaN: not scored)."""
    values: dict[str, dict[str, list[float]]] = {lang: {c: [] for c in scorer.columns} for lang in languages}
    for source in inputs:
        storage = Storage(source)
        if storage.exists("_ledger"):
            slices = slices_by_language(read_ledger(storage).values())
            for lang in languages:
                _add_run_rows(storage, slices.get(lang, []), lang, scorer, values[lang])
        else:
            for shard in resolve_inputs([source]):
                for record in iter_records(shard):
                    if isinstance(record, RawRecord) and record.text:
                        for lang in languages:  # a corpus is one language (the CLI checks)
                            _add(scorer.score(lang, get_tokenizer(lang).words(record.text)), values[lang])
    return {lang: {c: np.asarray(v, dtype=np.float64) for c, v in cols.items()} for lang, cols in values.items()}


def _add_run_rows(storage: Storage, slices: list, lang: str, scorer: QualityScorer, out: dict[str, list[float]]) -> None:
    columns = ["text", "filter_reason"]
    table = read_slices(storage, slices, columns=columns)
    scored = ~pc.fill_null(pc.is_in(table["filter_reason"], pc.array(sorted(PRE_DEDUP_REASONS))), False)
    tokenizer = get_tokenizer(lang)
    for text in table.filter(scored)["text"].to_pylist():
        _add(scorer.score(lang, tokenizer.words(text)), out)


def _add(row: dict[str, float | None], out: dict[str, list[float]]) -> None:
    for column, value in row.items():  # NaN where a model did not score: columns stay aligned
        out[column].append(np.nan if value is None else value)


def propose(scores: dict[str, np.ndarray], models: Sequence[str], keep: float, *,
            ranges: dict[str, tuple[float, float]], buckets: int = DEFAULT_BUCKETS,
            rule: str = "rank_mean") -> dict[str, Any]:
    """The ``quality`` section of a language layer that keeps the share ``keep`` of the sample."""
    combined = _scored(scores.get(SCORE_COLUMN))
    if combined.size == 0:
        return {}
    layer: dict[str, Any] = {"min_score": score_for_keep_rate(combined, keep)}
    if len(models) > 1:
        layer["min_model_score"] = {name: score_for_keep_rate(_scored(scores[model_column(name)]), keep)
                                    for name in models if _scored(scores.get(model_column(name))).size}
    columns = [SCORE_COLUMN] if rule == "score_mean" else [model_column(n) for n in models]
    per_column = np.stack([_buckets(scores[c], ranges[c], buckets) for c in columns])
    chosen = np.asarray([b for b in combine(per_column, rule) if b is not None])
    layer["min_bucket"] = bucket_for_keep_rate(chosen, keep)
    return layer


def _scored(values: np.ndarray | None) -> np.ndarray:
    return np.zeros(0) if values is None else values[~np.isnan(values)]


def _buckets(values: np.ndarray, value_range: tuple[float, float], buckets: int) -> np.ndarray:
    scored = _scored(values)
    if scored.size == 0:
        return np.full(values.size, -1)
    return Histogram.of(scored, *value_range).edges(buckets).assign(values)

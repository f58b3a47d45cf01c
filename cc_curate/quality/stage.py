"""The ``quality`` stage: scores each document with the recipe's fastText models (annotate phase).

Built in but not in FineWeb2's default ``stages``: a recipe runs it by listing ``quality`` in
``stages`` (listed before ``minhash``, it runs after the filters and before MinHash) and naming at least one model. The
columns are per recipe: ``quality_score``, ``quality_score_{name}`` for each model, and
``quality_bucket`` (null when staged; set per language at publish).

Recipe section ``quality`` (per language, so a language file sets its own thresholds)::

    quality:
      enabled: true
      models:                       # name -> model; each becomes column quality_score_{name}
        edu: {path: "models/edu/{lang}.bin", languages: [deu_Latn, fra_Latn]}
        dclm: {path: "s3://bucket/dclm.bin", positive_label: hq, weight: 0.5, max_words: null}
      buckets: 20                   # percentile buckets per language, at publish time
      bucket_rule: rank_mean        # rank_mean | rank_max | score_mean
      min_score: -1                 # remove below this combined score (-1: off)
      min_model_score: {edu: 0.2}   # ... or below a model's own score
      min_bucket: 5                 # ... or below this bucket (decided at publish)

The models are run-wide (a language file changes thresholds, not models). A document removed
before the stage (URL filter, LID threshold or language selection) is not scored: its columns
are null, and so is its bucket. Scores also go into ``filter_signals`` (``quality_score`` and
``quality_score_{name}``), so the report draws their distributions and thresholds can be
changed later without re-scoring.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from cc_curate.errors import UserError
from cc_curate.output.schema import PRE_DEDUP_REASONS
from cc_curate.params import setting
from cc_curate.quality.buckets import BUCKET_COLUMN, DEFAULT_BUCKETS, RULES
from cc_curate.quality.decisions import DISABLED, QualityThresholds, score_reason
from cc_curate.quality.scoring import SCORE_COLUMN, ModelSpec, QualityScorer, model_column
from cc_curate.quality.text import DEFAULT_MAX_WORDS
from cc_curate.stages.base import BatchContext, Document, Resources, Signal, Stage

MODEL_KEYS = frozenset({"path", "languages", "weight", "positive_label", "max_words"})


@dataclass(frozen=True)
class QualityParams:
    enabled: bool = setting(True, "Score documents (a language file may switch scoring off)")
    models: dict[str, Any] = setting(
        {}, "name -> {path, languages, weight, positive_label, max_words}; path may hold {lang}")
    cache_dir: str | None = setting(None, "Where downloaded models are kept (default ~/.cache/cc_curate/quality)")
    buckets: int = setting(DEFAULT_BUCKETS, "Percentile buckets per language (quality_bucket)", low=2, high=1000)
    bucket_rule: str = setting("rank_mean", "How several models' buckets combine", choices=RULES)
    min_score: float = setting(DISABLED, "Remove below this combined quality_score (-1 disables)", low=-1.0)
    min_model_score: dict[str, Any] = setting({}, "model name -> remove below this score of that model")
    min_bucket: int = setting(DISABLED, "Remove below this quality_bucket, at publish (-1 disables)", low=-1)

    def __post_init__(self) -> None:
        model_specs(self.models)  # a bad entry fails when the recipe loads, not in a worker
        unknown = set(self.min_model_score) - set(self.models)
        if unknown:
            raise UserError(f"quality.min_model_score: {', '.join(sorted(unknown))} is not one of quality.models")

    @property
    def thresholds(self) -> QualityThresholds:
        return QualityThresholds(self.min_score, dict(self.min_model_score), self.min_bucket)


def model_specs(models: Mapping[str, Any]) -> list[ModelSpec]:
    """The recipe's ``quality.models`` as specs; a bad entry is a one-line error naming its key."""
    specs = []
    for name, entry in models.items():
        key = f"quality.models.{name}"
        if not isinstance(entry, Mapping) or "path" not in entry:
            raise UserError(f"{key}: a mapping with at least `path` is required")
        unknown = set(entry) - MODEL_KEYS
        if unknown:
            raise UserError(f"{key}: unknown key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(MODEL_KEYS))})")
        languages = entry.get("languages") or ()
        if isinstance(languages, str) or not all(isinstance(lang, str) for lang in languages):
            raise UserError(f"{key}.languages: a list of languages is required")
        max_words = entry.get("max_words", DEFAULT_MAX_WORDS)
        if max_words is not None and (not isinstance(max_words, int) or max_words < 1):
            raise UserError(f"{key}.max_words: a positive integer (or null: every word) is required")
        specs.append(ModelSpec(str(name), str(entry["path"]), tuple(languages), float(entry.get("weight", 1.0)),
                               entry.get("positive_label"), max_words))
    return specs


def _score_fields(params: QualityParams) -> tuple[pa.Field, ...]:
    """``quality_score`` and ``quality_score_{name}`` per model (none when switched off run-wide)."""
    names = list(params.models) if params.enabled else []
    return tuple(pa.field(c, pa.float64()) for c in (SCORE_COLUMN, *map(model_column, names)))


class Quality(Stage):
    """Scores documents with the recipe's models; removes those below a score threshold."""

    name = "quality"
    phase = "annotate"
    Params = QualityParams
    per_language = True
    doc = "Model-based quality: fastText scores per language, percentile buckets, thresholds (docs/quality.md)"
    # The class declares the columns every recipe has; an instance adds quality_score_{name} per model.
    columns: ClassVar[tuple[pa.Field, ...]] = (pa.field(SCORE_COLUMN, pa.float64()), pa.field(BUCKET_COLUMN, pa.int64()))
    signals = (Signal(SCORE_COLUMN, "min_score", "min", calibrate=False),)  # calibrated by --quality-keep
    reasons = ("quality:{model}", "quality_bucket:{model}")  # named by the models that scored the row
    resources = Resources(memory_mb=512)  # a fastText classifier's hashed n-gram table

    @classmethod
    def check(cls, params: QualityParams) -> None:
        if params.enabled and not params.models:
            raise UserError("quality.models: the stage runs, so name at least one model (name: {path: ...})")

    @classmethod
    def published_columns(cls, params: QualityParams) -> tuple[pa.Field, ...]:
        """The scores (``quality_bucket`` joins them once publish assigns it)."""
        return _score_fields(params)

    def __init__(self, params: QualityParams, params_for: Any = None):
        super().__init__(params, params_for)
        self.specs = model_specs(params.models) if params.enabled else []
        self.scorer = QualityScorer(self.specs, cache_dir=params.cache_dir)
        # Per recipe, not per class: one column per model the recipe names.
        self.columns = (*_score_fields(params), pa.field(BUCKET_COLUMN, pa.int64()))
        self.reasons = tuple(f"quality:{s.name}" for s in self.specs)

    def process(self, doc: Document, params: QualityParams, context: BatchContext) -> None:
        """Score one document (null when removed before the stage, or when its language file
        switches the stage off); apply the score thresholds."""
        if not self.specs:
            return
        doc.columns[BUCKET_COLUMN] = None  # known at publish time
        if doc.lang is None or doc.filter_reason in PRE_DEDUP_REASONS or not params.enabled:
            doc.columns.update(dict.fromkeys(self.scorer.columns))
            return
        scores = self.scorer.score(doc.lang, doc.words)
        doc.columns.update(scores)
        doc.signals.update({column: value for column, value in scores.items() if value is not None})
        reason = score_reason(scores, [s.name for s in self.specs], params.thresholds)
        if reason:
            doc.remove(reason)



"""The ``quality`` stage: scores each document with the recipe's fastText models (annotate phase).

Declared in the shape of the stage protocol (issue 11: ``cc_curate/stages/base.py``, ``Stage``
with ``name``, ``phase``, ``Params``, ``columns``, ``reasons`` and ``process_batch``). Until that
protocol is on main this class does not subclass ``Stage`` and its params use plain dataclass
fields with the metadata ``cc_curate.params.setting`` records. Registering it then takes: base
class ``Stage``; ``_setting`` -> ``setting``; ``signals = (Signal("quality_score", "min_score",
"min"),)``; the class in the registry, not in the default FineWeb2 ``stages`` (a recipe names
``quality`` before ``minhash``). Checked against the protocol's branch: with those changes the
pipeline stages ``quality_score``, ``quality_score_{name}`` and ``quality_bucket`` (columns are
per instance, one per model of the recipe).

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import pyarrow as pa

from cc_curate.errors import UserError
from cc_curate.output.schema import PRE_DEDUP_REASONS
from cc_curate.quality.buckets import BUCKET_COLUMN, DEFAULT_BUCKETS, RULES
from cc_curate.quality.decisions import DISABLED, QualityThresholds, score_reason
from cc_curate.quality.scoring import ModelSpec, QualityScorer
from cc_curate.quality.text import DEFAULT_MAX_WORDS

MODEL_KEYS = frozenset({"path", "languages", "weight", "positive_label", "max_words"})


def _setting(default: Any, doc: str, *, low: float | None = None, high: float | None = None,
             choices: tuple[str, ...] | None = None) -> Any:
    """A declared recipe key (the metadata of ``cc_curate.params.setting``)."""
    meta = {"doc": doc, "low": low, "high": high, "choices": choices}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class QualityParams:
    enabled: bool = _setting(False, "Score documents with the quality models")
    models: dict[str, Any] = _setting(
        {}, "name -> {path, languages, weight, positive_label, max_words}; path may hold {lang}")
    cache_dir: str | None = _setting(None, "Where downloaded models are kept (default ~/.cache/cc_curate/quality)")
    buckets: int = _setting(DEFAULT_BUCKETS, "Percentile buckets per language (quality_bucket)", low=2, high=1000)
    bucket_rule: str = _setting("rank_mean", "How several models' buckets combine", choices=RULES)
    min_score: float = _setting(DISABLED, "Remove below this combined quality_score (-1 disables)", low=-1.0)
    min_model_score: dict[str, Any] = _setting({}, "model name -> remove below this score of that model")
    min_bucket: int = _setting(DISABLED, "Remove below this quality_bucket, at publish (-1 disables)", low=-1)

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


class Doc(Protocol):
    """What the stage reads and writes of the protocol's shared ``Document``."""

    lang: str | None
    words: list[str]
    filter_reason: str | None
    signals: dict[str, float]
    columns: dict[str, Any]

    def remove(self, reason: str) -> None: ...


class QualityStage:
    name: ClassVar[str] = "quality"
    phase: ClassVar[str] = "annotate"
    Params: ClassVar[type] = QualityParams
    per_language: ClassVar[bool] = True
    doc: ClassVar[str] = "Model-based quality: fastText scores per language, percentile buckets, thresholds"

    def __init__(self, params: QualityParams, params_for: Any = None):
        self.params = params
        self._params_for = params_for
        self.specs = model_specs(params.models) if params.enabled else []
        self.scorer = QualityScorer(self.specs, cache_dir=params.cache_dir)
        # Per recipe, not per class: one column per model the recipe names.
        self.columns: tuple[pa.Field, ...] = (
            tuple(pa.field(c, pa.float64()) for c in self.scorer.columns) + (pa.field(BUCKET_COLUMN, pa.int64()),)
            if params.enabled else ())
        self.reasons: tuple[str, ...] = tuple(f"quality:{s.name}" for s in self.specs)

    def params_for(self, lang: str | None) -> QualityParams:
        if self._params_for is None or lang is None:
            return self.params
        return self._params_for(lang)

    def process_batch(self, docs: Sequence[Doc], context: Any = None) -> None:
        for doc in docs:
            self.process(doc, self.params_for(doc.lang), context)

    def process(self, doc: Doc, params: QualityParams, context: Any = None) -> None:
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



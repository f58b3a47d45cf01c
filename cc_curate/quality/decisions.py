"""Per-language quality thresholds, and the removal reason that names the model(s) behind it.

Three rules, each off at -1 (the recipe's convention for thresholds):

* ``min_model_score[name]``: one model's score below it -> ``quality:{name}``;
* ``min_score``: the combined ``quality_score`` below it -> ``quality:{a+b}`` (every model
  that scored the document);
* ``min_bucket``: the document's percentile bucket below it -> ``quality_bucket:{a+b}``.

Score rules can be decided in the shard pass, where the scores are computed; the bucket rule
only at publish time, when the whole language's distribution is known. A document no model
scored (its language has none, or it was removed before scoring) is never removed by these rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from cc_curate.quality.buckets import BucketEdges, Key, assign_buckets
from cc_curate.quality.scoring import SCORE_COLUMN, model_column

DISABLED = -1


@dataclass(frozen=True)
class QualityThresholds:
    min_score: float = DISABLED
    min_model_score: Mapping[str, float] = field(default_factory=dict)
    min_bucket: int = DISABLED


def score_reason(scores: Mapping[str, float | None], models: Sequence[str], thresholds: QualityThresholds) -> str | None:
    """The first failed score rule of one document (per-model rules first, in model order)."""
    for name in models:
        limit = thresholds.min_model_score.get(name, DISABLED)
        value = scores.get(model_column(name))
        if limit != DISABLED and value is not None and value < limit:
            return f"quality:{name}"
    combined = scores.get(SCORE_COLUMN)
    if thresholds.min_score != DISABLED and combined is not None and combined < thresholds.min_score:
        return f"quality:{_scored_by(scores, models)}"
    return None


def bucket_reasons(buckets: Sequence[int | None], min_bucket: int, names: Sequence[str]) -> list[str | None]:
    """``quality_bucket:{a+b}`` for each bucket below ``min_bucket`` (null buckets pass); ``names``
    are the models that scored each document."""
    if min_bucket == DISABLED:
        return [None] * len(buckets)
    return [None if b is None or b >= min_bucket else f"quality_bucket:{n}" for b, n in zip(buckets, names)]


def publish_decisions(table: pa.Table, edges: Mapping[Key, BucketEdges], models: Sequence[str], *,
                      rule: str, min_bucket: int, weights: Sequence[float] | None = None,
                      ) -> tuple[pa.Array, list[str | None]]:
    """What the publish step adds to a task's rows: the ``quality_bucket`` column and the bucket
    rule's removal reasons (null where the rule keeps the row)."""
    buckets = assign_buckets(table, edges, [model_column(m) for m in models], rule=rule, weights=weights)
    scored = [table[model_column(m)].is_valid().to_pylist() for m in models]
    names = ["+".join(m for m, ok in zip(models, row) if ok) for row in zip(*scored)]
    return buckets, bucket_reasons(buckets.to_pylist(), min_bucket, names)


def _scored_by(scores: Mapping[str, float | None], models: Sequence[str]) -> str:
    return "+".join(name for name in models if scores.get(model_column(name)) is not None)


def score_for_keep_rate(scores: np.ndarray, keep: float) -> float:
    """The ``min_score`` that keeps the share ``keep`` of ``scores`` (the ``1 - keep`` quantile).

    Rounded down to 6 decimals, so the rounded threshold still keeps at least that share.
    """
    if scores.size == 0:
        raise ValueError("no scores")
    return math.floor(float(np.quantile(scores, 1.0 - keep, method="lower")) * 1e6) / 1e6


def bucket_for_keep_rate(buckets: np.ndarray, keep: float) -> int:
    """The highest ``min_bucket`` that still keeps at least the share ``keep`` of the documents."""
    buckets = np.asarray(buckets)
    if buckets.size == 0:
        raise ValueError("no buckets")
    for candidate in range(int(buckets.max()), -1, -1):
        if np.mean(buckets >= candidate) >= keep:
            return candidate
    return 0

"""Percentile buckets of quality scores over a whole language, without one machine holding them all.

Each task that reads a part of a language's rows counts its scores in a sparse fixed-resolution
histogram per (language, score column): the score's range (a model's lowest and highest label
value, [0, 1] for a binary model) is cut into ``resolution`` equal bins (2^20 by default, so
bins are about 1e-6 wide) and only occupied bins are kept, so a histogram is never larger than
the scores it counts nor than ``resolution`` entries. Histograms add up exactly in any order
(integer counts), so the merged histogram, and the buckets derived from it, are the same
whatever the number of tasks or their order: deterministic. The driver merges them and keeps,
per (language, column), only the bucket edges (``buckets - 1`` bin numbers), which are what the
publish tasks need to give every document its bucket.

A document's bucket is ``floor(n * below / total)``: ``below`` is how many of the language's
scores fall in lower bins, so bucket 0 holds the lowest scores, bucket ``n - 1`` the highest,
each bucket about ``total / n`` documents, and documents whose scores share a bin (equal up to
1e-6) share a bucket. For a small language this is the exact percentile rank.

Ensembles (several models) combine per document by the recipe's rule (:data:`RULES`):
``rank_mean`` (the mean of each model's bucket, rounded down) or ``rank_max`` (the highest of
each model's bucket) – Nemotron-CC bins each classifier's scores into 20 percentile buckets and
combines the buckets – or ``score_mean``: the buckets of ``quality_score``, the weighted mean of
the models' scores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cc_curate.quality.scoring import SCORE_COLUMN

BUCKET_COLUMN = "quality_bucket"
DEFAULT_BUCKETS = 20  # Nemotron-CC
RESOLUTION = 1 << 20
RULES = ("rank_mean", "rank_max", "score_mean")


@dataclass(frozen=True)
class Histogram:
    """Counts of scores per occupied bin of ``[low, high]`` cut into ``resolution`` bins."""

    low: float
    high: float
    resolution: int
    bins: np.ndarray  # sorted unique bin numbers, int64
    counts: np.ndarray  # documents per bin, int64

    @classmethod
    def of(cls, scores: np.ndarray, low: float, high: float, resolution: int = RESOLUTION) -> Histogram:
        """The histogram of ``scores`` (no NaN) over ``[low, high]``."""
        bins, counts = np.unique(bin_numbers(scores, low, high, resolution), return_counts=True)
        return cls(low, high, resolution, bins.astype(np.int64), counts.astype(np.int64))

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def merge(self, other: Histogram) -> Histogram:
        if (self.low, self.high, self.resolution) != (other.low, other.high, other.resolution):
            raise ValueError(f"cannot merge histograms of [{self.low}, {self.high}]/{self.resolution} "
                             f"and [{other.low}, {other.high}]/{other.resolution}")
        bins = np.concatenate([self.bins, other.bins])
        counts = np.concatenate([self.counts, other.counts])
        merged, inverse = np.unique(bins, return_inverse=True)
        return Histogram(self.low, self.high, self.resolution, merged, np.bincount(inverse, weights=counts,
                                                                                  minlength=merged.size).astype(np.int64))

    def edges(self, buckets: int = DEFAULT_BUCKETS) -> BucketEdges:
        """The first bin of buckets 1 .. n-1 (``resolution`` where a bucket is empty at the top)."""
        below = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        bucket_of_bin = (below * buckets) // max(self.total, 1)
        firsts = np.searchsorted(bucket_of_bin, np.arange(1, buckets), side="left")
        padded = np.append(self.bins, self.resolution)
        return BucketEdges(self.low, self.high, self.resolution, padded[firsts].astype(np.int64))


@dataclass(frozen=True)
class BucketEdges:
    """What a publish task needs to bucket one (language, column): a few dozen numbers."""

    low: float
    high: float
    resolution: int
    firsts: np.ndarray  # first bin of buckets 1 .. n-1

    def assign(self, scores: np.ndarray) -> np.ndarray:
        """Bucket of each score (0 = lowest); NaN (not scored) -> -1."""
        scores = np.asarray(scores, dtype=np.float64)
        missing = np.isnan(scores)
        bins = bin_numbers(np.where(missing, self.low, scores), self.low, self.high, self.resolution)
        buckets = np.searchsorted(self.firsts, bins, side="right").astype(np.int64)
        return np.where(missing, -1, buckets)


def bin_numbers(scores: np.ndarray, low: float, high: float, resolution: int) -> np.ndarray:
    """Each score's bin in ``[low, high]`` cut into ``resolution`` bins (outside: the end bins)."""
    if not high > low:
        raise ValueError(f"score range [{low}, {high}] is empty")
    scaled = (np.asarray(scores, dtype=np.float64) - low) * (resolution / (high - low))
    return np.clip(np.floor(scaled), 0, resolution - 1).astype(np.int64)


# --- the distributed plan: count in tasks, merge in the driver, assign at publish -------------------


Key = tuple[str, str]  # (language, score column)


def count_scores(table: pa.Table, ranges: Mapping[str, tuple[float, float]], *,
                 resolution: int = RESOLUTION) -> dict[Key, Histogram]:
    """Histograms of one task's rows (columns ``lang`` + the score columns); null scores are skipped."""
    out: dict[Key, Histogram] = {}
    groups = _rows_by_language(table)
    for column, (low, high) in ranges.items():
        if column not in table.column_names:
            continue
        scores = _as_float(table[column])
        for lang, rows in groups:
            values = scores[rows]
            values = values[~np.isnan(values)]
            if values.size:
                out[(lang, column)] = Histogram.of(values, low, high, resolution)
    return out


def merge_counts(parts: Iterable[Mapping[Key, Histogram]]) -> dict[Key, Histogram]:
    """The driver's merge of every task's histograms (order does not matter)."""
    merged: dict[Key, Histogram] = {}
    for part in parts:
        for key, histogram in part.items():
            merged[key] = merged[key].merge(histogram) if key in merged else histogram
    return merged


def plan_edges(merged: Mapping[Key, Histogram], buckets: int = DEFAULT_BUCKETS) -> dict[Key, BucketEdges]:
    return {key: histogram.edges(buckets) for key, histogram in merged.items()}


def assign_buckets(table: pa.Table, edges: Mapping[Key, BucketEdges], model_columns: Sequence[str], *,
                   rule: str = "rank_mean", weights: Sequence[float] | None = None) -> pa.Array:
    """The ``quality_bucket`` column of one publish task's rows (null where nothing was scored)."""
    if rule not in RULES:
        raise ValueError(f"unknown bucket rule {rule!r} (one of {', '.join(RULES)})")
    columns = [SCORE_COLUMN] if rule == "score_mean" else list(model_columns)
    groups = _rows_by_language(table)
    per_column = np.full((len(columns), table.num_rows), -1, dtype=np.int64)
    for i, column in enumerate(columns):
        scores = _as_float(table[column])
        for lang, rows in groups:
            if (lang, column) in edges:
                per_column[i, rows] = edges[(lang, column)].assign(scores[rows])
    return pa.array(combine(per_column, rule, weights), type=pa.int64())


def combine(buckets: np.ndarray, rule: str, weights: Sequence[float] | None = None) -> list[int | None]:
    """One bucket per document from each column's buckets (rows = columns, -1 = not scored)."""
    scored = buckets >= 0
    if rule == "rank_max":
        best = buckets.max(axis=0, initial=-1)
        return [None if b < 0 else int(b) for b in best]
    w = np.ones(buckets.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    totals = (w[:, None] * scored).sum(axis=0)
    sums = (w[:, None] * np.where(scored, buckets, 0)).sum(axis=0)
    return [None if t == 0 else int(np.floor(s / t + 1e-9)) for s, t in zip(sums, totals)]


def _rows_by_language(table: pa.Table) -> list[tuple[str, np.ndarray]]:
    """(language, its row numbers) for each language of the table, in one sort."""
    names, inverse = np.unique(table["lang"].to_numpy(zero_copy_only=False).astype(str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=names.size))])
    return [(str(name), order[starts[i]:starts[i + 1]]) for i, name in enumerate(names)]


def _as_float(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return pc.fill_null(pc.cast(column, pa.float64()), float("nan")).to_numpy(zero_copy_only=False)

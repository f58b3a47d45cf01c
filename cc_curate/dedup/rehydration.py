"""FineWeb2 rehydration: how many copies a kept document gets, from its MinHash cluster size.

Two rules, both expressed as FineWeb2's weights format ``{first_cluster_size: copies}`` (a
document of cluster size ``s`` gets the copies of the largest key <= ``s``):

* ``SIMPLE_WEIGHTS``: the table of FineWeb2's README (1->1, 2->2, 3-4->3, 5-99->5, 100-999->8,
  >=1000->1);
* per-language weights from a distribution of quality-filter removal rates per cluster size
  (``weights_from_distribution``), exactly as FineWeb2 computed its published weights: sizes
  removed at or above the language's global rate get 1 copy, the size with the lowest rate gets
  ``max_copies``, linear in between; a 5-wide moving average (the first and last two sizes
  unsmoothed); rounded half to even; runs of equal values compressed into ranges.

Distributions come from FineWeb2's files (``load_distributions``) or from a run's own data
(``distribution_from_documents``, ``weights_from_table``).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cc_curate.output.schema import DUPLICATE_REASON

SIMPLE_WEIGHTS: dict[int, int] = {1: 1, 2: 2, 3: 3, 5: 5, 100: 8, 1000: 1}
# Share of a language's documents that FineWeb2's tail bucket holds (measured on its
# distributions: the tail starts at the largest size with at least 0.1% of documents at or above it).
TAIL_FRACTION = 0.001
_SMOOTHING = 5


def copies_for(cluster_size: int, weights_for_lang: Mapping[int | str, int]) -> int:
    """Copies of a document of ``cluster_size``: the value of the largest key <= size (1 below
    the first key or without weights). Keys may be ints or FineWeb2's JSON strings."""
    best_start, copies = 0, 1
    for start, value in weights_for_lang.items():
        start = int(start)
        if best_start < start <= cluster_size:
            best_start, copies = start, int(value)
    return copies


def weights_from_distribution(distribution: Mapping[str, Any], max_copies: int) -> dict[int, int]:
    """FineWeb2's per-language weights ``{first_size: copies}`` from one distribution."""
    sizes = [int(s) for s in distribution["cluster_sizes"]] + [int(distribution["tail_threshold"])]
    rates = np.array([*distribution["cluster_removal_rates"], distribution["tail_removal_rate"]], dtype=np.float64)
    global_rate = float(distribution["global_removal_rate"])
    best_rate = rates.min()
    copies = np.ones(len(rates))
    if best_rate < global_rate:
        below = rates < global_rate
        # This operation order reproduces FineWeb2's floating-point values (and so its rounding).
        copies[below] = 1 + (rates[below] - global_rate) / (best_rate - global_rate) * (max_copies - 1)
    # numpy's "same" convolution returns max(len, 5) values: with fewer than 5 sizes FineWeb2's
    # arrays were padded and then zipped with the sizes, which shifts the last values. Kept as
    # is: the published weights are built that way.
    smoothed = copies
    if len(copies) > 1:
        smoothed = np.convolve(copies, np.ones(_SMOOTHING) / _SMOOTHING, mode="same")
        edge = _SMOOTHING // 2
        smoothed[:edge], smoothed[-edge:] = copies[:edge], copies[-edge:]
    weights: dict[int, int] = {}
    previous = None
    for size, value in zip(sizes, np.round(smoothed).astype(int).tolist()):
        if value != previous:
            weights[size] = previous = value
    return weights


def compute_weights(distributions: Mapping[str, Mapping[str, Any]], max_copies: int) -> dict[str, dict[int, int]]:
    """``weights_from_distribution`` for every language."""
    return {lang: weights_from_distribution(dist, max_copies) for lang, dist in sorted(distributions.items())}


def load_distributions(location: str, storage_options: dict | None = None) -> dict[str, dict[str, Any]]:
    """Distributions from a folder of ``{lang}.json`` (FineWeb2's layout) or one JSON file
    mapping language -> distribution."""
    fs, path = fsspec.core.url_to_fs(location, **(storage_options or {}))
    if fs.isdir(path):
        found = {}
        for file in sorted(fs.glob(f"{path.rstrip('/')}/*.json")):
            with fs.open(file, "rb") as handle:
                found[file.rsplit("/", 1)[1].removesuffix(".json")] = json.load(handle)
        return found
    with fs.open(path, "rb") as handle:
        return json.load(handle)


def distribution_from_documents(
    cluster_sizes: np.ndarray, removed: np.ndarray, tail_fraction: float = TAIL_FRACTION
) -> dict[str, Any]:
    """One language's distribution, in FineWeb2's format, from its documents that survived dedup.

    ``cluster_sizes[i]``: MinHash cluster size of kept document ``i``; ``removed[i]``: whether
    a quality filter then removed it. Sizes at or above the tail threshold share one bucket.
    """
    if np.asarray(cluster_sizes).size == 0:
        raise ValueError("no documents: a distribution needs at least one kept document")
    return distribution_from_counts(size_counts(cluster_sizes, removed), tail_fraction)


SizeCounts = tuple[np.ndarray, np.ndarray, np.ndarray]  # sizes (ascending), documents, removed


def size_counts(cluster_sizes: np.ndarray, removed: np.ndarray) -> SizeCounts:
    """Per cluster size: how many documents, and how many of them a quality filter removed.

    Counts are additive: a language published by several tasks merges theirs with ``merge_counts``.
    """
    cluster_sizes = np.asarray(cluster_sizes, dtype=np.int64)
    removed = np.asarray(removed, dtype=bool)
    sizes, inverse, totals = np.unique(cluster_sizes, return_inverse=True, return_counts=True)
    removed_counts = np.bincount(inverse, weights=removed, minlength=len(sizes)).astype(np.int64)
    return sizes, totals.astype(np.int64), removed_counts


def merge_counts(parts: list[SizeCounts]) -> SizeCounts:
    """The counts of the union of the documents behind ``parts``."""
    sizes = np.concatenate([p[0] for p in parts]).astype(np.int64)
    merged, inverse = np.unique(sizes, return_inverse=True)
    totals = np.bincount(inverse, weights=np.concatenate([p[1] for p in parts]), minlength=len(merged))
    removed = np.bincount(inverse, weights=np.concatenate([p[2] for p in parts]), minlength=len(merged))
    return merged, totals.astype(np.int64), removed.astype(np.int64)


def distribution_from_counts(counts: SizeCounts, tail_fraction: float = TAIL_FRACTION) -> dict[str, Any]:
    """FineWeb2's distribution from per-size counts (see ``distribution_from_documents``)."""
    sizes, totals, removed_counts = counts
    documents = int(totals.sum())
    at_or_above = np.cumsum(totals[::-1])[::-1] / documents
    tail_start = int(np.flatnonzero(at_or_above >= tail_fraction)[-1])
    head = slice(0, tail_start)
    tail_total = int(totals[tail_start:].sum())
    tail_removed = int(removed_counts[tail_start:].sum())
    return {
        "cluster_sizes": sizes[head].tolist(),
        "cluster_removal_rates": (100.0 * removed_counts[head] / totals[head]).tolist(),
        "cluster_post_filtering_doc_counts": (totals[head] - removed_counts[head]).tolist(),
        "tail_threshold": int(sizes[tail_start]),
        "tail_removal_rate": 100.0 * tail_removed / tail_total,
        "tail_post_filtering_doc_counts": tail_total - tail_removed,
        "global_removal_rate": 100.0 * float(removed_counts.sum()) / documents,
    }


def distributions_from_documents(
    langs: np.ndarray, cluster_sizes: np.ndarray, removed: np.ndarray, tail_fraction: float = TAIL_FRACTION
) -> dict[str, dict[str, Any]]:
    """``distribution_from_documents`` per language (documents that survived dedup)."""
    langs = np.asarray(langs, dtype=object)
    cluster_sizes, removed = np.asarray(cluster_sizes), np.asarray(removed, dtype=bool)
    return {
        str(lang): distribution_from_documents(cluster_sizes[langs == lang], removed[langs == lang], tail_fraction)
        for lang in sorted(set(langs.tolist()))
    }


def counts_from_table(table: pa.Table) -> SizeCounts | None:
    """Per-size counts of one language's documents after dedup decisions were applied.

    Uses the rows that survived dedup (``minhash_cluster_size`` set and ``filter_reason`` not
    the duplicate reason); a non-null ``filter_reason`` among them is a quality-filter removal.
    None when no row qualifies.
    """
    reason = table["filter_reason"]
    survived = pc.and_(
        pc.is_valid(table["minhash_cluster_size"]),
        pc.fill_null(pc.not_equal(reason, pa.scalar(DUPLICATE_REASON)), True),
    )
    kept = table.filter(survived)
    if kept.num_rows == 0:
        return None
    return size_counts(
        kept["minhash_cluster_size"].to_numpy(), pc.is_valid(kept["filter_reason"]).to_numpy(zero_copy_only=False)
    )


def distribution_from_table(table: pa.Table) -> dict[str, Any] | None:
    """One language's distribution from its own documents (see ``counts_from_table``); None without any."""
    counts = counts_from_table(table)
    return distribution_from_counts(counts) if counts is not None else None


def weights_from_table(table: pa.Table, max_copies: int) -> dict[int, int]:
    """One language's weights from its own distribution; empty (1 copy each) without one."""
    distribution = distribution_from_table(table)
    return weights_from_distribution(distribution, max_copies) if distribution else {}


def rehydration_weights_command(distributions: str, max_copies: int) -> dict:
    """``cc-curate rehydration-weights``: {lang: {"first_size": copies}}, FineWeb2's JSON layout.

    ``distributions``: a folder of ``{lang}.json`` (e.g. FineWeb2's misc/rehydration/distributions)
    or one JSON file mapping language -> distribution.
    """
    if max_copies < 1:
        raise ValueError(f"max_copies must be >= 1, got {max_copies}")
    weights = compute_weights(load_distributions(distributions), max_copies)
    return {lang: {str(size): copies for size, copies in table.items()} for lang, table in weights.items()}

"""After every shard is committed: per-language dedup, then publish tasks per language.

A language of more than ``runtime.docs_per_publish_task`` documents is published by several
tasks (ranks), each reading only its rank's rows, so no process holds a whole large language.
Its rehydration distribution needs every rank's counts: for such a language a first, light
wave of tasks reads three columns and returns per-cluster-size counts, which the driver merges.
Tasks receive paths and row-group lists, read what they need from the staged files themselves,
and return only statistics.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import ray

from cc_curate.dedup.rehydration import (
    SizeCounts,
    counts_from_table,
    distribution_from_counts,
    merge_counts,
    weights_from_distribution,
)
from cc_curate.errors import UserError
from cc_curate.output.publish import apply_decisions, clear_language, merge_language_stats, publish_language, rank_of
from cc_curate.output.schema import STAGED
from cc_curate.output.staging import LanguageSlice, slices_by_language
from cc_curate.output.storage import Storage
from cc_curate.recipe import Recipe

DEDUP_WORK = "_dedup"
# The release's MinHash band index: `--dedup-against` a previous output reads it from there.
MINHASH_INDEX = "_index/minhash"
# Per language: cluster size -> share removed by the quality filters (FineWeb2's distributions).
REHYDRATION_DISTRIBUTIONS = "rehydration/distributions"


def publish_all(storage: Storage, recipe: Recipe, committed: dict[str, dict[str, Any]], output: str,
                dedup_against: str | None = None) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """Dedup (when enabled) and publish every language found in the committed shards.

    ``dedup_against``: the output folder of an earlier release; documents duplicating it are
    removed without recomputing that release (its band index is read). Returns the per-language
    statistics and the wall seconds of the two phases (``time.dedup_seconds``, ``time.publish_seconds``).
    """
    slices = slices_by_language(committed.values())
    decisions: dict[str, str] = {}
    started = time.perf_counter()
    if recipe.settings["dedup"]["enabled"] and slices:
        decisions = _dedup(storage, recipe, committed, dedup_against)
    deduped = time.perf_counter()
    options = recipe.settings["input"]["storage_options"] or None
    retries = recipe.settings["runtime"]["max_retries"]
    per_task = recipe.settings["runtime"]["docs_per_publish_task"]
    ranks = {lang: max(1, math.ceil(sum(s.rows for s in lang_slices) / per_task)) for lang, lang_slices in slices.items()}
    weights = _split_language_weights(storage, recipe, slices, decisions, ranks)
    for lang in sorted(slices):
        clear_language(storage, lang)
    task = ray.remote(_publish_one).options(num_cpus=1, max_retries=retries, retry_exceptions=True)
    recipe_ref = ray.put(recipe)
    refs = {
        (lang, rank): task.remote(output, options, lang, lang_slices, decisions.get(lang), recipe_ref,
                                  rank, ranks[lang], weights.get(lang))
        for lang, lang_slices in sorted(slices.items())
        for rank in range(ranks[lang])
    }
    parts: dict[str, list[dict[str, Any]]] = {}
    for (lang, _), stats in zip(refs, ray.get(list(refs.values()))):
        parts.setdefault(lang, []).append(stats)
    languages = {lang: merge_language_stats(lang_parts) for lang, lang_parts in parts.items()}
    timings = {"time.dedup_seconds": round(deduped - started, 3),
               "time.publish_seconds": round(time.perf_counter() - deduped, 3)}
    return languages, timings


def _split_language_weights(storage: Storage, recipe: Recipe, slices: dict[str, list[LanguageSlice]],
                            decisions: dict[str, str], ranks: dict[str, int]) -> dict[str, dict[int, int]]:
    """Rehydration weights of the deduplicated languages published by several ranks (their
    distributions are written here); a one-rank language's task computes its own."""
    split = sorted(lang for lang, n in ranks.items() if n > 1 and lang in decisions)
    if not split:
        return {}
    options = recipe.settings["input"]["storage_options"] or None
    task = ray.remote(_count_one).options(num_cpus=1, max_retries=recipe.settings["runtime"]["max_retries"],
                                          retry_exceptions=True)
    refs = {(lang, rank): task.remote(storage.url, options, slices[lang], decisions[lang], rank, ranks[lang])
            for lang in split for rank in range(ranks[lang])}
    counts: dict[str, list[SizeCounts]] = {}
    for (lang, _), part in zip(refs, ray.get(list(refs.values()))):
        if part is not None:
            counts.setdefault(lang, []).append(part)
    weights = {}
    for lang, parts in counts.items():
        distribution = distribution_from_counts(merge_counts(parts))
        storage.write_json(f"{REHYDRATION_DISTRIBUTIONS}/{lang}.json", distribution)
        output = recipe.for_language(lang)["output"]
        if output["rehydration"] != "none":
            weights[lang] = weights_from_distribution(distribution, output["max_copies"])
    return weights


def _dedup(storage: Storage, recipe: Recipe, committed: dict[str, dict[str, Any]],
           dedup_against: str | None) -> dict[str, str]:
    from cc_curate.runtime.dedup import run_dedup

    staged = [f"{storage.url}/{entry['rows_file']}" for _, entry in sorted(committed.items())]
    params = {**recipe.settings["dedup"], "minhash": recipe.settings["minhash"],
              "max_retries": recipe.settings["runtime"]["max_retries"]}
    previous = previous_index(dedup_against, recipe) if dedup_against else None
    return run_dedup(
        staged, f"{storage.url}/{DEDUP_WORK}", params,
        previous_index=previous, index_out=f"{storage.url}/{MINHASH_INDEX}",
        storage_options=recipe.settings["input"]["storage_options"] or None,
    )


def previous_index(dedup_against: str, recipe: Recipe) -> str:
    """The band index of an earlier release's output folder; a UserError if it has none."""
    index = f"{dedup_against.rstrip('/')}/{MINHASH_INDEX}"
    if not Storage(index, recipe.settings["input"]["storage_options"] or None).exists(""):
        raise UserError(f"--dedup-against {dedup_against}: no MinHash index at {index} "
                        "(was that output published by cc_curate with dedup enabled?)")
    return index


def _publish_one(
    output: str,
    storage_options: dict | None,
    lang: str,
    slices: list[LanguageSlice],
    decisions_path: str | None,
    recipe: Recipe,
    rank: int,
    ranks: int,
    weights: dict[int, int] | None,
) -> dict[str, Any]:
    """Publish rank ``rank`` of ``ranks`` of one language. ``weights``: the language's rehydration
    weights when it has several ranks (None: this one-rank task computes them from its rows)."""
    storage = Storage(output, storage_options)
    table = apply_decisions(_read_rank(storage, slices, rank, ranks), _read_decisions(storage, decisions_path, rank, ranks))
    settings = recipe.for_language(lang)
    if ranks == 1 and decisions_path is not None:
        counts = counts_from_table(table)
        if counts is not None:  # FineWeb2's format: `cc-curate rehydration-weights` reads it
            distribution = distribution_from_counts(counts)
            storage.write_json(f"{REHYDRATION_DISTRIBUTIONS}/{lang}.json", distribution)
            if settings["output"]["rehydration"] != "none":
                weights = weights_from_distribution(distribution, settings["output"]["max_copies"])
    if settings["output"]["rehydration"] != "none":
        weights = weights or {}
    return publish_language(storage, lang, table, settings, rehydration_weights=weights, rank=rank)


def _count_one(output: str, storage_options: dict | None, slices: list[LanguageSlice], decisions_path: str,
               rank: int, ranks: int) -> SizeCounts | None:
    """Per-cluster-size counts of one rank of a language: reads only the columns decisions need."""
    storage = Storage(output, storage_options)
    table = _read_rank(storage, slices, rank, ranks, columns=["id", "file_path", "filter_reason"])
    return counts_from_table(apply_decisions(table, _read_decisions(storage, decisions_path, rank, ranks)))


def _read_rank(storage: Storage, slices: list[LanguageSlice], rank: int, ranks: int,
               columns: list[str] | None = None) -> pa.Table:
    """The rows of one rank from the language's staged row groups, one row group at a time."""
    parts = []
    for piece in slices:
        with storage.open(piece.file, "rb") as fh:
            staged = pq.ParquetFile(fh)
            for group in piece.row_groups:
                rows = staged.read_row_group(group, columns=columns)
                parts.append(rows if ranks == 1 else rows.filter(pa.array(rank_of(rows["id"], ranks) == rank)))
    if not parts:
        return (STAGED if columns is None else pa.schema([STAGED.field(c) for c in columns])).empty_table()
    return pa.concat_tables(parts)


def _read_decisions(storage: Storage, path: str | None, rank: int, ranks: int) -> pa.Table | None:
    """One rank's rows of a language's dedup decisions (None when dedup is off), read in batches."""
    if path is None:
        return None
    with storage.fs.open(path, "rb") as fh:
        decisions = pq.ParquetFile(fh)
        if ranks == 1:
            return decisions.read()
        batches = [b.filter(pa.array(rank_of(b.column("id"), ranks) == rank)) for b in decisions.iter_batches(65_536)]
        return pa.Table.from_batches(batches, schema=decisions.schema_arrow)

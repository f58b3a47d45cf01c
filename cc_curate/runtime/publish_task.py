"""After every shard is committed: per-language dedup, then publish tasks per language.

A language of more than ``runtime.docs_per_publish_task`` documents is published by several
tasks (ranks), so no process holds a whole large language. Its staged rows are first shuffled
by rank (one task per group of staged row groups of at most that many rows writes
``_publish/{lang}/{part}.parquet`` with one row group per rank), so each rank then reads its own
rows and nothing else. Its rehydration distribution needs every rank's counts: a light wave of
tasks reads three columns of each rank and returns per-cluster-size counts, which the driver merges.
Tasks receive paths and row-group lists, read what they need from the staged files themselves,
and return only statistics. Everything is written into a new release generation that replaces
the previous release only when complete (``output/release.py``).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
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
from cc_curate.output import release
from cc_curate.output.publish import apply_decisions, merge_language_stats, publish_language, rank_of
from cc_curate.output.staging import LanguageSlice, read_slices, slices_by_language
from cc_curate.output.storage import Storage
from cc_curate.recipe import Recipe

DEDUP_WORK = "_dedup"
PUBLISH_WORK = "_publish"  # split languages' rows, shuffled by publish rank
# The release's MinHash band index: `--dedup-against` a previous output reads it from there.
MINHASH_INDEX = "_index/minhash"
# Per language: cluster size -> share removed by the quality filters (FineWeb2's distributions).
REHYDRATION_DISTRIBUTIONS = "rehydration/distributions"


def publish_all(storage: Storage, recipe: Recipe, committed: dict[str, dict[str, Any]], output: str,
                dedup_against: str | None = None) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """Dedup (when enabled) and publish every language found in the committed shards, as a new
    release that replaces the previous one only once complete (languages no longer found go).

    ``dedup_against``: the output folder of an earlier release; documents duplicating it are
    removed without recomputing that release (its band index is read). Returns the per-language
    statistics and the wall seconds of the two phases (``time.dedup_seconds``, ``time.publish_seconds``).
    """
    slices = slices_by_language(committed.values())
    decisions: dict[str, str] = {}
    started = time.perf_counter()
    generation = release.begin(storage)
    if recipe.settings["dedup"]["enabled"] and slices:
        decisions = _dedup(storage, recipe, committed, dedup_against, generation)
    deduped = time.perf_counter()
    options = recipe.settings["input"]["storage_options"] or None
    retries = recipe.settings["runtime"]["max_retries"]
    per_task = recipe.settings["runtime"]["docs_per_publish_task"]
    ranks = {lang: max(1, math.ceil(sum(s.rows for s in lang_slices) / per_task)) for lang, lang_slices in slices.items()}
    by_rank = _shuffle_by_rank(storage, recipe, slices, ranks)
    weights = _split_language_weights(storage, recipe, by_rank, decisions, ranks, generation)
    task = ray.remote(_publish_one).options(num_cpus=1, max_retries=retries, retry_exceptions=True)
    recipe_ref = ray.put(recipe)
    refs = {
        (lang, rank): task.remote(output, options, lang, by_rank[lang][rank], decisions.get(lang), recipe_ref,
                                  rank, ranks[lang], weights.get(lang), generation)
        for lang in sorted(slices)
        for rank in range(ranks[lang])
    }
    parts: dict[str, list[dict[str, Any]]] = {}
    for (lang, _), stats in zip(refs, ray.get(list(refs.values()))):
        parts.setdefault(lang, []).append(stats)
    languages = {lang: merge_language_stats(lang_parts) for lang, lang_parts in parts.items()}
    release.switch(storage, generation)
    timings = {"time.dedup_seconds": round(deduped - started, 3),
               "time.publish_seconds": round(time.perf_counter() - deduped, 3)}
    return languages, timings


def _split_language_weights(storage: Storage, recipe: Recipe, by_rank: dict[str, list[list[LanguageSlice]]],
                            decisions: dict[str, str], ranks: dict[str, int],
                            generation: str) -> dict[str, dict[int, int]]:
    """Rehydration weights of the deduplicated languages published by several ranks (their
    distributions are written here); a one-rank language's task computes its own."""
    split = sorted(lang for lang, n in ranks.items() if n > 1 and lang in decisions)
    if not split:
        return {}
    options = recipe.settings["input"]["storage_options"] or None
    task = ray.remote(_count_one).options(num_cpus=1, max_retries=recipe.settings["runtime"]["max_retries"],
                                          retry_exceptions=True)
    refs = {(lang, rank): task.remote(storage.url, options, by_rank[lang][rank], decisions[lang], rank, ranks[lang])
            for lang in split for rank in range(ranks[lang])}
    counts: dict[str, list[SizeCounts]] = {}
    for (lang, _), part in zip(refs, ray.get(list(refs.values()))):
        if part is not None:
            counts.setdefault(lang, []).append(part)
    weights = {}
    for lang, parts in counts.items():
        distribution = distribution_from_counts(merge_counts(parts))
        storage.write_json(f"{generation}/{REHYDRATION_DISTRIBUTIONS}/{lang}.json", distribution)
        output = recipe.for_language(lang)["output"]
        if output["rehydration"] != "none":
            weights[lang] = weights_from_distribution(distribution, output["max_copies"])
    return weights


def _shuffle_by_rank(storage: Storage, recipe: Recipe, slices: dict[str, list[LanguageSlice]],
                     ranks: dict[str, int]) -> dict[str, list[list[LanguageSlice]]]:
    """For each language, the row groups each of its ranks reads: the staged ones for a one-rank
    language; for a split one, those the shuffle wrote for that rank."""
    by_rank = {lang: [lang_slices] for lang, lang_slices in slices.items() if ranks[lang] == 1}
    split = sorted(lang for lang, n in ranks.items() if n > 1)
    storage.remove(PUBLISH_WORK, recursive=True)
    if not split:
        return by_rank
    per_task = recipe.settings["runtime"]["docs_per_publish_task"]
    task = ray.remote(_shuffle_part).options(num_cpus=1, max_retries=recipe.settings["runtime"]["max_retries"],
                                             retry_exceptions=True)
    options = recipe.settings["input"]["storage_options"] or None
    refs = {(lang, part): task.remote(storage.url, options, f"{PUBLISH_WORK}/{lang}/{part:05d}.parquet",
                                      pieces, ranks[lang])
            for lang in split for part, pieces in enumerate(_parts(slices[lang], per_task))}
    for lang in split:
        by_rank[lang] = [[] for _ in range(ranks[lang])]
    for (lang, _), written in zip(refs, ray.get(list(refs.values()))):
        for rank, piece in written.items():
            by_rank[lang][rank].append(piece)
    return by_rank


def _parts(slices: list[LanguageSlice], rows: int) -> list[list[LanguageSlice]]:
    """``slices`` in consecutive groups of at most ``rows`` rows (or one slice, if larger)."""
    parts: list[list[LanguageSlice]] = [[]]
    held = 0
    for piece in slices:
        if parts[-1] and held + piece.rows > rows:
            parts.append([])
            held = 0
        parts[-1].append(piece)
        held += piece.rows
    return parts


def _shuffle_part(output: str, storage_options: dict | None, target: str, pieces: list[LanguageSlice],
                  ranks: int) -> dict[int, LanguageSlice]:
    """Write the rows of ``pieces`` to ``target``, one row group per rank; where each rank's rows are."""
    storage = Storage(output, storage_options)
    table = read_slices(storage, pieces)
    order = rank_of(table["id"], ranks)
    by_rank = np.argsort(order, kind="stable")  # row numbers, rank by rank
    bounds = np.searchsorted(order[by_rank], np.arange(ranks + 1))
    written: dict[int, LanguageSlice] = {}
    with storage.open(target, "wb") as fh, pq.ParquetWriter(fh, table.schema) as writer:  # stages add columns
        for rank in range(ranks):
            start, end = int(bounds[rank]), int(bounds[rank + 1])
            if end > start:  # one rank's rows at a time: the part is never copied whole
                writer.write_table(table.take(pa.array(by_rank[start:end])), row_group_size=end - start)
                written[rank] = LanguageSlice(target, (len(written),), end - start)
    return written


def _dedup(storage: Storage, recipe: Recipe, committed: dict[str, dict[str, Any]],
           dedup_against: str | None, generation: str) -> dict[str, str]:
    from cc_curate.runtime.dedup import run_dedup

    staged = [f"{storage.url}/{entry['rows_file']}" for _, entry in sorted(committed.items())]
    params = {**recipe.settings["dedup"], "minhash": recipe.settings["minhash"],
              "max_retries": recipe.settings["runtime"]["max_retries"]}
    previous = previous_index(dedup_against, recipe) if dedup_against else None
    return run_dedup(
        staged, f"{storage.url}/{DEDUP_WORK}", params,
        previous_index=previous, index_out=f"{storage.url}/{generation}/{MINHASH_INDEX}",
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
    generation: str,
) -> dict[str, Any]:
    """Publish rank ``rank`` of ``ranks`` of one language into the release ``generation``.
    ``weights``: the language's rehydration weights when it has several ranks (None: this
    one-rank task computes them from its rows)."""
    storage = Storage(output, storage_options)
    table = apply_decisions(read_slices(storage, slices), _read_decisions(storage, decisions_path, rank, ranks))
    settings = recipe.for_language(lang)
    if ranks == 1 and decisions_path is not None:
        counts = counts_from_table(table)
        if counts is not None:  # FineWeb2's format: `cc-curate rehydration-weights` reads it
            distribution = distribution_from_counts(counts)
            storage.write_json(f"{generation}/{REHYDRATION_DISTRIBUTIONS}/{lang}.json", distribution)
            if settings["output"]["rehydration"] != "none":
                weights = weights_from_distribution(distribution, settings["output"]["max_copies"])
    if settings["output"]["rehydration"] != "none":
        weights = weights or {}
    return publish_language(storage, lang, table, settings, rehydration_weights=weights, rank=rank,
                            release_root=generation, columns=recipe.published_columns())


def _count_one(output: str, storage_options: dict | None, slices: list[LanguageSlice], decisions_path: str,
               rank: int, ranks: int) -> SizeCounts | None:
    """Per-cluster-size counts of one rank of a language: reads only the columns decisions need."""
    storage = Storage(output, storage_options)
    table = read_slices(storage, slices, columns=["id", "text_hash", "file_path", "filter_reason"])
    return counts_from_table(apply_decisions(table, _read_decisions(storage, decisions_path, rank, ranks)))


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

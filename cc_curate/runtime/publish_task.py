"""After every shard is committed: dedup, the rank shuffle, rehydration counts, then one publish
task per rank of each language, into a new release generation that replaces the previous
release only when complete (``output/release.py``).

Each step has its module: ``release_dedup.py`` (dedup), ``ranks.py`` (how many ranks, the
shuffle), ``rehydration_counts.py`` (split languages' distributions); this one sequences them and
holds the publish task. Tasks receive paths and row-group lists, read what they need from the
staged files themselves, and return only statistics.
"""

from __future__ import annotations

import time
from typing import Any

from cc_curate.dedup.rehydration import counts_from_table, distribution_from_counts, weights_from_distribution
from cc_curate.output import release
from cc_curate.output.publish import apply_decisions, merge_language_stats, publish_language
from cc_curate.output.staging import LanguageSlice, read_slices, slices_by_language
from cc_curate.output.storage import Storage
from cc_curate.recipe import Recipe
from cc_curate.runtime.ranks import rank_counts, rank_decisions, shuffle_by_rank
from cc_curate.runtime.rehydration_counts import REHYDRATION_DISTRIBUTIONS, split_language_weights
from cc_curate.runtime.release_dedup import dedup_release
from cc_curate.runtime.tasks import TaskOptions, run_all
from cc_curate.settings import OutputSettings


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
    if recipe.run.dedup.enabled and slices:
        decisions = dedup_release(storage, recipe, committed, dedup_against, generation)
    deduped = time.perf_counter()
    options = recipe.run.input.fsspec_options
    task = TaskOptions(max_retries=recipe.run.runtime.max_retries)
    per_task = recipe.run.runtime.docs_per_publish_task
    ranks = rank_counts(slices, per_task)
    by_rank = shuffle_by_rank(storage, options, slices, ranks, per_task, task)
    weights = split_language_weights(storage, recipe, by_rank, decisions, ranks, generation, task)
    owners = [lang for lang in sorted(slices) for _ in range(ranks[lang])]
    calls = [(output, options, lang, by_rank[lang][rank], decisions.get(lang), recipe, rank, ranks[lang],
              weights.get(lang), generation)
             for lang in sorted(slices) for rank in range(ranks[lang])]
    parts: dict[str, list[dict[str, Any]]] = {}
    for lang, stats in zip(owners, run_all(_publish_one, calls, task, share=lambda value: value is recipe)):
        parts.setdefault(lang, []).append(stats)
    languages = {lang: merge_language_stats(lang_parts) for lang, lang_parts in parts.items()}
    release.switch(storage, generation)
    timings = {"time.dedup_seconds": round(deduped - started, 3),
               "time.publish_seconds": round(time.perf_counter() - deduped, 3)}
    return languages, timings


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
    table = apply_decisions(read_slices(storage, slices), rank_decisions(storage, decisions_path, rank, ranks))
    output_settings = recipe.section(OutputSettings, "output", lang)
    if ranks == 1 and decisions_path is not None:
        counts = counts_from_table(table)
        if counts is not None:  # FineWeb2's format: `cc-curate rehydration-weights` reads it
            distribution = distribution_from_counts(counts)
            storage.write_json(f"{generation}/{REHYDRATION_DISTRIBUTIONS}/{lang}.json", distribution)
            if output_settings.rehydration != "none":
                weights = weights_from_distribution(distribution, output_settings.max_copies)
    if output_settings.rehydration != "none":
        weights = weights or {}
    return publish_language(storage, lang, table, output_settings, rehydration_weights=weights,
                            rank=rank, release_root=generation, columns=recipe.published_columns())

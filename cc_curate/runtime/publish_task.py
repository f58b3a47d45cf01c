"""After every shard is committed: per-language dedup, then one publish task per language.

Tasks receive paths and row-group lists, read what they need from the staged files themselves,
and return only statistics.
"""

from __future__ import annotations

import time
from typing import Any

import pyarrow.parquet as pq
import ray

from cc_curate.dedup.rehydration import distribution_from_table, weights_from_distribution
from cc_curate.errors import UserError
from cc_curate.output.publish import apply_decisions, publish_language
from cc_curate.output.staging import LanguageSlice, read_slices, slices_by_language
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
    task = ray.remote(_publish_one).options(num_cpus=1, max_retries=recipe.settings["runtime"]["max_retries"],
                                            retry_exceptions=True)
    recipe_ref = ray.put(recipe)
    refs = [
        task.remote(output, options, lang, lang_slices, decisions.get(lang), recipe_ref)
        for lang, lang_slices in sorted(slices.items())
    ]
    languages = {stats["language"]: stats for stats in ray.get(refs)}
    timings = {"time.dedup_seconds": round(deduped - started, 3),
               "time.publish_seconds": round(time.perf_counter() - deduped, 3)}
    return languages, timings


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
) -> dict[str, Any]:
    storage = Storage(output, storage_options)
    table = read_slices(storage, slices)
    decisions = None
    if decisions_path is not None:
        with storage.fs.open(decisions_path, "rb") as fh:
            decisions = pq.read_table(fh)
    table = apply_decisions(table, decisions)
    settings = recipe.for_language(lang)
    weights = None
    distribution = distribution_from_table(table) if decisions is not None else None
    if distribution is not None:  # FineWeb2's format: `cc-curate rehydration-weights` reads it
        storage.write_json(f"{REHYDRATION_DISTRIBUTIONS}/{lang}.json", distribution)
    if settings["output"]["rehydration"] != "none":
        weights = weights_from_distribution(distribution, settings["output"]["max_copies"]) if distribution else {}
    return publish_language(storage, lang, table, settings, rehydration_weights=weights)

"""Rehydration distributions of the languages published in several ranks.

The distribution (per cluster size, the share the quality filters removed: FineWeb2's format)
needs the whole language, so a light wave of tasks reads only ``id``, ``text_hash``,
``file_path`` and ``filter_reason`` of each rank and returns per-cluster-size counts; the driver
adds them up, writes the distribution and hands the weights to the publish tasks. A one-rank
language's publish task computes its own (``runtime/publish_task.py``).
"""

from __future__ import annotations

from cc_curate.dedup.rehydration import (
    SizeCounts,
    counts_from_table,
    distribution_from_counts,
    merge_counts,
    weights_from_distribution,
)
from cc_curate.output.publish import apply_decisions
from cc_curate.output.staging import LanguageSlice, read_slices
from cc_curate.output.storage import Storage
from cc_curate.recipe import Recipe
from cc_curate.runtime.ranks import rank_decisions
from cc_curate.runtime.tasks import TaskOptions, run_all
from cc_curate.settings import OutputSettings

# Per language: cluster size -> share removed by the quality filters (FineWeb2's distributions).
REHYDRATION_DISTRIBUTIONS = "rehydration/distributions"


def split_language_weights(storage: Storage, recipe: Recipe, by_rank: dict[str, list[list[LanguageSlice]]],
                           decisions: dict[str, str], ranks: dict[str, int], generation: str,
                           task: TaskOptions) -> dict[str, dict[int, int]]:
    """Rehydration weights of the deduplicated languages published by several ranks (their
    distributions are written into the release ``generation`` here)."""
    split = sorted(lang for lang, n in ranks.items() if n > 1 and lang in decisions)
    if not split:
        return {}
    options = recipe.run.input.fsspec_options
    owners = [lang for lang in split for _ in range(ranks[lang])]
    calls = [(storage.url, options, by_rank[lang][rank], decisions[lang], rank, ranks[lang])
             for lang in split for rank in range(ranks[lang])]
    counts: dict[str, list[SizeCounts]] = {}
    for lang, part in zip(owners, run_all(_count_one, calls, task)):
        if part is not None:
            counts.setdefault(lang, []).append(part)
    weights = {}
    for lang, parts in counts.items():
        distribution = distribution_from_counts(merge_counts(parts))
        storage.write_json(f"{generation}/{REHYDRATION_DISTRIBUTIONS}/{lang}.json", distribution)
        output = recipe.section(OutputSettings, "output", lang)
        if output.rehydration != "none":
            weights[lang] = weights_from_distribution(distribution, output.max_copies)
    return weights


def _count_one(output: str, storage_options: dict | None, slices: list[LanguageSlice], decisions_path: str,
               rank: int, ranks: int) -> SizeCounts | None:
    """Per-cluster-size counts of one rank of a language: reads only the columns decisions need."""
    storage = Storage(output, storage_options)
    table = read_slices(storage, slices, columns=["id", "text_hash", "file_path", "filter_reason"])
    return counts_from_table(apply_decisions(table, rank_decisions(storage, decisions_path, rank, ranks)))

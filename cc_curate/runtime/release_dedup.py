"""Starting the dedup of a release: which staged files, which earlier release's band index to
dedup against (``--dedup-against``), and where this release's index goes. The waves of dedup
tasks themselves are ``runtime/dedup.py``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from cc_curate.errors import UserError
from cc_curate.output.storage import Storage
from cc_curate.recipe import Recipe
from cc_curate.runtime.dedup import run_dedup
from cc_curate.stages.minhash import MinHash

DEDUP_WORK = "_dedup"
# The release's MinHash band index: `--dedup-against` a previous output reads it from there.
MINHASH_INDEX = "_index/minhash"


def dedup_release(storage: Storage, recipe: Recipe, committed: dict[str, dict[str, Any]],
                  dedup_against: str | None, generation: str) -> dict[str, str]:
    """Dedup the committed shards' staged rows into the release ``generation``; {lang: decisions URL}."""
    staged = [f"{storage.url}/{entry['rows_file']}" for _, entry in sorted(committed.items())]
    params = {**asdict(recipe.run.dedup), "minhash": asdict(recipe.params(MinHash)),
              "max_retries": recipe.run.runtime.max_retries}
    previous = previous_index(dedup_against, recipe) if dedup_against else None
    return run_dedup(
        staged, f"{storage.url}/{DEDUP_WORK}", params,
        previous_index=previous, index_out=f"{storage.url}/{generation}/{MINHASH_INDEX}",
        storage_options=recipe.run.input.fsspec_options,
    )


def previous_index(dedup_against: str, recipe: Recipe) -> str:
    """The band index of an earlier release's output folder; a UserError if it has none."""
    index = f"{dedup_against.rstrip('/')}/{MINHASH_INDEX}"
    if not Storage(index, recipe.run.input.fsspec_options).exists(""):
        raise UserError(f"--dedup-against {dedup_against}: no MinHash index at {index} "
                        "(was that output published by cc_curate with dedup enabled?)")
    return index

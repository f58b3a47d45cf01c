"""The Python API: run a recipe over inputs on Ray, or run the stages on records in-process.

    import cc_curate

    summary = cc_curate.run("recipes/fast.yaml", ["demo/demo.warc.gz"], "out/")
    table = cc_curate.process(["Some text ...", {"text": "...", "url": "https://..."}], "recipes/fast.yaml")

A recipe is a path, a mapping of recipe keys (layered on the declared defaults, FineWeb2's) or a
loaded ``Recipe``. ``extra_stages`` are stage classes (``cc_curate.Stage`` subclasses) the recipe
may name besides the registered ones; they travel to the Ray workers with the recipe.

Ray: when the caller has already called ``ray.init`` the run uses that Ray as it is and leaves it
running; otherwise ``run`` starts a local Ray (or attaches to ``address``) and shuts it down after.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa

from cc_curate.recipe import Recipe, load_recipe, recipe_from_dict
from cc_curate.stages.base import Stage

RecipeLike = str | Path | Mapping[str, Any] | Recipe


def as_recipe(recipe: RecipeLike, extra_stages: Sequence[type[Stage]] = ()) -> Recipe:
    """A loaded, validated recipe from a path, a mapping or a Recipe (RecipeError names file, key, why)."""
    if isinstance(recipe, Recipe):
        if not extra_stages:
            return recipe
        recipe = recipe_from_dict(recipe.settings, extra_stages, name=recipe.path)
        return recipe
    if isinstance(recipe, Mapping):
        return recipe_from_dict(recipe, extra_stages)
    return load_recipe(recipe, extra_stages)


def run(recipe: RecipeLike, inputs: Sequence[str], output: str, *, address: str | None = None,
        extra_stages: Sequence[type[Stage]] = (), workers: int | None = None, snapshot: str | None = None,
        max_files: int | None = None, max_records: int | None = None, dedup_against: str | None = None,
        stream: TextIO = sys.stderr) -> Any:
    """Run ``recipe`` over ``inputs`` into ``output`` (a folder or ``s3://`` prefix); returns the RunSummary.

    Re-running resumes. ``address``: a Ray cluster (``"auto"``, ``ray://host:10001``); default a
    local Ray, unless ``ray.init`` was already called, whose Ray is used and left running.
    """
    from cc_curate.runtime.driver import RunOptions
    from cc_curate.runtime.driver import run as run_driver

    return run_driver(RunOptions(
        recipe=as_recipe(recipe, extra_stages), output=str(output), inputs=list(inputs), snapshot=snapshot,
        max_files=max_files, max_records=max_records, workers=workers, address=address,
        dedup_against=dedup_against, stream=stream,
    ))


def process(records: Iterable[str | Mapping[str, Any]], recipe: RecipeLike = "fineweb2", *,
            extra_stages: Sequence[type[Stage]] = (), dump: str = "local", file_path: str = "") -> pa.Table:
    """The staged rows of ``records`` through the recipe's stages, in this process (no Ray, no I/O).

    A record is a text, or a mapping with ``text`` or ``html`` and optionally ``id``, ``url``,
    ``date``. Rows are never dropped: ``filter_reason`` says why a row would be removed (dedup,
    which needs the whole corpus, does not run here). ``recipe`` may name a preset shipped in
    ``recipes/`` ("fineweb2", "fast").
    """
    from cc_curate.sources import RawRecord
    from cc_curate.stages.pipeline import DocumentPipeline

    if isinstance(recipe, str) and "/" not in recipe and not recipe.endswith((".yaml", ".yml")):
        recipe = Path(__file__).resolve().parents[1] / "recipes" / f"{recipe}.yaml"
    loaded = as_recipe(recipe, extra_stages)
    raw = []
    for n, item in enumerate(records):
        fields = {"text": item} if isinstance(item, str) else dict(item)
        raw.append(RawRecord(id=str(fields.get("id", f"doc-{n}")), url=str(fields.get("url", "")),
                             date=str(fields.get("date") or ""), html=fields.get("html"), text=fields.get("text"),
                             charset=None))
    return DocumentPipeline(loaded).process(raw, dump=dump, file_path=file_path).table

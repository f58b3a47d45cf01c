"""The stage protocol and registry: declarations are the one source of the schema, the defaults,
the pre-dedup reasons and the staged columns; plugins load through entry points; a recipe's
``stages`` are checked with file, key and reason."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from cc_curate.output.schema import PRE_DEDUP_REASONS, STAGED
from cc_curate.recipe import RecipeError, load_recipe, recipe_from_dict
from cc_curate.sources import RawRecord
from cc_curate.stages import registry
from cc_curate.stages.pipeline import DocumentPipeline

from .conftest import REPO_ROOT


def test_pre_dedup_reasons_are_those_the_stages_declare() -> None:
    assert PRE_DEDUP_REASONS == registry.pre_dedup_reasons(registry.BUILTIN)


def test_the_default_pipeline_stages_the_declared_schema() -> None:
    assert DocumentPipeline(load_recipe(REPO_ROOT / "recipes" / "fast.yaml")).schema == STAGED


def test_a_failed_extraction_is_a_removed_row_and_quarantined() -> None:
    """Before the stage protocol such records vanished from the staged rows (the design says rows
    are never dropped); now each is a row without language, removed with ``extraction:{why}``."""
    pipeline = DocumentPipeline(recipe_from_dict({"extraction": {"backend": "resiliparse", "max_html_bytes": 100}}))
    big = "<html><body><p>" + "word " * 100 + "</p></body></html>"
    records = [RawRecord(id="a", url="https://example.org/a", date="", html=big, text=None, charset=None),
               RawRecord(id="b", url="https://example.org/b", date="", html="<html></html>", text=None, charset=None)]
    result = pipeline.process(records, dump="d", file_path="f")
    rows = {r["id"]: r for r in result.table.to_pylist()}
    assert rows["a"]["filter_reason"] == "extraction:html_too_large"
    assert rows["b"]["filter_reason"] == "extraction:empty"
    assert all(r["lang"] == "und_Zyyy" and r["text"] == "" for r in rows.values())
    assert [q.reason for q in result.quarantined] == ["html_too_large"]  # empty pages are not damage
    assert result.counters["extraction.failed.empty"] == 1


@pytest.mark.parametrize(("stages", "why"), [
    (["url_filter", "extraction", "lid", "tokenize", "nope"], "unknown stage 'nope' (registered: url_filter"),
    (["url_filter", "extraction", "lid"], "exactly one tokenize stage"),
    (["extraction", "lid", "tokenize", "lid"], "stage 'lid' is named twice"),
])
def test_bad_stage_lists_name_file_key_and_reason(tmp_path: Path, stages: list[str], why: str) -> None:
    preset = tmp_path / "p.yaml"
    preset.write_text(yaml.safe_dump({"base": str(REPO_ROOT / "recipes" / "defaults.yaml"), "stages": stages}))
    with pytest.raises(RecipeError) as error:
        load_recipe(preset)
    assert str(error.value).startswith(f"{preset}: stages: ") and why in str(error.value)


def test_typed_params_per_language() -> None:
    recipe = load_recipe(REPO_ROOT / "recipes" / "fineweb2.yaml")
    lid = registry.registered()["lid"]
    assert recipe.params(lid, "rus_Cyrl").threshold != recipe.params(lid).threshold
    assert recipe.run.input.read.max_attempts == 8 and recipe.run.input.fsspec_options is None


@pytest.fixture()
def broken_plugin(tmp_path: Path):
    """A distribution whose ``cc_curate.stages`` entry point names a module that does not exist."""
    dist = tmp_path / "broken_stage-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-stage\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[cc_curate.stages]\nbroken = no_such_module:Broken\n")
    sys.path.insert(0, str(tmp_path))
    registry._plugins.cache_clear()
    yield
    sys.path.remove(str(tmp_path))
    registry._plugins.cache_clear()


def test_a_broken_plugin_fails_only_recipes_that_name_it(broken_plugin: None) -> None:
    assert "broken" not in registry.registered()
    assert recipe_from_dict({}).stages()  # recipes that do not use it still load
    with pytest.raises(RecipeError, match=r"stages: stage plugin 'broken' \(no_such_module:Broken\) failed to load: "
                                          r"ModuleNotFoundError"):
        recipe_from_dict({"stages": ["extraction", "lid", "tokenize", "broken"]})


def test_resources_of_the_recipe_stages() -> None:
    from cc_curate.stages.base import Resources, Stage

    class Gpu(Stage):
        name = "gpu_scorer"
        phase = "annotate"
        resources = Resources(num_cpus=2, memory_mb=4096, num_gpus=1)

    needs = registry.resources_of([*registry.FINEWEB2, Gpu])
    assert (needs.num_cpus, needs.memory_mb, needs.num_gpus) == (2, 4096, 1)
    assert registry.resources_of(registry.FINEWEB2) == Resources()

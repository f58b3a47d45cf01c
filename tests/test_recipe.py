"""Recipes: layering, validation errors that name file and key, FineWeb2 import round trip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cc_curate.recipe import (
    RecipeError,
    fineweb2_config_to_layer,
    load_fineweb2_configs,
    load_recipe,
    to_fineweb2_config,
)
from cc_curate.recipe_schema import SPEC, iter_keys

from .conftest import REPO_ROOT

RECIPES = REPO_ROOT / "recipes"


def _preset(tmp_path: Path, body: dict, languages: dict[str, dict] | None = None) -> Path:
    """A preset in tmp_path that extends the real defaults."""
    (tmp_path / "languages").mkdir(exist_ok=True)
    for lang, layer in (languages or {}).items():
        (tmp_path / "languages" / f"{lang}.yaml").write_text(yaml.safe_dump(layer))
    preset = tmp_path / "preset.yaml"
    preset.write_text(yaml.safe_dump({"base": str(RECIPES / "defaults.yaml"), "language_overrides": "languages/", **body}))
    return preset


@pytest.mark.parametrize("name", ["fineweb2.yaml", "fast.yaml", "defaults.yaml"])
def test_shipped_recipes_load(name: str) -> None:
    recipe = load_recipe(RECIPES / name)
    assert recipe.settings["minhash"]["num_buckets"] == 14


def test_presets_choose_the_extractor() -> None:
    assert load_recipe(RECIPES / "fineweb2.yaml").settings["extraction"]["backend"] == "trafilatura"
    assert load_recipe(RECIPES / "fast.yaml").settings["extraction"]["backend"] == "resiliparse"


def test_language_file_merges_over_defaults() -> None:
    recipe = load_recipe(RECIPES / "fineweb2.yaml")
    rus = recipe.for_language("rus_Cyrl")
    assert rus["lid"]["threshold"] == 0.9
    assert "что" in rus["filters"]["gopher_quality"]["stop_words"]
    # untouched keys come from the defaults
    assert rus["filters"]["gopher_quality"]["min_doc_words"] == 50
    other = recipe.for_language("xyz_Latn")
    assert other["lid"]["threshold"] == recipe.settings["lid"]["threshold"]


@pytest.mark.parametrize(
    "body, key, why",
    [
        ({"filterz": {}}, "filterz", "unknown key"),
        ({"filters": {"gopher_quality": {"min_doc_wordz": 3}}}, "filters.gopher_quality.min_doc_wordz", "unknown key"),
        ({"lid": {"threshold": "high"}}, "lid.threshold", "expected a number"),
        ({"lid": {"threshold": 1.5}}, "lid.threshold", "in [0, 1]"),
        ({"extraction": {"backend": "magic"}}, "extraction.backend", "one of trafilatura, resiliparse"),
        ({"filters": {"gopher_quality": {"enabled": "yes"}}}, "filters.gopher_quality.enabled", "true or false"),
        ({"filters": {"gopher_repetition": {"top_n_grams": [[2]]}}}, "filters.gopher_repetition.top_n_grams", "pairs"),
        ({"dedup": {"num_partitions": 0}}, "dedup.num_partitions", "in [1,"),
    ],
)
def test_bad_preset_names_file_key_and_reason(tmp_path: Path, body: dict, key: str, why: str) -> None:
    preset = _preset(tmp_path, body)
    with pytest.raises(RecipeError) as err:
        load_recipe(preset)
    assert err.value.file == str(preset)
    assert err.value.key == key
    assert why in err.value.why


def test_bad_language_file_is_named(tmp_path: Path) -> None:
    preset = _preset(tmp_path, {}, {"rus_Cyrl": {"lid": {"threshold": -0.5}}})
    with pytest.raises(RecipeError) as err:
        load_recipe(preset)
    assert err.value.file.endswith("rus_Cyrl.yaml")
    assert err.value.key == "lid.threshold"


def test_language_file_may_not_set_run_wide_keys(tmp_path: Path) -> None:
    preset = _preset(tmp_path, {}, {"rus_Cyrl": {"dedup": {"enabled": False}}})
    with pytest.raises(RecipeError, match="run-wide"):
        load_recipe(preset)


def test_language_file_name_must_be_a_language(tmp_path: Path) -> None:
    preset = _preset(tmp_path, {}, {"russian": {}})
    with pytest.raises(RecipeError, match="iso639_3"):
        load_recipe(preset)


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("lid: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(bad)
    with pytest.raises(RecipeError, match="no such file"):
        load_recipe(tmp_path / "absent.yaml")


def test_base_loop_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(RecipeError, match="loop"):
        load_recipe(tmp_path / "a.yaml")


def test_recipe_hash_changes_with_any_setting(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = load_recipe(_preset(tmp_path / "a", {}))
    b = load_recipe(_preset(tmp_path / "b", {"lid": {"threshold": 0.31}}))
    assert a.sha256 != b.sha256


def test_every_fineweb2_config_imports_and_round_trips(shared_data: Path) -> None:
    folder = shared_data / "fineweb2_reference" / "configs"
    layers = load_fineweb2_configs(str(folder))
    assert len(layers) == 1929
    for lang, layer in layers.items():
        original = yaml.safe_load((folder / f"{lang}.yml").read_text(encoding="utf-8"))
        assert to_fineweb2_config(layer) == original, lang
        assert fineweb2_config_to_layer(to_fineweb2_config(layer)) == layer


def test_from_fineweb2_gives_every_language_its_thresholds(tmp_path: Path, shared_data: Path) -> None:
    preset = _preset(tmp_path, {"from_fineweb2": str(shared_data / "fineweb2_reference" / "configs")})
    recipe = load_recipe(preset)
    config = yaml.safe_load((shared_data / "fineweb2_reference/configs/aak_Latn.yml").read_text(encoding="utf-8"))
    merged = recipe.for_language("aak_Latn")
    assert merged["lid"]["threshold"] == config["language_score"]
    assert merged["filters"]["gopher_quality"]["stop_words"] == config["stopwords"]


def test_every_spec_key_is_in_defaults() -> None:
    defaults = yaml.safe_load((RECIPES / "defaults.yaml").read_text())
    for dotted, key in iter_keys(SPEC):
        node = defaults
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node[part]
        assert parts[-1] in node or key.nullable, dotted


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cc_curate.cli", *args], capture_output=True, text=True, cwd=REPO_ROOT)


def test_cli_validate_and_show() -> None:
    ok = _cli("recipe", "validate", "recipes/fineweb2.yaml")
    assert ok.returncode == 0, ok.stderr
    shown = _cli("recipe", "show", "recipes/fineweb2.yaml", "--language", "rus_Cyrl")
    assert shown.returncode == 0
    assert yaml.safe_load(shown.stdout)["lid"]["threshold"] == 0.9


def test_cli_bad_recipe_exits_2_without_traceback(tmp_path: Path) -> None:
    preset = _preset(tmp_path, {"lid": {"threshold": 2}})
    result = _cli("recipe", "validate", str(preset))
    assert result.returncode == 2
    assert "lid.threshold" in result.stderr and str(preset) in result.stderr
    assert "Traceback" not in result.stderr
    run = _cli("run", str(preset), "--output", str(tmp_path / "out"), "--input", "nothing.warc.gz")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()  # stopped before any work


def test_cli_import_fineweb2(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "langs"
    result = _cli("recipe", "import-fineweb2", str(shared_data / "fineweb2_reference" / "configs"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert len(list(out.glob("*.yaml"))) == 1929
    preset = tmp_path / "p.yaml"
    preset.write_text(yaml.safe_dump({"base": str(RECIPES / "defaults.yaml"), "language_overrides": "langs/"}))
    recipe = load_recipe(preset)
    assert recipe.for_language("rus_Cyrl")["lid"]["threshold"] == 0.9


def test_generated_recipe_files_are_up_to_date(tmp_path: Path) -> None:
    """recipes/defaults.yaml and the key table of docs/recipes.md are generated from the declarations."""
    result = subprocess.run([sys.executable, "scripts/gen_recipe_files.py", "--check"], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # the check can fail: a copy of the repository's files with one default edited by hand
    copy = tmp_path / "repo"
    for part in ("scripts/gen_recipe_files.py", "recipes/defaults.yaml", "docs/recipes.md"):
        (copy / part).parent.mkdir(parents=True, exist_ok=True)
        (copy / part).write_text((REPO_ROOT / part).read_text())
    edited = copy / "recipes" / "defaults.yaml"
    edited.write_text(edited.read_text().replace("threshold: 0.3", "threshold: 0.4"))
    stale = subprocess.run([sys.executable, "scripts/gen_recipe_files.py", "--check"], cwd=copy,
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert stale.returncode != 0 and "recipes/defaults.yaml" in stale.stderr


def test_declared_defaults_are_the_loaded_defaults() -> None:
    """One place per default: what a recipe gets when it sets nothing is what the stages declare."""
    from cc_curate.recipe import recipe_from_dict
    from cc_curate.recipe_schema import DEFAULTS

    assert load_recipe(RECIPES / "defaults.yaml").settings == DEFAULTS
    assert recipe_from_dict({}).settings == DEFAULTS

"""Recipes: loading, layering (defaults -> preset -> FineWeb2 config -> language file), validation.

A recipe run is described by one *preset* file (e.g. ``recipes/fineweb2.yaml``). It names its
``base`` (usually ``defaults.yaml``) and a ``language_overrides`` folder of ``{lang}.yaml`` files.
Every file is validated on its own before anything runs, so a mistake is reported with the file,
the dotted key and what was expected (see :mod:`cc_curate.recipe_schema`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import fsspec
import pyarrow as pa
import yaml

from cc_curate.errors import UserError
from cc_curate.fineweb2_configs import PACKAGED, packaged_configs, precision_layers
from cc_curate.params import from_mapping
from cc_curate.recipe_schema import (
    DEFAULTS,
    PRESET_KEYS,
    SPEC,
    defaults_for,
    language_sections,
    missing_keys,
    spec_for,
    validate_layer,
)
from cc_curate.settings import SECTIONS, RunSettings, TopSettings
from cc_curate.stages import registry
from cc_curate.stages.base import Stage

T = TypeVar("T")

LANG_KEY_RE = re.compile(r"^[a-z]{2,3}_[A-Z][a-z]{3}$")


class RecipeError(UserError, ValueError):
    """A recipe problem, reported as ``file: key: why``."""

    def __init__(self, file: str, key: str, why: str):
        self.file, self.key, self.why = file, key, why
        super().__init__(f"{file}: {key}: {why}")


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two recipe layers; mappings merge key by key, everything else is replaced."""
    out = copy.deepcopy(dict(base))
    for name, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(name), dict) and name != "storage_options":
            out[name] = merge(out[name], value)
        else:
            out[name] = copy.deepcopy(value)
    return out


def _read_yaml(path: str) -> Any:
    try:
        with fsspec.open(path, "rt", encoding="utf-8") as fh:
            return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except FileNotFoundError:
        raise RecipeError(path, "(file)", "no such file") from None
    except yaml.YAMLError as exc:
        raise RecipeError(path, "(file)", f"not valid YAML: {exc}".replace("\n", " ")) from None


def _check(path: str, data: Any, spec: Mapping[str, Any] = SPEC) -> None:
    problems = validate_layer(data, spec)
    if problems:
        key, why = problems[0]
        raise RecipeError(path, key, why)


def fineweb2_config_to_layer(config: Mapping[str, Any]) -> dict[str, Any]:
    """Map one FineWeb2 per-language config onto recipe keys (lossless; see to_fineweb2_config)."""
    layer: dict[str, Any] = {}

    def put(section: tuple[str, ...], key: str, value: Any) -> None:
        node = layer
        for part in section:
            node = node.setdefault(part, {})
        node[key] = value

    for fw2_key, (section, key) in FINEWEB2_KEYS.items():
        if fw2_key in config:
            value = config[fw2_key]
            if fw2_key in ("dup_n_grams", "top_n_grams"):
                value = [list(pair) for pair in value]
            put(section, key, value)
    unknown = set(config) - set(FINEWEB2_KEYS)
    if unknown:
        raise ValueError(f"unknown FineWeb2 config keys: {sorted(unknown)}")
    return layer


def to_fineweb2_config(layer: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of fineweb2_config_to_layer, for round-trip checks and export."""
    config: dict[str, Any] = {}
    for fw2_key, (section, key) in FINEWEB2_KEYS.items():
        node: Any = layer
        for part in section:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict) and key in node:
            config[fw2_key] = node[key]
    return config


# FineWeb2 config key -> (recipe section path, recipe key).
FINEWEB2_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "language_score": (("lid",), "threshold"),
    "dup_line_frac": (("filters", "gopher_repetition"), "dup_line_frac"),
    "dup_n_grams": (("filters", "gopher_repetition"), "dup_n_grams"),
    "top_n_grams": (("filters", "gopher_repetition"), "top_n_grams"),
    "line_punct_thr": (("filters", "fineweb_quality"), "line_punct_thr"),
    "new_line_ratio": (("filters", "fineweb_quality"), "new_line_ratio"),
    "min_avg_word_length": (("filters", "gopher_quality"), "min_avg_word_length"),
    "max_avg_word_length": (("filters", "gopher_quality"), "max_avg_word_length"),
    "max_non_alpha_words_ratio": (("filters", "gopher_quality"), "max_non_alpha_words_ratio"),
    "stopwords": (("filters", "gopher_quality"), "stop_words"),
}


def read_fineweb2_configs(folder: str) -> dict[str, dict[str, Any]]:
    """Read every ``{lang}.yml`` of a FineWeb2 config folder (local or fsspec URL) as FineWeb2 configs."""
    fs, root = fsspec.core.url_to_fs(folder)
    paths = sorted(p for p in fs.ls(root, detail=False) if p.endswith((".yml", ".yaml")))
    if not paths:
        raise RecipeError(folder, "from_fineweb2", "no FineWeb2 configs ({lang}.yml) in this folder")
    configs = {}
    for path in paths:
        with fs.open(path, "rt", encoding="utf-8") as fh:
            configs[Path(path).name.split(".")[0]] = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {lang: config or {} for lang, config in configs.items()}


def layers_from_fineweb2(configs: Mapping[str, Mapping[str, Any]], where: Callable[[str], str]) -> dict[str, dict[str, Any]]:
    """FineWeb2 configs ``{lang: config}`` as validated recipe layers (errors name ``where(lang)``)."""
    layers = {}
    for lang, config in configs.items():
        where_lang = where(lang)
        try:
            layer = fineweb2_config_to_layer(config)
        except ValueError as exc:
            raise RecipeError(where_lang, "(file)", str(exc)) from None
        _check(where_lang, layer)
        layers[lang] = layer
    return layers


def load_fineweb2_configs(folder: str) -> dict[str, dict[str, Any]]:
    """Read every ``{lang}.yml`` of a FineWeb2 config folder (local or fsspec URL) as layers."""
    return layers_from_fineweb2(read_fineweb2_configs(folder), lambda lang: f"{folder.rstrip('/')}/{lang}.yml")


@dataclass
class Recipe:
    """A loaded, validated recipe: the run-wide settings plus per-language layers.

    ``layers`` names each run-wide file in merge order (defaults first, the preset last) with
    what it set; ``fineweb2_source`` says where ``fineweb2_layers`` came from. Both serve
    :meth:`provenance` only: the merged values live in ``settings`` and the per-language layers.
    """

    path: str
    settings: dict[str, Any]
    language_layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    fineweb2_layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    layers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fineweb2_source: str = ""
    language_dir: str = ""
    # Stage classes given as objects (``cc_curate.run(extra_stages=...)``) rather than registered
    # by entry point; they travel with the recipe to the Ray workers.
    extra_stages: tuple[type[Stage], ...] = field(default=(), compare=False)

    _merged: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)
    _typed: dict[tuple[Any, str | None], Any] = field(default_factory=dict, repr=False, compare=False)

    def stages(self) -> list[type[Stage]]:
        """The classes of the stages this recipe runs, in running order."""
        return registry.order(self.settings["stages"], self.extra_stages)

    def published_columns(self) -> list[pa.Field]:
        """The columns this recipe's stages add to the published and ``_removed`` partitions."""
        return [field for stage in self.stages() for field in stage.published_columns(self.params(stage))]

    @property
    def run(self) -> RunSettings:
        """The run-wide settings, typed (``recipe.run.input.read.block_bytes``)."""
        if ("run", None) not in self._typed:
            self._typed[("run", None)] = RunSettings(
                top=from_mapping(TopSettings, self.settings),
                **{name: from_mapping(cls, self.settings[name]) for name, cls in SECTIONS.items()},
            )
        return self._typed[("run", None)]

    def params(self, stage: type[Stage], lang: str | None = None) -> Any:
        """A stage's typed params for documents of ``lang`` (the run-wide ones when None), cached."""
        key = (stage, lang)
        if key not in self._typed:
            node: Any = self.for_language(lang) if lang and stage.per_language else self.settings
            for part in stage.recipe_section():
                node = (node or {}).get(part, {})
            self._typed[key] = from_mapping(stage.Params, node or {})
        return self._typed[key]

    def section(self, cls: type[T], name: str, lang: str | None = None) -> T:
        """A run-wide section typed (``recipe.section(OutputSettings, "output", lang)``), cached."""
        key = (cls, lang)
        if key not in self._typed:
            self._typed[key] = from_mapping(cls, (self.for_language(lang) if lang else self.settings)[name])
        return self._typed[key]

    def for_language(self, lang: str) -> dict[str, Any]:
        """The merged recipe that applies to documents of ``lang`` (e.g. ``rus_Cyrl``), cached."""
        if lang not in self._merged:
            merged = self.settings
            for layer in (self.fineweb2_layers.get(lang), self.language_layers.get(lang)):
                if layer:
                    merged = merge(merged, layer)
            self._merged[lang] = merged
        return self._merged[lang]

    def provenance(self, lang: str | None = None) -> dict[str, str]:
        """``{dotted key: where its value came from}`` for the merged recipe (of ``lang``, if given).

        Sources, later winning: ``defaults (FILE)``, ``preset (FILE)`` for each run-wide file,
        ``FineWeb2 config (...)`` and ``language file (FILE)``.
        """
        labelled = [(f"{'defaults' if i == 0 else 'preset'} ({name})", data) for i, (name, data) in enumerate(self.layers)]
        if lang is not None:
            if lang in self.fineweb2_layers:
                labelled.append((f"FineWeb2 config ({self.fineweb2_source})", self.fineweb2_layers[lang]))
            if lang in self.language_layers:
                labelled.append((f"language file ({self.language_dir}/{lang}.yaml)", self.language_layers[lang]))
        sources: dict[str, str] = {}
        for label, data in labelled:
            for dotted in _leaves(data):
                sources[dotted] = label
        return sources

    @cached_property
    def sha256(self) -> str:
        """A hash of everything that decides the output (recorded in the dataset card).

        ``input.storage_options`` (endpoints, credentials) says where data is, not what the output
        is: it is left out, so that rotating keys or changing an endpoint does not lock a run out
        of its own output, and so that the published hash cannot be used to guess a secret.
        """
        settings = self.settings
        if (settings.get("input") or {}).get("storage_options"):
            settings = {**settings, "input": {**settings["input"], "storage_options": {}}}
        blob = json.dumps(
            [settings, self.fineweb2_layers, self.language_layers], sort_keys=True, default=str
        )
        return hashlib.sha256(blob.encode()).hexdigest()


def known_stages(extra_stages: Sequence[type[Stage]] = ()) -> list[type[Stage]]:
    """Every stage a recipe may name or configure here: registered ones and ``extra_stages``."""
    stages = {**registry.registered(), **{stage.name: stage for stage in extra_stages}}
    return list(stages.values())


def load_recipe(path: str | Path, extra_stages: Sequence[type[Stage]] = ()) -> Recipe:
    """Load a preset and its layers; raise RecipeError (file, key, why) on the first problem.

    ``extra_stages``: stage classes a recipe may name besides the registered ones.
    """
    path = str(path)
    for stage in extra_stages:
        registry.check_declaration(stage)
    spec = spec_for(known_stages(extra_stages))
    chain: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    language_dir: str | None = None
    current: str | None = path
    while current is not None:
        resolved = str(Path(current).resolve()) if "://" not in current else current
        if resolved in seen:
            raise RecipeError(current, "base", "recipes extend each other in a loop")
        seen.add(resolved)
        data = _read_yaml(current)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise RecipeError(current, "(top level)", "expected a mapping of keys")
        preset_part = {k: data.pop(k) for k in list(data) if k in PRESET_KEYS}
        _check(current, preset_part, PRESET_KEYS)  # type: ignore[arg-type]
        _check(current, data, spec)
        if language_dir is None and "language_overrides" in preset_part:
            language_dir = str(Path(current).parent / preset_part["language_overrides"])
        chain.append((current, data))
        base = preset_part.get("base")
        current = str(Path(current).parent / base) if base else None

    settings: dict[str, Any] = {}
    for _, data in reversed(chain):
        settings = merge(settings, data)
    return _finish(path, settings, extra_stages, spec, language_dir, [(name, data) for name, data in reversed(chain)])


def recipe_from_dict(data: Mapping[str, Any], extra_stages: Sequence[type[Stage]] = (),
                     name: str = "(recipe given as a mapping)") -> Recipe:
    """A recipe from a mapping of recipe keys, layered on the declared defaults (FineWeb2's).

    ``base``/``language_overrides`` paths are not followed (give a file to ``load_recipe`` for that).
    """
    for stage in extra_stages:
        registry.check_declaration(stage)
    spec = spec_for(known_stages(extra_stages))
    data = copy.deepcopy(dict(data))
    if any(k in data for k in PRESET_KEYS):
        raise RecipeError(name, next(k for k in PRESET_KEYS if k in data), "only a recipe file may name other files")
    _check(name, data, spec)
    return _finish(name, merge(DEFAULTS, data), extra_stages, spec, None, [("declared defaults", DEFAULTS), (name, data)])


def _finish(path: str, settings: dict[str, Any], extra_stages: Sequence[type[Stage]], spec: Mapping[str, Any],
            language_dir: str | None, layers: list[tuple[str, dict[str, Any]]]) -> Recipe:
    """Check the merged settings (complete, stages known), add plugin defaults, read the language layers."""
    try:
        stages = registry.order(settings.get("stages") or [], extra_stages)
    except registry.StageError as exc:
        raise RecipeError(path, "stages", str(exc)) from None
    # A stage that is not built in brings its own defaults (defaults.yaml holds the built-in ones).
    plugins = [stage for stage in stages if stage not in registry.BUILTIN]
    if plugins:
        settings = merge(_only_stage_sections(defaults_for(plugins), plugins), settings)
    missing = missing_keys(settings, spec_for([*registry.BUILTIN, *plugins]))
    if missing:
        raise RecipeError(path, missing[0], "missing (the base recipe, usually defaults.yaml, must set every key)")

    recipe = Recipe(path=path, settings=settings, layers=layers, extra_stages=tuple(extra_stages))
    if settings.get("from_fineweb2"):
        recipe.fineweb2_layers, recipe.fineweb2_source = _fineweb2_layers(path, settings)
    if language_dir is not None:
        recipe.language_layers = load_language_dir(language_dir, spec, language_sections(known_stages(extra_stages)))
        recipe.language_dir = language_dir.rstrip("/")
    for lang in settings.get("languages") or []:
        if not LANG_KEY_RE.match(lang):
            raise RecipeError(path, "languages", f"{lang!r} is not a {{iso639_3}}_{{Script}} name")
    for stage in stages:  # typed now, so params the stage refuses fail the load, not a worker
        try:
            stage.check(recipe.params(stage))
        except UserError as exc:
            raise RecipeError(path, ".".join(stage.recipe_section()), str(exc)) from None
    return recipe


def _fineweb2_layers(path: str, settings: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], str]:
    """The FineWeb2 layer of every language and a label of its source (``from_fineweb2``).

    ``packaged`` is the table shipped with cc_curate (:mod:`cc_curate.fineweb2_configs`); any other
    value is a folder of FineWeb2's ``{lang}.yml`` files, relative to the preset. Either way the
    languages FineWeb2 precision-filtered get their ``filters.precision`` section, with the
    wordlists of the ``precision_wordlists`` folder where it has one.
    """
    source = settings["from_fineweb2"]
    if source == PACKAGED:
        configs = packaged_configs()
        layers = layers_from_fineweb2(configs, lambda lang: f"{PACKAGED_LABEL}: {lang}")
        label = PACKAGED_LABEL
    else:
        label = source if "://" in source or Path(source).is_absolute() else str(Path(path).parent / source)
        layers = load_fineweb2_configs(label)
    wordlists = settings.get("precision_wordlists")
    if wordlists and "://" not in wordlists and not Path(wordlists).is_absolute():
        wordlists = str(Path(path).parent / wordlists)
    if wordlists and not Path(wordlists).is_dir():
        raise RecipeError(path, "precision_wordlists", f"no such folder: {wordlists}")
    for lang, precision in precision_layers(wordlists).items():
        layers[lang] = merge(layers.get(lang, {}), precision)
    return layers, label


PACKAGED_LABEL = "packaged: cc_curate/data/fineweb2/configs.json.gz"


def annotated_yaml(merged: Mapping[str, Any], sources: Mapping[str, str], prefix: str = "", indent: str = "") -> str:
    """``merged`` as YAML, each value on one line followed by ``# <where it came from>``."""
    lines = []
    for name, value in merged.items():
        dotted = f"{prefix}{name}"
        if isinstance(value, dict) and value and name != "storage_options":
            lines.append(f"{indent}{name}:\n" + annotated_yaml(value, sources, f"{dotted}.", indent + "  "))
            continue
        flow = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1 << 30)
        flow = flow.strip().removesuffix("...").strip()
        lines.append(f"{indent}{name}: {flow}  # {sources.get(dotted, '?')}\n")
    return "".join(lines)


def _leaves(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys of the leaves of one layer (``storage_options`` counts as one leaf)."""
    out = []
    for name, value in data.items():
        if isinstance(value, dict) and value and name != "storage_options":
            out += _leaves(value, f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


def _only_stage_sections(defaults: dict[str, Any], stages: Sequence[type[Stage]]) -> dict[str, Any]:
    """The part of ``defaults`` that is the given stages' sections."""
    out: dict[str, Any] = {}
    for stage in stages:
        *parents, last = stage.recipe_section()
        src, dst = defaults, out
        for part in parents:
            src, dst = src[part], dst.setdefault(part, {})
        if last in src:
            dst[last] = src[last]
    return out


def load_language_dir(folder: str, spec: Mapping[str, Any] = SPEC,
                      sections: Sequence[str] = language_sections(registry.BUILTIN)) -> dict[str, dict[str, Any]]:
    """Read and validate every ``{lang}.yaml`` of a language-override folder."""
    root = Path(folder)
    if not root.is_dir():
        raise RecipeError(folder, "language_overrides", "no such folder")
    layers: dict[str, dict[str, Any]] = {}
    for file in sorted(root.glob("*.y*ml")):
        lang = file.name.split(".")[0]
        if not LANG_KEY_RE.match(lang):
            raise RecipeError(str(file), "(file name)", "expected {iso639_3}_{Script}.yaml, e.g. rus_Cyrl.yaml")
        data = _read_yaml(str(file)) or {}
        if not isinstance(data, dict):
            raise RecipeError(str(file), "(top level)", "expected a mapping of keys")
        for section in data:
            if section not in sections and section in spec:
                raise RecipeError(
                    str(file), section, f"is run-wide; a language file may set only {', '.join(sections)}"
                )
        _check(str(file), data, spec)
        layers[lang] = data
    return layers

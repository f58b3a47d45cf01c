"""The recipe schema: every key, its type and allowed range, generated from the declarations.

Stages declare their params (``cc_curate/stages/``), the run-wide sections are declared in
``cc_curate/settings.py``; ``spec_for`` puts them together for the stages a process knows (the
built-in ones give ``SPEC``; plugins add their sections). Hand-written validation rather than a
pydantic model because recipes are *layers* (defaults -> preset -> FineWeb2 config -> language
file): each layer is a partial recipe that must be checked on its own, so the error can name the
file it came from, and the merged result must be complete.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from cc_curate.params import Key, defaults_of, spec_of
from cc_curate.settings import PER_LANGUAGE_SECTIONS, SECTIONS, TopSettings
from cc_curate.stages.base import Stage
from cc_curate.stages.registry import BUILTIN


def spec_for(stages: Iterable[type[Stage]]) -> dict[str, Any]:
    """The schema of a recipe whose stages may be ``stages``: top-level keys, input, each stage's
    section (filters under ``filters``), then the other run-wide sections."""
    spec: dict[str, Any] = {**spec_of(TopSettings), "input": spec_of(SECTIONS["input"])}
    for stage in stages:
        if not stage.has_params():
            continue
        *parents, last = stage.recipe_section()
        node = spec
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = spec_of(stage.Params)
    spec.update({name: spec_of(cls) for name, cls in SECTIONS.items() if name != "input"})
    return spec


def defaults_for(stages: Iterable[type[Stage]]) -> dict[str, Any]:
    """The declared defaults of every key of ``spec_for(stages)``, in the same shape and order."""
    defaults: dict[str, Any] = {**defaults_of(TopSettings), "input": defaults_of(SECTIONS["input"])}
    for stage in stages:
        if not stage.has_params():
            continue
        *parents, last = stage.recipe_section()
        node = defaults
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = defaults_of(stage.Params)
    defaults.update({name: defaults_of(cls) for name, cls in SECTIONS.items() if name != "input"})
    return defaults


def language_sections(stages: Iterable[type[Stage]]) -> tuple[str, ...]:
    """Top-level sections a per-language file may override (the rest is run-wide)."""
    found = [stage.recipe_section()[0] for stage in stages if stage.per_language and stage.has_params()]
    return tuple(dict.fromkeys([*found, *PER_LANGUAGE_SECTIONS]))


SPEC: dict[str, Any] = spec_for(BUILTIN)
DEFAULTS: dict[str, Any] = defaults_for(BUILTIN)

# Keys only a preset (the file given to `cc-curate run`) may hold: where its layers are.
PRESET_KEYS: dict[str, Key] = {
    "base": Key("str", "Recipe file this one extends (relative to this file)"),
    "language_overrides": Key("str", "Folder of {lang}.yaml files (relative to this file)"),
}

LANGUAGE_SECTIONS = language_sections(BUILTIN)


def _check_scalar(key: Key, value: Any) -> bool:
    checks: dict[str, Callable[[Any], bool]] = {
        "bool": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "list[str]": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "mapping": lambda v: isinstance(v, dict),
        "words": lambda v: isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)),
        "pairs": lambda v: isinstance(v, list)
        and all(
            isinstance(p, list)
            and len(p) == 2
            and isinstance(p[0], int)
            and not isinstance(p[0], bool)
            and p[0] >= 1
            and isinstance(p[1], (int, float))
            and p[1] >= -1
            for p in v
        ),
    }
    if not checks[key.kind](value):
        return False
    if key.choices and value not in key.choices:
        return False
    if key.kind in ("int", "float"):
        if key.low is not None and value < key.low:
            return False
        if key.high is not None and value > key.high:
            return False
    return True


def validate_layer(data: Any, spec: dict[str, Any] = SPEC, prefix: str = "") -> list[tuple[str, str]]:
    """Check one partial recipe against the spec. Returns (dotted key, problem) pairs."""
    if not isinstance(data, dict):
        return [(prefix or "(top level)", "expected a mapping of keys")]
    problems: list[tuple[str, str]] = []
    for name, value in data.items():
        dotted = f"{prefix}{name}"
        if not isinstance(name, str) or name not in spec:
            known = ", ".join(sorted(spec))
            problems.append((dotted, f"unknown key (known here: {known})"))
            continue
        rule = spec[name]
        if isinstance(rule, dict):
            problems += validate_layer(value, rule, dotted + ".")
        elif value is None:
            if not rule.nullable:
                problems.append((dotted, f"expected {rule.expected()}, got null"))
        elif not _check_scalar(rule, value):
            problems.append((dotted, f"expected {rule.expected()}, got {value!r}"))
    return problems


def missing_keys(data: dict[str, Any], spec: dict[str, Any] = SPEC, prefix: str = "") -> list[str]:
    """Dotted keys the merged recipe lacks (the defaults must provide every key)."""
    missing: list[str] = []
    for name, rule in spec.items():
        dotted = f"{prefix}{name}"
        if name not in data:
            if not (isinstance(rule, Key) and rule.nullable):
                missing.append(dotted)
        elif isinstance(rule, dict):
            missing += missing_keys(data[name], rule, dotted + ".")
    return missing


def iter_keys(spec: dict[str, Any] = SPEC, prefix: str = ""):
    """Yield (dotted key, Key) for every leaf: used to generate docs/recipes.md."""
    for name, rule in spec.items():
        if isinstance(rule, dict):
            yield from iter_keys(rule, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", rule

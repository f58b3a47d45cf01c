"""Typed recipe sections: one frozen dataclass per section, each key declared with its default,
allowed range and a one-line doc.

Every recipe key is declared here or by a stage (``cc_curate/stages/``): the recipe schema
(``recipe_schema``), ``recipes/defaults.yaml`` and ``docs/recipes.md`` are generated from these
declarations (``scripts/gen_recipe_files.py``), so a default lives in exactly one place.

    @dataclass(frozen=True)
    class MinHashParams:
        n_grams: int = setting(5, "Words per shingle", low=1, high=50)

A key's kind (what the schema accepts) comes from its annotation: ``bool``, ``int``, ``float``,
``str``, ``list[str]``, ``Pairs`` (``[[n, fraction], ...]``), ``Words`` (a list of words or a
file path) and ``Mapping``; ``| None`` makes it nullable. A nested section is a field whose
default is another such dataclass (``read: ReadSettings = section(ReadSettings)``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar, Union


# Aliases that give a key its kind in annotations (they are plain lists at run time).
Pairs = list  # [[n, fraction], ...]
Words = Union[list, str]  # a list of words, or a path to a file of one word a line

_KINDS = {
    "bool": "bool", "int": "int", "float": "float", "str": "str", "list[str]": "list[str]",
    "Pairs": "pairs", "Words": "words", "Mapping": "mapping", "dict[str, Any]": "mapping",
}

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Key:
    """One leaf of the recipe schema: what it holds and which values are allowed."""

    kind: str  # bool | int | float | str | list[str] | pairs | words | mapping
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    nullable: bool = False

    def expected(self) -> str:
        """Human description of what this key accepts (for error messages and docs)."""
        parts = {
            "bool": "true or false",
            "int": "an integer",
            "float": "a number",
            "str": "a string",
            "list[str]": "a list of strings",
            "pairs": "a list of [n, fraction] pairs (n >= 1, fraction >= -1; above 1 never triggers)",
            "mapping": "a mapping",
            "words": "a list of strings or a file path",
        }[self.kind]
        if self.choices:
            parts = "one of " + ", ".join(self.choices)
        if self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "inf" if self.high is None else f"{self.high:g}"
            parts += f" in [{lo}, {hi}]"
        if self.nullable:
            parts += " (or null)"
        return parts


def setting(default: Any, doc: str, *, low: float | None = None, high: float | None = None,
            choices: tuple[str, ...] | None = None) -> Any:
    """A declared recipe key: its default (FineWeb2's where FineWeb2 sets it), range and doc."""
    meta = {"doc": doc, "low": low, "high": high, "choices": choices}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def section(cls: type) -> Any:
    """A nested section of keys (e.g. ``input.read``)."""
    return dataclasses.field(default_factory=cls, metadata={"section": cls})


def _key(field: dataclasses.Field) -> Key:
    annotation = str(field.type).replace(" ", "")
    nullable = annotation.endswith("|None")
    base = annotation.removesuffix("|None").replace(",", ", ")
    if base not in _KINDS:
        raise TypeError(f"{field.name}: annotation {field.type!r} is not a recipe kind ({', '.join(_KINDS)})")
    meta = field.metadata
    return Key(_KINDS[base], meta["doc"], low=meta["low"], high=meta["high"], choices=meta["choices"],
               nullable=nullable)


def spec_of(cls: type) -> dict[str, Any]:
    """The recipe schema of one declared section: {key: Key or nested dict}."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        nested = field.metadata.get("section")
        out[field.name] = spec_of(nested) if nested else _key(field)
    return out


def defaults_of(cls: type) -> dict[str, Any]:
    """The declared defaults of one section, as a recipe mapping."""
    return dataclasses.asdict(cls())


def docs_of(cls: type) -> dict[str, str]:
    """{key: one-line doc} of one section (nested keys dotted)."""
    out: dict[str, str] = {}
    for field in dataclasses.fields(cls):
        nested = field.metadata.get("section")
        if nested:
            out.update({f"{field.name}.{k}": v for k, v in docs_of(nested).items()})
        else:
            out[field.name] = field.metadata["doc"]
    return out


def from_mapping(cls: type[T], data: Mapping[str, Any]) -> T:
    """The typed section from a validated recipe mapping; keys it does not set keep their defaults."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name not in data:
            continue
        nested = field.metadata.get("section")
        values[field.name] = from_mapping(nested, data[field.name] or {}) if nested else data[field.name]
    return cls(**values)

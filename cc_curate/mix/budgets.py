"""What a mix asks for, and how much of each language it gets: the budget file, UniMax allocation,
full passes and the remainder to sample. Pure arithmetic: no Ray, no I/O beyond reading the YAML.

A language's *available* size ``A`` is its unique documents' cost (tokens, words or documents);
its *pool* ``R`` is the cost of its units (documents times their rehydration copies). A target
``B`` is met by ``passes = floor(B / R)`` whole copies of the pool plus a quality-weighted sample
of cost ``B - passes * R`` from it. Epochs are ``B / A``, capped at ``max_epochs``.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import yaml

from cc_curate.errors import UserError

UNITS = ("tokens", "words", "documents")
_SUFFIXES = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9, "T": 10**12}
_KEYS = {"unit", "total", "languages", "alpha", "max_epochs", "score", "tau", "seed", "rehydrate"}


class BudgetError(UserError):
    """A budget file or option that cannot be used (file, key, why)."""


@dataclass
class MixSpec:
    """Every parameter of a mix (recorded as is in mix.json)."""

    unit: str | None = None  # None: tokens when every file has token_count, else words (resolved_unit)
    total: int | None = None
    languages: dict[str, int] = field(default_factory=dict)  # explicit per-language budgets
    alpha: float = 0.3  # temperature: p_lang proportional to available^alpha for the others
    max_epochs: float = 4.0
    score: str | None = None  # a numeric column; None samples uniformly
    tau: float | None = 1.0
    seed: int = 0
    rehydrate: bool = True  # use rehydration_copies as repeat counts when present

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_amount(value: Any, where: str) -> int:
    """An amount: an integer, a float, or a string with a K/M/B/T suffix ("2.5B")."""
    if isinstance(value, bool):
        raise BudgetError(f"{where}: expected an amount, got {value!r}")
    if isinstance(value, (int, float)) and value >= 0 and math.isfinite(value):
        return int(round(value))
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*([KMBGT]?)\s*", str(value), re.IGNORECASE)
    if not match:
        raise BudgetError(f"{where}: expected an amount like 5000000, 2.5B or 300M, got {value!r}")
    return int(round(float(match.group(1)) * _SUFFIXES[match.group(2).upper()]))


def load_spec(path: str | None, overrides: Mapping[str, Any]) -> MixSpec:
    """The spec from a budget YAML file (optional) with command-line ``overrides`` (None = not given)."""
    raw: dict[str, Any] = {}
    if path:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise BudgetError(f"{path}: not valid YAML ({exc})") from exc
        if not isinstance(raw, dict):
            raise BudgetError(f"{path}: expected a mapping of budget keys")
        unknown = sorted(set(raw) - _KEYS)
        if unknown:
            raise BudgetError(f"{path}: key {unknown[0]!r}: unknown (expected one of {', '.join(sorted(_KEYS))})")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    where = path or "options"
    spec = MixSpec()
    if "unit" in raw:
        if raw["unit"] not in UNITS:
            raise BudgetError(f"{where}: key 'unit': {raw['unit']!r} is not one of {', '.join(UNITS)}")
        spec.unit = raw["unit"]
    if raw.get("total") is not None:
        spec.total = parse_amount(raw["total"], f"{where}: key 'total'")
    languages = raw.get("languages") or {}
    if not isinstance(languages, dict):
        raise BudgetError(f"{where}: key 'languages': expected a mapping {{lang: amount}}")
    spec.languages = {str(k): parse_amount(v, f"{where}: key 'languages.{k}'") for k, v in languages.items()}
    spec.alpha = _number(raw, "alpha", spec.alpha, where, low=0.0)
    spec.max_epochs = _number(raw, "max_epochs", spec.max_epochs, where, low=0.0, strict=True)
    if raw.get("score") is not None:
        spec.score = str(raw["score"])
    if "tau" in raw:
        spec.tau = _number(raw, "tau", 1.0, where, low=0.0, strict=True)
    if spec.score is None:
        spec.tau = None  # no score: uniform sampling
    spec.seed = int(_number(raw, "seed", spec.seed, where, low=0.0))
    if "rehydrate" in raw:
        if not isinstance(raw["rehydrate"], bool):
            raise BudgetError(f"{where}: key 'rehydrate': expected true or false")
        spec.rehydrate = raw["rehydrate"]
    if spec.total is None and not spec.languages:
        raise BudgetError(f"{where}: no budget: give a total (--total) or per-language budgets (languages:)")
    if spec.total is not None and sum(spec.languages.values()) > spec.total:
        raise BudgetError(f"{where}: the per-language budgets add up to more than the total {spec.total:,}")
    return spec


def _number(raw: Mapping[str, Any], key: str, default: float, where: str, low: float, strict: bool = False) -> float:
    if key not in raw:
        return default
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < low or (strict and value == low):
        bound = f"> {low:g}" if strict else f">= {low:g}"
        raise BudgetError(f"{where}: key {key!r}: expected a number {bound}, got {value!r}")
    return float(value)


@dataclass
class LanguagePlan:
    """One language's target and how it is met."""

    available: int  # cost of its unique documents
    pool: int  # cost of its units (rehydration copies counted)
    requested: int | None  # the explicit or allocated budget before the epoch cap
    target: int  # what the mix aims at: min(requested, max_epochs * available)
    passes: int  # whole copies of the pool
    remainder: int  # cost sampled from the pool on top of the passes

    @property
    def epochs(self) -> float:
        return self.target / self.available if self.available else 0.0

    @property
    def shortfall(self) -> int:
        return max(0, (self.requested or 0) - self.target)


def allocate(spec: MixSpec, available: Mapping[str, int], pool: Mapping[str, int]) -> dict[str, LanguagePlan]:
    """Targets per language: explicit budgets, then UniMax over the others with the rest of the total.
    Every language of ``spec.languages`` must be in ``available``.

    UniMax with a temperature: the languages are visited in increasing order of
    ``cap / weight`` (the smallest first, for alpha <= 1), each gets
    ``min(weight / remaining weight * remaining budget, cap)`` with ``cap = max_epochs * available``
    and ``weight = available ** alpha``; what a capped language leaves goes to the ones after it.
    """
    cap = {lang: int(math.floor(spec.max_epochs * n)) for lang, n in available.items()}
    requested: dict[str, int] = dict(spec.languages)
    if spec.total is not None:
        rest = [lang for lang in sorted(available) if lang not in spec.languages and available[lang] > 0]
        remaining = float(spec.total - sum(min(b, cap[lang]) for lang, b in spec.languages.items()))
        weight = {lang: float(available[lang]) ** spec.alpha for lang in rest}
        weight_left = sum(weight.values())
        for lang in sorted(rest, key=lambda lang: (cap[lang] / weight[lang], lang)):
            share = remaining * weight[lang] / weight_left if weight_left > 0 else 0.0
            requested[lang] = given = min(int(round(share)), cap[lang])  # capped: the rest moves on
            remaining -= given
            weight_left -= weight[lang]
    for lang in available:  # languages left out (no total, or nothing available) get nothing
        requested.setdefault(lang, 0)
    plans = {}
    for lang in sorted(requested):
        target = min(requested[lang], cap[lang])
        passes = target // pool[lang] if pool[lang] else 0
        plans[lang] = LanguagePlan(available[lang], pool[lang], requested[lang], target, passes,
                                   target - passes * pool[lang])
    return plans


def resolve_unit(spec: MixSpec, has_token_counts: bool) -> MixSpec:
    """The spec with its unit decided: as given, else tokens when the inputs have token counts, else words."""
    if spec.unit is not None:
        return spec
    return replace(spec, unit="tokens" if has_token_counts else "words")

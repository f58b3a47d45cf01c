"""Propose per-language thresholds from data (what FineWeb2 did in notebooks).

A *sample* is either the output folder of a run (its staged rows carry every filter signal and
the LID score, removed rows included) or a reference corpus of good text in one language
(JSONL/Parquet with a ``text`` column), whose signals are measured here with the pipeline's own
tokenizer and filters.

Methods, for every signal that a recipe threshold bounds (docs/recipes.md, "Calibration"):

* ``english-rate``: the threshold that removes, in this language, the same share of documents
  the English defaults remove on English (measured on the English rows of a reference sample).
* ``tail``: remove the worst ``p`` of the sample's distribution (the lower or upper tail,
  whichever side the rule bounds).

The LID threshold follows FineWeb2: clip(median - std of the language's scores, 0.3, 0.9).
Count thresholds (min/max words, stop words) are language-independent and are left alone.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pyarrow.compute as pc
import yaml

from cc_curate.errors import UserError
from cc_curate.output.staging import read_ledger, read_slices, slices_by_language
from cc_curate.output.storage import Storage
from cc_curate.recipe import Recipe
from cc_curate.sources import RawRecord, iter_records
from cc_curate.sources.inputs import resolve_inputs
from cc_curate.stages.base import Document, FilterStage, run_filters
from cc_curate.stages.filters import FinewebQuality, GopherQuality, GopherRepetition
from cc_curate.stages.lid import Lid, LanguageIdentifier
from cc_curate.stages.registry import rules_for
from cc_curate.stages.tokenize import get_tokenizer

METHODS = ("english-rate", "tail")
# The filters whose signals a reference corpus is measured with (FineWeb2's three).
MEASURED = (GopherRepetition, FinewebQuality, GopherQuality)
LID_CLIP = (0.3, 0.9)
ENGLISH = "eng_Latn"


@dataclass
class Sample:
    """One language's measured signal values and LID scores."""

    signals: dict[str, np.ndarray]
    scores: np.ndarray
    documents: int
    sources: list[str]


def lid_threshold(scores: np.ndarray) -> float:
    """FineWeb2's rule: clip(median - std, 0.3, 0.9) over the documents the model labelled as the language.

    NaN marks a document of a reference corpus that the model labelled as another language: it
    is not part of the language's score distribution (FineWeb2 computed it on the documents it
    had classified as the language), so it is left out.
    """
    scores = scores[~np.isnan(scores)]
    if scores.size == 0:
        return LID_CLIP[0]
    return round(float(np.clip(np.median(scores) - np.std(scores), *LID_CLIP)), 3)


def collect(inputs: Sequence[str], languages: Sequence[str], recipe: Recipe) -> dict[str, Sample]:
    """Every signal's values per language over the inputs (run outputs and/or reference corpora)."""
    values: dict[str, dict[str, list[float]]] = {lang: {} for lang in languages}
    scores: dict[str, list[float]] = {lang: [] for lang in languages}
    sources: dict[str, list[str]] = {lang: [] for lang in languages}
    for source in inputs:
        storage = Storage(source)
        if storage.exists("_ledger"):
            _from_run(storage, languages, values, scores)
            for lang in languages:
                sources[lang].append(source)
        else:
            if len(languages) != 1:
                raise UserError(f"{source}: a reference corpus is one language's text; give exactly one --language")
            _from_corpus(source, languages[0], recipe, values[languages[0]], scores[languages[0]])
            sources[languages[0]].append(source)
    return {
        lang: Sample({k: np.asarray(v, dtype=np.float64) for k, v in values[lang].items()},
                     np.asarray(scores[lang], dtype=np.float64), len(scores[lang]), sources[lang])
        for lang in languages
    }


def _from_run(storage: Storage, languages: Sequence[str], values: dict, scores: dict) -> None:
    slices = slices_by_language(read_ledger(storage).values())
    for lang in languages:
        table = read_slices(storage, slices.get(lang, []), columns=["filter_signals", "language_score"])
        scores[lang].extend(pc.fill_null(table["language_score"], 0.0).to_pylist())
        for pairs in table["filter_signals"].to_pylist():
            for name, value in pairs or []:
                values[lang].setdefault(name, []).append(value)


def _from_corpus(source: str, lang: str, recipe: Recipe, values: dict, scores: list) -> None:
    """Measure a reference corpus with the pipeline's tokenizer and every filter, rules switched off."""
    filters = [(stage(params), params) for stage in MEASURED
               for params in [open_params(stage, recipe.params(stage, lang))]]
    tokenizer = get_tokenizer(lang)
    lid = LanguageIdentifier(vars(recipe.params(Lid)))
    for shard in resolve_inputs([source]):
        texts = [r.text or "" for r in iter_records(shard) if isinstance(r, RawRecord)]
        for text, result in zip(texts, lid.predict(texts)):
            scores.append(result.score if result.lang == lang else float("nan"))
            doc = Document(id="", url="", date=None, text=text, lang=lang, words=tokenizer.words(text))
            run_filters(doc, filters)
            for name, value in doc.signals.items():
                values.setdefault(name, []).append(value)


def open_params(stage: type[FilterStage], params: Any) -> Any:
    """A filter's params with every declared threshold off, so every signal gets measured."""
    changes: dict[str, Any] = {"enabled": True}
    for signal in stage.signals:
        if signal.threshold is None:
            continue
        current = getattr(params, signal.threshold)
        changes[signal.threshold] = [[n, -1] for n, _ in current or []] if signal.per_n else -1
    return replace(params, **changes)


def removal_rates(sample: Sample, recipe_filters: Mapping[str, Any]) -> dict[str, float]:
    """Share of the sample each enabled threshold removes (used on English for english-rate)."""
    rates = {}
    for signal, values in sample.signals.items():
        for section, key, bound, value in _rules(signal, recipe_filters):
            if value is None or value == -1 or values.size == 0:
                continue
            removed = values < value if bound == "min" else values > value
            rates[f"{section}.{key}"] = float(np.mean(removed))
    return rates


def _rules(signal: str, filters: Mapping[str, Any]) -> list[tuple[str, str, str, Any]]:
    """(filter, key, direction, current value) of each calibrated threshold of ``signal``.

    Counts (word and stop-word counts) do not depend on the language and are left alone."""
    found = []
    for rule in rules_for(signal):
        if not rule.calibrate or rule.section[0] != "filters":
            continue
        section = filters.get(rule.section[-1], {})
        if rule.n is not None:
            limits = {int(n): v for n, v in section.get(rule.key) or []}
            found.append((rule.section[-1], f"{rule.key}[{rule.n}]", rule.direction, limits.get(rule.n)))
        else:
            found.append((rule.section[-1], rule.key, rule.direction, section.get(rule.key)))
    return found


def propose(sample: Sample, base_filters: Mapping[str, Any], method: str, *, tail: float = 0.05,
            english_rates: Mapping[str, float] | None = None) -> dict[str, Any]:
    """A language layer (recipe keys) with the proposed thresholds."""
    if method not in METHODS:
        raise UserError(f"unknown calibration method {method!r} (one of {', '.join(METHODS)})")
    if method == "english-rate" and not english_rates:
        raise UserError("method english-rate needs English rows (eng_Latn) in a run-output sample")
    filters: dict[str, dict[str, Any]] = {}
    for signal in sorted(sample.signals):
        values = sample.signals[signal]
        for section, key, bound, current in _rules(signal, base_filters):
            if values.size == 0 or current is None or current == -1:
                continue  # a rule the recipe keeps off stays off
            rate = tail if method == "tail" else (english_rates or {}).get(f"{section}.{key}")
            if rate is None:
                continue
            quantile = rate if bound == "min" else 1.0 - rate
            value = round(float(np.quantile(values, quantile)), 4)
            if key.endswith("]"):  # one n of an [[n, fraction], ...] list
                name, n = key[:-1].split("[")
                pairs = filters.setdefault(section, {}).setdefault(name, [list(p) for p in base_filters[section][name]])
                for pair in pairs:
                    if pair[0] == int(n):
                        pair[1] = value
            else:
                filters.setdefault(section, {})[key] = value
    return {"lid": {"threshold": lid_threshold(sample.scores)}, "filters": filters}


def write_layer(out_dir: Path, lang: str, layer: Mapping[str, Any], *, method: str, tail: float, sample: Sample) -> Path:
    """Write ``{out_dir}/{lang}.yaml`` with how it was made recorded in its header."""
    out_dir.mkdir(parents=True, exist_ok=True)
    header = [
        f"# {lang}: thresholds proposed by `cc-curate calibrate` on {time.strftime('%Y-%m-%d')}",
        f"# method: {method}" + (f" (worst {tail:.1%} of each signal removed)" if method == "tail" else
                                 " (each rule removes the share the English defaults remove on English)"),
        f"# sample: {sample.documents} documents from {', '.join(sample.sources)}",
        "# lid.threshold: clip(median - std of the language's LID scores, 0.3, 0.9) as FineWeb2",
    ]
    if "quality" in layer:
        header.append("# quality: min_score / min_bucket keep the --quality-keep share of the sample (docs/quality.md)")
    path = out_dir / f"{lang}.yaml"
    path.write_text("\n".join(header) + "\n" + yaml.safe_dump(json.loads(json.dumps(layer)), sort_keys=True,
                                                              allow_unicode=True), encoding="utf-8")
    return path

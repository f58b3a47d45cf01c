"""cc_curate's quality filters against datatrove's recorded decisions and signals (no datatrove needed).

tests/fixtures/datatrove_filters.jsonl.gz holds, for a fixed sample of real texts (UDHR windows of
every offline-tokenizable FineWeb2 language, realpages web pages), datatrove's word tokens, its
reason per filter with FineWeb2's config of the language, and the value each rule measured
(regenerate: scripts/make_datatrove_fixture.py). Each text is fed here with datatrove's own
tokens, so the comparison pins the rules, not the tokenizers: any change to what a rule measures
or how it decides fails. Checked by breaking the Gopher alpha rule (any letter -> str.isalpha()):
test_signals_match_datatrove and test_decisions_match_datatrove then fail.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from functools import cache

import pytest

from dataclasses import replace

from cc_curate.recipe import load_recipe
from cc_curate.stages.base import Document
from cc_curate.stages.filters import FinewebQuality, GopherQuality, GopherRepetition

from .conftest import REPO_ROOT

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "datatrove_filters.jsonl.gz"
FILTER_ORDER = ("gopher_repetition", "fineweb_quality", "gopher_quality")
STAGES = {stage.name: stage for stage in (GopherRepetition, FinewebQuality, GopherQuality)}
NEVER = 1e9  # a threshold no signal reaches: every rule measures, none removes


@cache
def _rows() -> tuple[dict, ...]:
    lines = gzip.decompress(FIXTURE.read_bytes()).decode("utf-8").splitlines()
    return tuple(json.loads(line) for line in lines[1:])  # line 0: how it was made


@cache
def _preset():
    return load_recipe(REPO_ROOT / "recipes" / "fineweb2.yaml")


def _params(lang: str) -> dict:
    """The fineweb2 preset's typed params of FineWeb2's three filters for ``lang``."""
    return {name: _preset().params(stage, lang) for name, stage in STAGES.items()}


def _filter(name: str, row: dict, params, signals: dict):
    """One filter on the fixture's text with datatrove's tokens as the words."""
    doc = Document(id=row["id"], url="", date=None, text=row["text"], lang=row["lang"], words=row["tokens"],
                   signals=signals)
    return STAGES[name](params).filter(doc, params)


def _measuring(params: dict) -> dict:
    """The filters' params with every threshold out of reach, so every signal is measured."""
    rep = replace(params["gopher_repetition"], dup_para_frac=NEVER, dup_para_char_frac=NEVER, dup_line_frac=NEVER,
                  dup_line_char_frac=NEVER, top_n_grams=[[n, NEVER] for n in (2, 3, 4)],
                  dup_n_grams=[[n, NEVER] for n in range(5, 11)])
    return {**params, "gopher_repetition": rep}


def test_fixture_is_varied_enough_to_catch_drift() -> None:
    rows = _rows()
    scripts = Counter(r["lang"].split("_")[1] for r in rows)
    assert len(rows) >= 300 and len({r["lang"] for r in rows}) >= 100 and len(scripts) >= 10
    for name in FILTER_ORDER:  # every filter both keeps and removes documents of the sample
        removed = sum(r["decisions"][name] is not None for r in rows)
        assert 0 < removed < len(rows), name


def test_decisions_match_datatrove() -> None:
    """Each filter, run on every document with the fineweb2 preset's settings, gives datatrove's reason."""
    differ = []
    for row in _rows():
        params = _params(row["lang"])
        for name in FILTER_ORDER:
            ours = _filter(name, row, params[name], {})
            if ours != row["decisions"][name]:
                differ.append(f"{row['id']} ({row['lang']}) {name}: datatrove {row['decisions'][name]}, cc_curate {ours}")
    assert not differ, f"{len(differ)} decisions differ from datatrove's, e.g.\n" + "\n".join(differ[:10])


def test_signals_match_datatrove() -> None:
    """Every rule measures what datatrove's rule measures (to 1e-9)."""
    differ = []
    for row in _rows():
        params = _measuring(_params(row["lang"]))
        signals: dict[str, float] = {}
        for name in FILTER_ORDER:
            _filter(name, row, params[name], signals)
        signals["gopher_symbol_ratio_max"] = max(signals["gopher_hash_ratio"], signals["gopher_ellipsis_ratio"])
        for signal, expected in row["signals"].items():
            got = signals.get(signal)
            if got is None or not math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9):
                differ.append(f"{row['id']} ({row['lang']}) {signal}: datatrove {expected!r}, cc_curate {got!r}")
        for signal in signals.keys() - row["signals"].keys():
            if signal.startswith("top_"):  # measured only when the text has n-grams of that order
                differ.append(f"{row['id']} ({row['lang']}) {signal}: measured here, not by datatrove")
    assert not differ, f"{len(differ)} signals differ from datatrove's, e.g.\n" + "\n".join(differ[:10])


@pytest.mark.parametrize("rule", ["gopher_alpha_words_ratio", "dup_line_frac", "top_2_gram", "list_ratio"])
def test_fixture_exercises_each_rule_on_both_sides(rule: str) -> None:
    """A signal that is never near its threshold could drift unnoticed: the sample spreads each one."""
    values = [r["signals"][rule] for r in _rows() if rule in r["signals"]]
    assert len(set(round(v, 6) for v in values)) > 10

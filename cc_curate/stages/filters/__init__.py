"""Document quality filters, one stage each (``cc_curate.stages.base.FilterStage``).

Each module holds the filter's pure function ``(text, words, params, signals) -> reason | None``
(``words``: the language's word tokens, computed once per document; ``params``: its typed
params, FineWeb2's values by default; the function writes what it measured into ``signals`` so
thresholds can be changed later without reprocessing) and its stage declaration. The reason is
``"<filter>:<rule>"`` of the first failing rule. ``run_filters`` (in ``stages.base``) is the one
runner: every enabled filter measures its signals, the first reason in the recipe's order wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cc_curate.stages.base import run_filters

from cc_curate.stages.filters.c4_quality import C4Badwords, C4Quality
from cc_curate.stages.filters.fineweb_quality import FinewebQuality
from cc_curate.stages.filters.gopher_quality import GopherQuality
from cc_curate.stages.filters.gopher_repetition import GopherRepetition
from cc_curate.stages.filters.precision import Precision

# Every built-in filter stage, in FineWeb2's order (its three filters, then precision, which
# FineWeb2 ran for languages with a contamination score above 0.10; the C4 ones are off there).
__all__ = ["FILTER_STAGES", "C4Badwords", "C4Quality", "FinewebQuality", "GopherQuality", "GopherRepetition",
           "Precision", "fineweb2_params", "run_filters"]

FILTER_STAGES = (GopherRepetition, FinewebQuality, GopherQuality, C4Quality, C4Badwords, Precision)

# FineWeb2 config key -> (filter, param), for the keys of its per-language configs that are filter params.
_FINEWEB2_FILTER_KEYS = {
    "dup_line_frac": ("gopher_repetition", "dup_line_frac"),
    "dup_n_grams": ("gopher_repetition", "dup_n_grams"),
    "top_n_grams": ("gopher_repetition", "top_n_grams"),
    "line_punct_thr": ("fineweb_quality", "line_punct_thr"),
    "new_line_ratio": ("fineweb_quality", "new_line_ratio"),
    "min_avg_word_length": ("gopher_quality", "min_avg_word_length"),
    "max_avg_word_length": ("gopher_quality", "max_avg_word_length"),
    "max_non_alpha_words_ratio": ("gopher_quality", "max_non_alpha_words_ratio"),
    "stopwords": ("gopher_quality", "stop_words"),
}


def fineweb2_params(config: Mapping[str, Any]) -> dict[str, Any]:
    """The typed params of FineWeb2's three filters for one ``configs/{lang}.yml`` mapping.

    Keys the config does not set keep the declared defaults (FineWeb2's).
    """
    values: dict[str, dict[str, Any]] = {"gopher_repetition": {}, "fineweb_quality": {}, "gopher_quality": {}}
    for key, (name, param) in _FINEWEB2_FILTER_KEYS.items():
        if key in config:
            values[name][param] = list(config[key]) if key == "stopwords" else config[key]
    stages = {stage.name: stage for stage in FILTER_STAGES}
    return {name: stages[name].Params(**params) for name, params in values.items()}

"""Document quality filters: a registry by name, FineWeb2's order, and FineWeb2's settings.

Every filter is a pure function ``(text, words, params, signals) -> reason | None`` (precision
also takes ``url=``): ``words`` are the language's word tokens (computed once per document),
``params`` the recipe section for the filter, and the filter writes what it measured into
``signals`` so thresholds can be changed later without reprocessing. The reason is
``"<filter>:<rule>"`` of the first failing rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cc_curate.stages.filters.c4_quality import BADWORDS_NAME, c4_badwords, c4_quality
from cc_curate.stages.filters.fineweb_quality import fineweb_quality
from cc_curate.stages.filters.gopher_quality import gopher_quality
from cc_curate.stages.filters.gopher_repetition import gopher_repetition
from cc_curate.stages.filters.precision import precision

FilterFn = Callable[..., str | None]

FILTERS: dict[str, FilterFn] = {
    "gopher_repetition": gopher_repetition,
    "fineweb_quality": fineweb_quality,
    "gopher_quality": gopher_quality,
    "c4_quality": c4_quality,
    BADWORDS_NAME: c4_badwords,
    "precision": precision,
}

# The order FineWeb2 applied its filters in (after LID threshold and MinHash dedup). The
# precision filter ran last, and only for languages with a contamination score above 0.10.
FINEWEB2_ORDER: tuple[str, ...] = ("gopher_repetition", "fineweb_quality", "gopher_quality", "precision")

# FineWeb2's settings that are the same for every language (-1 = rule disabled).
FINEWEB2_FIXED: dict[str, dict[str, Any]] = {
    # trafilatura output has few paragraphs; duplicate characters are judged by fineweb_quality
    "gopher_repetition": {"dup_para_frac": -1, "dup_para_char_frac": -1, "dup_line_char_frac": -1},
    "fineweb_quality": {"short_line_thr": -1, "char_duplicates_ratio": 0.1},
    "gopher_quality": {"min_stop_words": 2},
}


def fineweb2_params(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Filter params for one language from a FineWeb2 ``configs/{lang}.yml`` mapping.

    Keys the config does not set keep the filters' defaults; ``stopwords`` becomes ``stop_words``.
    """
    params = {name: dict(fixed) for name, fixed in FINEWEB2_FIXED.items()}
    rep, fw, gq = params["gopher_repetition"], params["fineweb_quality"], params["gopher_quality"]
    for key in ("dup_line_frac", "dup_n_grams", "top_n_grams"):
        if key in config:
            rep[key] = config[key]
    for key in ("line_punct_thr", "new_line_ratio"):
        if key in config:
            fw[key] = config[key]
    for key in ("min_avg_word_length", "max_avg_word_length", "max_non_alpha_words_ratio"):
        if key in config:
            gq[key] = config[key]
    if "stopwords" in config:
        gq["stop_words"] = list(config["stopwords"])
    return params


def apply_filters(
    text: str,
    words: list[str],
    params: Mapping[str, Mapping[str, Any]],
    order: Sequence[str],
    signals: dict[str, float],
    *,
    url: str = "",
) -> str | None:
    """Run the named filters in order; the first reason wins and later filters do not run.

    A filter without a section in ``params`` is skipped (e.g. precision for most languages).
    """
    for name in order:
        if name not in params:
            continue
        fn = FILTERS[name]
        kwargs = {"url": url} if name == "precision" else {}
        reason = fn(text, words, params[name], signals, **kwargs)
        if reason is not None:
            return reason
    return None

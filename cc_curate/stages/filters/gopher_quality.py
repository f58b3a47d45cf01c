"""Gopher quality rules (Rae et al. 2021, table A1) with FineWeb2's multilingual changes.

Same semantics as datatrove's ``GopherQualityFilter`` as used by FineWeb2:

* words are the language's word tokens; "symbol words" (made only of punctuation) are left out of
  the word count and the average word length, but stay in the denominators of the hash, ellipsis
  and alphabetic ratios;
* ``max_non_alpha_words_ratio`` is really the *minimum* share of tokens with a letter;
* the stop-word rule counts *distinct* stop words present (FineWeb2's per-language lists are long
  and frequent words would otherwise pass on repetition alone);
* a threshold that is 0, ``None`` or -1 disables its rule (datatrove tests thresholds for truth).

Deliberate difference: a document without any word fails ``gopher_short_doc`` even when that rule
is disabled (datatrove divides by zero there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import regex

from cc_curate.params import setting
from cc_curate.stages.base import Document, FilterStage, Signal
from cc_curate.stages.tokenize import PUNCTUATION_CHARS

NAME = "gopher_quality"

_PUNCT = "".join(sorted(PUNCTUATION_CHARS))
_LETTER = regex.compile(r"\p{L}")


@dataclass(frozen=True)
class GopherQualityParams:
    """FineWeb2's values (datatrove's defaults, except an empty stop-word list: each language has its own)."""

    enabled: bool = setting(True, "Apply Gopher quality rules")
    min_doc_words: int = setting(50, "Min words", low=0)
    max_doc_words: int = setting(100000, "Max words", low=1)
    min_avg_word_length: float = setting(3, "Min mean word length", low=-1.0)
    max_avg_word_length: float = setting(10, "Max mean word length", low=-1.0)
    max_symbol_word_ratio: float = setting(0.1, "Max #/... symbols per word (-1 disables)", low=-1.0)
    max_bullet_lines_ratio: float = setting(0.9, "Max fraction of bullet lines (-1 disables)", low=-1.0)
    max_ellipsis_lines_ratio: float = setting(0.3, "Max fraction of lines ending in ... (-1 disables)", low=-1.0)
    max_non_alpha_words_ratio: float = setting(0.8, "Min fraction of words with a letter (-1 disables)", low=-1.0)
    min_stop_words: int = setting(2, "Min stop words (skipped when stop_words is empty)", low=0)
    stop_words: list[str] = setting([], "The language's stop words")


def threshold(value: Any, *, zero_disables: bool) -> Any:
    """The threshold, or None when the rule is disabled.

    -1 and None always disable. 0 disables only where datatrove tests the value for truth
    (the Gopher filters); elsewhere 0 is a real threshold.
    """
    if value is None or value == -1 or (zero_disables and not value):
        return None
    return value


def is_symbol_word(word: str) -> bool:
    """True when every character of ``word`` is punctuation (such tokens are not words)."""
    return not word.isalnum() and not word.strip(_PUNCT)


def gopher_quality(text: str, words: list[str], params: GopherQualityParams, signals: dict[str, float]) -> str | None:
    """Reason ``gopher_quality:<rule>`` of the first failing Gopher quality rule, or None."""
    n_tokens = len(words)
    real_words = [w for w in words if not is_symbol_word(w)]
    n_words = len(real_words)
    signals["gopher_words"] = float(n_words)
    if n_words == 0:
        return f"{NAME}:gopher_short_doc"

    lines = text.splitlines()
    stop_words = params.stop_words or []
    avg_len = sum(map(len, real_words)) / n_words
    hash_ratio = text.count("#") / n_tokens
    ellipsis_ratio = (text.count("...") + text.count("…")) / n_tokens
    bullet_ratio = sum(1 for s in lines if s.lstrip().startswith(("•", "-"))) / len(lines)
    end_ellipsis = sum(1 for s in lines if s.rstrip().endswith(("...", "…"))) / len(lines)
    alpha_ratio = sum(1 for w in words if w.isalpha() or _LETTER.search(w)) / n_tokens
    n_stop = len(set(stop_words).intersection(words))
    signals.update(
        gopher_avg_word_length=avg_len,
        gopher_hash_ratio=hash_ratio,
        gopher_ellipsis_ratio=ellipsis_ratio,
        gopher_bullet_lines_ratio=bullet_ratio,
        gopher_end_ellipsis_lines_ratio=end_ellipsis,
        gopher_alpha_words_ratio=alpha_ratio,
        gopher_stop_words=float(n_stop),
    )

    def t(key: str) -> Any:
        return threshold(getattr(params, key), zero_disables=True)

    checks = (
        ("gopher_short_doc", (v := t("min_doc_words")) is not None and n_words < v),
        ("gopher_long_doc", (v := t("max_doc_words")) is not None and n_words > v),
        ("gopher_below_avg_threshold", (v := t("min_avg_word_length")) is not None and avg_len < v),
        ("gopher_above_avg_threshold", (v := t("max_avg_word_length")) is not None and avg_len > v),
        ("gopher_too_many_hashes", (v := t("max_symbol_word_ratio")) is not None and hash_ratio > v),
        ("gopher_too_many_ellipsis", (v := t("max_symbol_word_ratio")) is not None and ellipsis_ratio > v),
        ("gopher_too_many_bullets", (v := t("max_bullet_lines_ratio")) is not None and bullet_ratio > v),
        ("gopher_too_many_end_ellipsis", (v := t("max_ellipsis_lines_ratio")) is not None and end_ellipsis > v),
        ("gopher_below_alpha_threshold", (v := t("max_non_alpha_words_ratio")) is not None and alpha_ratio < v),
        # An empty stop-word list means the language has none configured: skip the rule (a
        # default English list would remove every document of another language).
        ("gopher_enough_stop_words", bool(stop_words) and (v := t("min_stop_words")) is not None and n_stop < v),
    )
    for rule, failed in checks:
        if failed:
            return f"{NAME}:{rule}"
    return None


class GopherQuality(FilterStage):
    name = NAME
    doc = "Gopher quality rules (Rae et al. 2021) with FineWeb2's multilingual changes"
    Params = GopherQualityParams
    signals = (
        Signal("gopher_words", "min_doc_words", "min", zero_disables=True, calibrate=False),
        Signal("gopher_words", "max_doc_words", "max", zero_disables=True, calibrate=False),
        Signal("gopher_avg_word_length", "min_avg_word_length", "min", zero_disables=True),
        Signal("gopher_avg_word_length", "max_avg_word_length", "max", zero_disables=True),
        Signal("gopher_hash_ratio", "max_symbol_word_ratio", "max", zero_disables=True),
        Signal("gopher_ellipsis_ratio", "max_symbol_word_ratio", "max", zero_disables=True),
        Signal("gopher_bullet_lines_ratio", "max_bullet_lines_ratio", "max", zero_disables=True),
        Signal("gopher_end_ellipsis_lines_ratio", "max_ellipsis_lines_ratio", "max", zero_disables=True),
        # despite the key's name, the share of words with a letter must reach it
        Signal("gopher_alpha_words_ratio", "max_non_alpha_words_ratio", "min", zero_disables=True),
        Signal("gopher_stop_words", "min_stop_words", "min", zero_disables=True, calibrate=False),
    )
    reasons = tuple(f"{NAME}:{rule}" for rule in (
        "gopher_short_doc", "gopher_long_doc", "gopher_below_avg_threshold", "gopher_above_avg_threshold",
        "gopher_too_many_hashes", "gopher_too_many_ellipsis", "gopher_too_many_bullets",
        "gopher_too_many_end_ellipsis", "gopher_below_alpha_threshold", "gopher_enough_stop_words"))

    def filter(self, doc: Document, params: GopherQualityParams) -> str | None:
        return gopher_quality(doc.text or "", doc.words, params, doc.signals)

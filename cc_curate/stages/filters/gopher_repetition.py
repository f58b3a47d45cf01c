"""Gopher repetition rules (Rae et al. 2021, table A1), with datatrove's exact counting.

Semantics that decide keep/drop and that we reproduce on purpose:

* paragraphs are the stripped text split on runs of 2+ newlines; lines are the *unstripped* text
  split on runs of newlines (so a leading and a trailing newline give two empty "lines", which
  count as one duplicate);
* character fractions divide by the length of the whole text;
* top n-grams score the most frequent n-gram (the first seen, on ties) as its space-joined
  length times its count;
* duplicated n-grams count characters without separators, and after a repeated n-gram the scan
  jumps ahead by n words, so overlapping repeats are not double counted;
* a line/paragraph threshold of 0 (FineWeb2 uses 0 to switch the paragraph rules off), None or -1
  disables that rule; n-gram thresholds of 0 are real (any repeat fails), only None/-1 disable.

n-grams are compared as word tuples, which is faster than datatrove's joined strings; the two
differ only when different word sequences join to the same string (words containing spaces for
top n-grams, e.g. "ab c" / "a bc" for duplicated ones) — vanishingly rare in real text.

Signals: the four line/paragraph fractions always; n-gram fractions up to the first failure
(they cost more than everything else in the quality filters together).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from cc_curate.stages.filters.gopher_quality import threshold

NAME = "gopher_repetition"
DEFAULTS: dict[str, Any] = {
    "dup_line_frac": 0.3,
    "dup_para_frac": 0.3,
    "dup_line_char_frac": 0.2,
    "dup_para_char_frac": 0.2,
    "top_n_grams": [[2, 0.2], [3, 0.18], [4, 0.16]],
    "dup_n_grams": [[5, 0.15], [6, 0.14], [7, 0.13], [8, 0.12], [9, 0.11], [10, 0.10]],
}

_PARAGRAPH_SPLIT = re.compile(r"\n{2,}")
_LINE_SPLIT = re.compile(r"\n+")


def find_duplicates(items: Iterable[str]) -> tuple[int, int]:
    """(number of items seen before, total characters of those repeats)."""
    seen: set[str] = set()
    n_dup = dup_chars = 0
    for item in items:
        if item in seen:
            n_dup += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return n_dup, dup_chars


def _ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(words[i:] for i in range(n))))


def top_ngram_chars(words: list[str], n: int) -> tuple[int, bool]:
    """(characters covered by the most frequent n-gram — space-joined length times count,
    whether every n-gram is unique)."""
    counts = Counter(_ngrams(words, n))
    if not counts:
        return 0, True
    gram, count = counts.most_common(1)[0]
    return (sum(map(len, gram)) + n - 1) * count, count == 1


def duplicated_ngram_chars(words: list[str], n: int) -> int:
    """Characters of repeated n-grams (without separators), skipping n words after each repeat."""
    grams = _ngrams(words, n)
    seen: set[tuple[str, ...]] = set()
    repeated = i = 0
    while i < len(grams):
        gram = grams[i]
        if gram in seen:
            repeated += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated


def gopher_repetition(
    text: str, words: list[str], params: Mapping[str, Any], signals: dict[str, float]
) -> str | None:
    """Reason ``gopher_repetition:<rule>`` of the first failing repetition rule, or None."""
    if not text:
        return f"{NAME}:empty"
    n_chars = len(text)
    paragraphs = _PARAGRAPH_SPLIT.split(text.strip())
    dup_paras, dup_para_chars = find_duplicates(paragraphs)
    lines = _LINE_SPLIT.split(text)
    dup_lines, dup_line_chars = find_duplicates(lines)
    values = {
        "dup_para_frac": dup_paras / len(paragraphs),
        "dup_para_char_frac": dup_para_chars / n_chars,
        "dup_line_frac": dup_lines / len(lines),
        "dup_line_char_frac": dup_line_chars / n_chars,
    }
    signals.update(values)
    for rule, value in values.items():
        limit = threshold(params, rule, DEFAULTS, zero_disables=True)
        if limit is not None and value > limit:
            return f"{NAME}:{rule}"

    # Once all k-grams are unique, so are all longer n-grams: their top n-gram is the first one and
    # nothing is duplicated. Many documents have no repeated 5-gram and skip the longer ones.
    unique_from = len(words) + 1
    for n, limit in params.get("top_n_grams", DEFAULTS["top_n_grams"]) or []:
        if limit is None or limit == -1 or len(words) < n:
            continue
        if n >= unique_from:
            chars = sum(map(len, words[:n])) + n - 1
        else:
            chars, unique = top_ngram_chars(words, n)
            unique_from = min(unique_from, n) if unique else unique_from
        frac = signals[f"top_{n}_gram"] = chars / n_chars
        if frac > limit:
            return f"{NAME}:top_{n}_gram"
    for n, limit in params.get("dup_n_grams", DEFAULTS["dup_n_grams"]) or []:
        if limit is None or limit == -1:
            continue
        chars = 0 if n >= unique_from else duplicated_ngram_chars(words, n)
        if chars == 0:
            unique_from = min(unique_from, n)
        frac = signals[f"duplicated_{n}_n_grams"] = chars / n_chars
        if frac > limit:
            return f"{NAME}:duplicated_{n}_n_grams"
    return None

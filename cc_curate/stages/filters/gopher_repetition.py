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

n-grams are compared as word sequences (exact integer ids, see ``NGrams``), which is faster than
datatrove's joined strings; the two differ only when different word sequences join to the same
string (words containing spaces for top n-grams, e.g. "ab c" / "a bc" for duplicated ones) —
vanishingly rare in real text.

Signals: the four line/paragraph fractions always; n-gram fractions up to the first failure
(they cost more than everything else in the quality filters together).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from cc_curate.params import Pairs, setting
from cc_curate.stages.base import Document, FilterStage, Signal

NAME = "gopher_repetition"


@dataclass(frozen=True)
class GopherRepetitionParams:
    """FineWeb2's values (datatrove's defaults with the paragraph and line-character rules off:
    trafilatura output has few paragraphs, and fineweb_quality judges duplicated characters)."""

    enabled: bool = setting(True, "Apply Gopher repetition rules")
    dup_line_frac: float = setting(0.3, "Max fraction of duplicated lines (-1 disables)", low=-1.0)
    dup_para_frac: float = setting(-1, "Max fraction of duplicated paragraphs (-1 disables)", low=-1.0)
    dup_line_char_frac: float = setting(-1, "Max char fraction in duplicated lines (-1 disables)", low=-1.0)
    dup_para_char_frac: float = setting(-1, "Max char fraction in duplicated paragraphs (-1 disables)", low=-1.0)
    top_n_grams: Pairs = setting([[2, 0.2], [3, 0.18], [4, 0.16]], "Max char fraction of the top n-gram, per n")
    dup_n_grams: Pairs = setting([[5, 0.15], [6, 0.14], [7, 0.13], [8, 0.12], [9, 0.11], [10, 0.10]],
                                 "Max char fraction of duplicated n-grams, per n")

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


class NGrams:
    """A document's repeated n-grams as exact integer ids, so counting them is numpy work, not
    Python tuples.

    Words get ids once. The n-grams of order n are grouped by sorting one int64 key per position
    (the position's (n-1)-gram group times the vocabulary size plus the word at i+n-1), so equal
    groups mean equal word sequences: no hashing, no collisions. An n-gram can only repeat where
    its (n-1)-gram repeats, so each order sorts only the positions the order below left repeated:
    few, for prose, from about the 3rd order on.
    """

    def __init__(self, words: list[str]):
        index = {word: i for i, word in enumerate(dict.fromkeys(words))}
        self._n_words = len(words)
        self._vocab = len(index)
        self._word_ids = np.fromiter(map(index.__getitem__, words), np.int64, len(words))
        lengths = np.fromiter(map(len, words), np.int64, len(words))
        self._char_ends = np.concatenate(([0], np.cumsum(lengths)))  # chars of words[:i] at i
        # per order: (positions whose n-gram repeats, their group, first position and size of each
        # group of the positions sorted at this order)
        self._orders: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def _order(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if not self._orders:  # words: ids are dense and in order of first appearance, no sort needed
            ids = self._word_ids
            counts = np.bincount(ids)
            first = np.flatnonzero(np.concatenate(([True], ids[1:] > np.maximum.accumulate(ids)[:-1])))
            repeated = np.flatnonzero(counts[ids] > 1)
            self._orders.append((repeated, ids[repeated], first, counts))
        while len(self._orders) < n:
            k = len(self._orders) + 1
            positions, groups, _, _ = self._orders[-1]
            fit = np.searchsorted(positions, self._n_words - k, side="right")  # room for k words
            candidates = positions[:fit]
            keys = groups[:fit] * self._vocab + self._word_ids[candidates + k - 1]  # < n_words²
            _, first, groups, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
            repeated = counts[groups] > 1
            self._orders.append((candidates[repeated], groups[repeated], candidates[first], counts))
        return self._orders[n - 1]

    def _chars(self, positions: np.ndarray, n: int) -> np.ndarray:
        """Characters (without separators) of the n-grams starting at ``positions``."""
        return self._char_ends[positions + n] - self._char_ends[positions]

    def top_chars(self, n: int) -> tuple[int, bool]:
        """(characters covered by the most frequent n-gram — space-joined length times count,
        whether every n-gram is unique); the first seen wins a tie."""
        if self._n_words < n:
            return 0, True
        _, _, first, counts = self._order(n)
        best = int(counts.max()) if counts.size else 1
        # all unique: the first n-gram of the text (which need not be among the sorted positions)
        position = first[counts == best].min() if best > 1 else 0
        return (int(self._chars(position, n)) + n - 1) * best, best == 1

    def duplicated_chars(self, n: int) -> int:
        """Characters of repeated n-grams (without separators), skipping n words after each repeat.

        datatrove's scan, position by position, counts an n-gram as repeated when an earlier,
        not skipped occurrence exists. Here only the *later* occurrences are visited (a first
        occurrence never repeats): a later occurrence repeats when its first occurrence is not in
        a skipped stretch (the n-1 positions after a repeat), or when another later occurrence of
        it was reached before without repeating. Every later occurrence that is not skipped is
        reached, so this is the same scan, with one step per repeat instead of one per word.
        """
        if self._n_words < n:
            return 0
        positions, groups, first, _ = self._order(n)
        firsts = first[groups]
        later = firsts != positions
        candidates, candidate_groups = positions[later].tolist(), groups[later].tolist()
        candidate_firsts = firsts[later].tolist()
        repeats: list[int] = []
        reached: set[int] = set()  # groups of later occurrences reached that did not repeat
        k = 0
        while k < len(candidates):
            position, group = candidates[k], candidate_groups[k]
            before = bisect.bisect_right(repeats, candidate_firsts[k]) - 1  # the last repeat before it
            if before < 0 or candidate_firsts[k] >= repeats[before] + n or group in reached:
                repeats.append(position)
                k = bisect.bisect_left(candidates, position + n, k + 1)
            else:
                reached.add(group)
                k += 1
        return int(self._chars(np.array(repeats, dtype=np.int64), n).sum())


def top_ngram_chars(words: list[str], n: int) -> tuple[int, bool]:
    """``NGrams(words).top_chars(n)``, for one order."""
    return NGrams(words).top_chars(n)


def duplicated_ngram_chars(words: list[str], n: int) -> int:
    """``NGrams(words).duplicated_chars(n)``, for one order."""
    return NGrams(words).duplicated_chars(n)


def gopher_repetition(text: str, words: list[str], params: GopherRepetitionParams,
                      signals: dict[str, float]) -> str | None:
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
        limit = getattr(params, rule)
        if limit and limit != -1 and value > limit:  # 0, None and -1 disable (datatrove tests for truth)
            return f"{NAME}:{rule}"

    # Once all k-grams are unique, so are all longer n-grams: their top n-gram is the first one and
    # nothing is duplicated. Many documents have no repeated 5-gram and skip the longer ones.
    unique_from = len(words) + 1
    ngrams = NGrams(words)
    for n, limit in params.top_n_grams or []:
        if limit is None or limit == -1 or len(words) < n:
            continue
        if n >= unique_from:
            chars = sum(map(len, words[:n])) + n - 1
        else:
            chars, unique = ngrams.top_chars(n)
            unique_from = min(unique_from, n) if unique else unique_from
        frac = signals[f"top_{n}_gram"] = chars / n_chars
        if frac > limit:
            return f"{NAME}:top_{n}_gram"
    for n, limit in params.dup_n_grams or []:
        if limit is None or limit == -1:
            continue
        chars = 0 if n >= unique_from else ngrams.duplicated_chars(n)
        if chars == 0:
            unique_from = min(unique_from, n)
        frac = signals[f"duplicated_{n}_n_grams"] = chars / n_chars
        if frac > limit:
            return f"{NAME}:duplicated_{n}_n_grams"
    return None


class GopherRepetition(FilterStage):
    name = NAME
    doc = "Gopher repetition rules (Rae et al. 2021): duplicated lines, paragraphs and n-grams"
    Params = GopherRepetitionParams
    signals = (
        Signal("dup_para_frac", "dup_para_frac", "max", zero_disables=True),
        Signal("dup_para_char_frac", "dup_para_char_frac", "max", zero_disables=True),
        Signal("dup_line_frac", "dup_line_frac", "max", zero_disables=True),
        Signal("dup_line_char_frac", "dup_line_char_frac", "max", zero_disables=True),
        Signal("top_{n}_gram", "top_n_grams", "max"),
        Signal("duplicated_{n}_n_grams", "dup_n_grams", "max"),
    )
    reasons = tuple(f"{NAME}:{rule}" for rule in ("empty", "dup_para_frac", "dup_para_char_frac", "dup_line_frac",
                                                   "dup_line_char_frac", "top_{n}_gram", "duplicated_{n}_n_grams"))

    def filter(self, doc: Document, params: GopherRepetitionParams) -> str | None:
        return gopher_repetition(doc.text or "", doc.words, params, doc.signals)

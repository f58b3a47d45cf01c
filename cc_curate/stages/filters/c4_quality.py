"""C4 heuristics (Raffel et al. 2020) as in datatrove's C4QualityFilter and C4BadWordsFilter.

Off in FineWeb2; offered for recipes that want them. ``c4_quality`` walks the lines the way
datatrove does (a line is dropped for a too-long word, no terminal punctuation, too few words,
"javascript" or a policy phrase; the document is dropped at the first kept line containing "lorem
ipsum" or "{", or when the kept lines hold too few sentences). Differences, on purpose:

* the text itself is not rewritten (stages never change text behind the filters' back); the share
  of lines C4 would keep is reported as the ``c4_kept_lines_frac`` signal instead;
* sentences are counted with a terminal-punctuation regex instead of spaCy/NLTK sentence
  splitters (one sentence per run of terminal marks followed by a space or the end of the line).

``c4_badwords`` takes its list from the recipe (``bad_words``: a path to a one-word-per-line
file, or an inline list) — nothing is downloaded. Words match between non-word characters, or
anywhere when ``substring`` is true (FineWeb/C4 do that for Japanese, Thai and Chinese).
datatrove's random ``keep_fraction`` is not offered: decisions must be deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import regex

from cc_curate.params import Words, setting
from cc_curate.stages.base import Document, FilterStage, Signal
from cc_curate.stages.tokenize import TERMINAL_PUNCTUATION

NAME = "c4_quality"
BADWORDS_NAME = "c4_badwords"


@dataclass(frozen=True)
class C4QualityParams:
    """datatrove's C4QualityFilter defaults; off, as in FineWeb2."""

    enabled: bool = setting(False, "Apply C4's line and document rules (off in FineWeb2)")
    split_paragraph: bool = setting(True, "Judge lines split on newlines (else sentences)")
    remove_citations: bool = setting(True, "Ignore [1]-style citations")
    filter_no_terminal_punct: bool = setting(True, "Count lines without terminal punctuation")
    min_num_sentences: int = setting(5, "Min sentences (-1 disables)", low=-1)
    min_words_per_line: int = setting(3, "Lines with fewer words do not count (-1 disables)", low=-1)
    max_word_length: int = setting(1000, "Lines with a longer word do not count (-1 disables)", low=-1)
    filter_lorem_ipsum: bool = setting(True, "Remove documents with lorem ipsum")
    filter_javascript: bool = setting(True, "Drop lines mentioning javascript")
    filter_curly_bracket: bool = setting(True, "Remove documents with a curly bracket")
    filter_policy: bool = setting(True, "Drop cookie/privacy-policy lines")


@dataclass(frozen=True)
class C4BadwordsParams:
    enabled: bool = setting(False, "Remove documents with a word of the language's bad-words list")
    bad_words: Words = setting([], "The list, or a path to a file of one word a line")
    substring: bool = setting(False, "Match inside words too (for languages without spaces)")

_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
_END_PUNCTUATION = (".", "?", "!", '"', "'")
_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
_TERMINAL = "".join(sorted(TERMINAL_PUNCTUATION))
_SENTENCE_END = regex.compile(rf"[{regex.escape(_TERMINAL)}]+[\"'”’»)\]]*(?=\s|$)")
_SENTENCE_SPLIT = regex.compile(rf"(?<=[{regex.escape(_TERMINAL)}][\"'”’»)\]]*)\s+")


def _count_sentences(line: str) -> int:
    return max(1, len(_SENTENCE_END.findall(line)))


def c4_quality(text: str, words: list[str], p: C4QualityParams, signals: dict[str, float]) -> str | None:
    """Reason ``c4_quality:<rule>`` (lorem_ipsum, curly_bracket, too_few_sentences), or None."""
    if p.split_paragraph:
        lines = text.splitlines()
    else:
        lines = [s for s in _SENTENCE_SPLIT.split(text) if s.strip()]
    n_sentences = n_kept = 0
    reason = None
    for raw in lines:
        line = raw.strip()
        line_words = line.split()
        if p.max_word_length != -1 and any(len(w) > p.max_word_length for w in line_words):
            continue
        if p.remove_citations:
            line = _CITATION.sub("", line)
        if p.filter_no_terminal_punct and (not line.endswith(_END_PUNCTUATION) or line.endswith("...")):
            continue
        if len(line_words) < p.min_words_per_line:
            continue
        lower = line.lower()
        if p.filter_lorem_ipsum and "lorem ipsum" in lower:
            reason = f"{NAME}:lorem_ipsum"
            break
        if p.filter_javascript and "javascript" in lower:
            continue
        if p.filter_curly_bracket and "{" in line:
            reason = f"{NAME}:curly_bracket"
            break
        if p.filter_policy and any(phrase in lower for phrase in _POLICY):
            continue
        if p.min_num_sentences != -1:
            n_sentences += _count_sentences(line) if p.split_paragraph else 1
        n_kept += 1
    signals["c4_kept_lines_frac"] = n_kept / len(lines) if lines else 0.0
    if reason is None:
        signals["c4_sentences"] = float(n_sentences)
        if n_sentences < p.min_num_sentences:
            reason = f"{NAME}:too_few_sentences"
    return reason


@lru_cache(maxsize=64)
def _badwords_regex(source: str | tuple[str, ...], substring: bool) -> re.Pattern[str] | None:
    if isinstance(source, str):
        items = Path(source).read_text(encoding="utf-8").splitlines()
    else:
        items = list(source)
    bad = sorted({w.strip().lower() for w in items if w.strip()}, key=len, reverse=True)
    if not bad:
        return None
    alternation = "|".join(map(re.escape, bad))
    return re.compile(alternation if substring else rf"(?:\W|^)(?:{alternation})(?:\W|$)")


def c4_badwords(text: str, words: list[str], params: C4BadwordsParams, signals: dict[str, float]) -> str | None:
    """Reason ``c4_badwords:document_removed_with_badwords`` when a listed word occurs, or None."""
    source = params.bad_words
    if not source:
        return None
    key = source if isinstance(source, str) else tuple(source)
    pattern = _badwords_regex(key, bool(params.substring))
    found = pattern is not None and pattern.search(text.lower()) is not None
    signals["c4_badwords"] = float(found)
    return f"{BADWORDS_NAME}:document_removed_with_badwords" if found else None


class C4Quality(FilterStage):
    name = NAME
    doc = "C4's line and document heuristics (Raffel et al. 2020); not used by FineWeb2"
    Params = C4QualityParams
    signals = (Signal("c4_kept_lines_frac", None), Signal("c4_sentences", "min_num_sentences", "min",
                                                            calibrate=False))
    reasons = tuple(f"{NAME}:{rule}" for rule in ("lorem_ipsum", "curly_bracket", "too_few_sentences"))

    def filter(self, doc: Document, params: C4QualityParams) -> str | None:
        return c4_quality(doc.text or "", doc.words, params, doc.signals)


class C4Badwords(FilterStage):
    name = BADWORDS_NAME
    doc = "Removes documents holding a word of the language's bad-words list (C4, FineWeb)"
    Params = C4BadwordsParams
    signals = (Signal("c4_badwords", None),)
    reasons = (f"{BADWORDS_NAME}:document_removed_with_badwords",)

    def filter(self, doc: Document, params: C4BadwordsParams) -> str | None:
        return c4_badwords(doc.text or "", doc.words, params, doc.signals)

"""FineWeb2's precision ("wordlist") filter for languages that LID confuses with others.

FineWeb2 ran it, after the quality filters, only for languages whose contamination score is above
0.10 (``misc/precision_filtering/cont_scores.json``): a document is kept when its URL looks like
the language's (a whitelist term, the ISO 639-3 code, the ccTLD) or when at least one of its words
is in the language's wordlist (words seen in that language at least 85% of the time).

Params (the recipe section for the language):

* ``wordlist``: path to a one-word-per-line file, or an inline list;
* ``url_whitelist``: the language's terms from ``url_whitelist.json`` (terms starting with "."
  are ccTLDs, the others are matched inside the URL with everything but ``[a-z0-9/.]`` removed);
* ``lang_code``: the ISO 639-3 code, matched in the URL uppercased anywhere, or lowercase
  between non-alphanumerics;
* ``min_wordlist_ratio``: share of distinct words that must be listed (FineWeb2: any, 1e-7).

As FineWeb2: words are compared case-sensitively after punctuation is turned into spaces, and a
language whose whitelist holds only a ccTLD keeps every document. Deliberate difference: the
ccTLD test looks at the URL's host ("example.co.ke" matches ".ke"); FineWeb2's script compared
".ke/" against a bare host name, so that test never fired there — ours keeps a few more
documents hosted under the language's own ccTLD.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from cc_curate.params import Words, setting
from cc_curate.stages.base import BatchContext, Document, FilterStage, Signal
from cc_curate.stages.tokenize import PUNCTUATION_CHARS

NAME = "precision"


@dataclass(frozen=True)
class PrecisionParams:
    enabled: bool = setting(False, "FineWeb2's precision filter (for contaminated languages)")
    wordlist: Words | None = setting(None, "Words seen in this language >= 85% of the time, or a path")
    url_whitelist: list[str] = setting([], "URL terms (ccTLDs like .ke, names) that vouch for the language")
    lang_code: str | None = setting(None, "The language's short code, matched in URLs")
    min_wordlist_ratio: float = setting(0.0000001, "Min share of words from the wordlist", low=0.0, high=1.0)

_TO_SPACE = str.maketrans({c: " " for c in PUNCTUATION_CHARS})
_URL_NORMALISE = re.compile(r"[^a-zA-Z0-9/.]+")


@lru_cache(maxsize=64)
def _load_wordlist(source: str | tuple[str, ...]) -> frozenset[str]:
    items = Path(source).read_text(encoding="utf-8").splitlines() if isinstance(source, str) else source
    return frozenset(w.strip() for w in items if w.strip())


def url_matches(url: str, whitelist: list[str], lang_code: str | None) -> bool:
    """True when the URL points at the language: ccTLD host, language code or a whitelist term."""
    tlds = [t for t in whitelist if t.startswith(".")]
    terms = [t for t in whitelist if not t.startswith(".")]
    host = (urlsplit(url if "//" in url else f"//{url}").hostname or "").rstrip(".")
    if any(host.endswith(tld) for tld in tlds):
        return True
    if lang_code and (
        lang_code.upper() in url or re.search(rf"(?<![a-zA-Z0-9]){re.escape(lang_code)}(?![a-zA-Z0-9])", url)
    ):
        return True
    if not terms:
        return True
    normalised = _URL_NORMALISE.sub("", url).lower()
    return any(term in normalised for term in terms)


def precision(text: str, words: list[str], params: PrecisionParams, signals: dict[str, float], *,
              url: str = "") -> str | None:
    """Reason ``precision:wordlist_ratio`` when neither the URL nor any word points at the language."""
    matched_url = url_matches(url, list(params.url_whitelist or []), params.lang_code)
    signals["precision_url_match"] = float(matched_url)
    source = params.wordlist
    if matched_url or not source:
        return None
    wordlist = _load_wordlist(source if isinstance(source, str) else tuple(source))
    # FineWeb2 tokenizes the text with punctuation turned into spaces; splitting our tokens the
    # same way gives the same word set without a second tokenizer pass.
    vocab = {part for w in words for part in w.translate(_TO_SPACE).split()}
    ratio = len(vocab & wordlist) / len(vocab) if vocab else 0.0
    signals["wordlist_ratio"] = ratio
    if ratio > params.min_wordlist_ratio:
        return None
    return f"{NAME}:wordlist_ratio"


class Precision(FilterStage):
    name = NAME
    doc = "FineWeb2's precision (wordlist) filter for languages LID confuses with others"
    Params = PrecisionParams
    signals = (Signal("precision_url_match", None),
               Signal("wordlist_ratio", "min_wordlist_ratio", "min", calibrate=False))
    reasons = (f"{NAME}:wordlist_ratio",)

    def filter(self, doc: Document, params: PrecisionParams) -> str | None:
        return precision(doc.text or "", doc.words, params, doc.signals, url=doc.url)

    def process(self, doc: Document, params: PrecisionParams, context: BatchContext) -> None:
        super().process(doc, params, context)
        if params.enabled and not params.wordlist:  # FineWeb2 had a wordlist for this language
            context.counters.add(f"precision_no_wordlist.{doc.lang}")

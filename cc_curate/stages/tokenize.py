"""Word tokenizers: one per language, built once per process, shared by filters and MinHash.

The quality thresholds of FineWeb2 (word counts, average word length, share of alphabetic words,
stop words, n-gram repetition) were calibrated on the tokens of datatrove's per-language word
tokenizers. For space-delimited scripts datatrove mostly uses spaCy's rule-based tokenizer
(punctuation split off words, hyphenated words split, URLs kept whole), so the built-in
:class:`UnicodeTokenizer` reproduces those rules with regular expressions instead of depending on
spaCy. Scripts written without spaces need a real segmenter (jieba, SudachiPy, Kiwi, PyThaiNLP,
LaoNLP, khmer-nltk) — the ``cjk`` extra of the package. When one is missing we fall
back to the built-in tokenizer, say so once per language, and name the tokenizer
``fallback:unicode`` so the pipeline can count it.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from typing import Protocol

import regex

log = logging.getLogger(__name__)


# --- character classes shared with the quality filters --------------------------------------------

# Sentence-final marks of every script: the Unicode Sentence_Terminal property (all of it lies
# below U+20000), plus the Khmer signs ៖ ៙ ៚ that datatrove also counts as terminal.
TERMINAL_PUNCTUATION: frozenset[str] = frozenset(
    regex.findall(r"\p{Sentence_Terminal}", "".join(map(chr, range(0x20000)))) + ["៖", "៙", "៚"]
)
# Characters that make a token a "symbol word" (not counted as a word by Gopher quality): ASCII
# punctuation, control characters other than tab and newline, common typographic and CJK marks,
# and the terminal punctuation above. Other symbols (©, €, •, →) count as words, as in datatrove.
PUNCTUATION_CHARS: frozenset[str] = frozenset(
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    + "".join(map(chr, [*range(0, 9), *range(11, 32), *range(127, 160)]))
    + "—–”“„’´«»…►、，；：（）【】「」《》〈〉～━∶％．"
) | TERMINAL_PUNCTUATION


class WordTokenizer(Protocol):
    """What the filters and MinHash shingling need: a name (for stats) and a word list."""

    name: str

    def words(self, text: str) -> list[str]: ...


# --- the built-in tokenizer (spaCy-like rules, written as regexes) --------------------------------

# Punctuation split off the start or the end of a whitespace-delimited chunk.
_PUNCT = r",:;!?¿؟¡()\[\]{}<>_#*&。？！，、；：～·।،۔؛٪"
_QUOTES = r"'\"”“`‘´’‚„»«「」『』（）〔〕【】《》〈〉⟦⟧"
_CURRENCY = r"$£€¥฿₽﷼₴₠-₿"
_UNITS = (
    "km|km²|km³|m|m²|m³|dm|dm²|dm³|cm|cm²|cm³|mm|mm²|mm³|ha|µm|nm|yd|in|ft|kg|g|mg|µg|t|lb|oz|"
    "m/s|km/h|kmh|mph|hPa|Pa|mbar|mb|MB|kb|KB|gb|GB|tb|TB|T|G|M|K|%|км|км²|км³|м|м²|м³|дм|дм²|"
    "дм³|см|см²|см³|мм|мм²|мм³|нм|кг|г|мг|м/с|км/ч|кПа|Па|мбар|Кб|КБ|кб|Мб|МБ|мб|Гб|ГБ|гб|Тб|ТБ|тб"
)
# Letters after which a final "." is split off. spaCy's character classes cover Latin, Cyrillic,
# Greek and a list of uncased scripts, but not Georgian or Armenian: "სიტყვა." stays one token
# there, and FineWeb2's thresholds for those languages were measured that way.
_LOWER_OR_UNCASED = r"[\p{Ll}\p{Lo}\p{M}--[\p{Script=Georgian}\p{Script=Armenian}]]"
_UPPER = r"[\p{Lu}--[\p{Script=Georgian}\p{Script=Armenian}]]"
_ICON = r"\p{So}"

_PREFIX_RE = regex.compile(
    rf"\.\.+|…+|[{_PUNCT}{_QUOTES}{_CURRENCY}§%=—–]|\+(?![0-9])|{_ICON}", regex.V1
)
_SUFFIX_RE = regex.compile(
    rf"(?:\.\.+|…+|[{_PUNCT}{_QUOTES}]|{_ICON}|['’][sS]|[—–]"
    rf"|(?<=[0-9])\+|(?<=[0-9])(?:[{_CURRENCY}]|{_UNITS})"
    rf"|(?<=[0-9%²\-+{_PUNCT}{_QUOTES}]|{_LOWER_OR_UNCASED})\.|(?<={_UPPER}{_UPPER})\.)$",
    regex.V1,
)
_INFIX_RE = regex.compile(
    rf"\.\.+|…+|{_ICON}|(?<=[0-9])[+\-*^](?=[0-9-])"
    rf"|(?<=[\p{{Ll}}{_QUOTES}])\.(?=[\p{{Lu}}{_QUOTES}])|(?<=\p{{L}}),(?=\p{{L}})"
    rf"|(?<=\p{{L}})(?:---|--|——|[-–—~])(?=\p{{L}})|(?<=[\p{{L}}0-9])[:<>=/](?=\p{{L}})",
    regex.V1,
)
# Zero-width split after an elided article or pronoun: l'homme -> l' homme (French, Italian, ...).
_ELISION_RE = regex.compile(r"(?<=\p{L}['’])(?=\p{L})")
# English contractions: don't -> do n't, we're -> we 're (the possessive 's is a suffix above).
_EN_CONTRACTION_RE = regex.compile(r"(\p{L}+?)(n['’]t|['’](?:m|re|ve|ll|d))", regex.IGNORECASE)
# Kept whole once affixes are stripped: URLs and e-mail addresses.
_URL_RE = regex.compile(
    r"(?:[\w+.-]{2,}://)?(?:[\w.+-]+(?::[^@\s]*)?@)?(?:[\w-]+\.)+[^\W\d_]{2,63}(?::\d{1,5})?(?:[/?#]\S*)?"
    r"|[\w+.-]{2,}://\S+",
)
# Kept whole before affixes are stripped: dotted abbreviations such as z.B. / e.g. / т.е.
_ABBREVIATION_RE = regex.compile(r"(?:\p{L}\.){2,}")
_ELISION_LANGS = frozenset({"fra", "ita", "cat", "hat", "ltz", "lij"})
_ELISION_EXCEPTIONS = frozenset({"aujourd'hui", "aujourd’hui", "Aujourd'hui", "Aujourd’hui"})


class UnicodeTokenizer:
    """Regex tokenizer for space-delimited scripts, approximating spaCy's tokenizer rules.

    A chunk between whitespace loses leading punctuation (brackets, quotes, currency, ``#``) and
    trailing punctuation (``,`` ``!`` quotes, ``...``, ``'s``, a final ``.`` after a lowercase
    letter or digit, units after a number), then is split inside at hyphens between letters,
    ``/`` ``:`` before a letter, ``,`` between letters and ``.`` between a lowercase and an
    uppercase letter. URLs, e-mail addresses and dotted abbreviations stay whole. Deliberate
    differences from spaCy: no per-language exception lists (e.g. German ordinal ``3.`` becomes
    ``3`` ``.``), which moves word counts by a fraction of a percent on real text.
    """

    _CACHE_SIZE = 200_000  # chunks are Zipf-distributed: most non-trivial ones repeat

    def __init__(self, name: str = "unicode", *, elision: bool = False, english: bool = False):
        self.name = name
        self._elision = elision
        self._english = english
        self._chunks: dict[str, list[str]] = {}

    def words(self, text: str) -> list[str]:
        """Split ``text`` into words and punctuation tokens (whitespace never is a token)."""
        out: list[str] = []
        cache = self._chunks
        for chunk in text.split():
            if chunk.isalpha() or chunk.isdigit():
                out.append(chunk)
                continue
            tokens = cache.get(chunk)
            if tokens is None:
                tokens = []
                self._split_chunk(chunk, tokens)
                if len(cache) >= self._CACHE_SIZE:
                    cache.clear()
                cache[chunk] = tokens
            out.extend(tokens)
        return out

    def _split_chunk(self, s: str, out: list[str]) -> None:
        suffixes: list[str] = []
        while s:
            if _ABBREVIATION_RE.fullmatch(s) or s in _ELISION_EXCEPTIONS:
                out.append(s)
                s = ""
                break
            if self._english and (m := _EN_CONTRACTION_RE.fullmatch(s)):
                out.append(m.group(1))
                suffixes.append(m.group(2))
                s = ""
                break
            size = len(s)
            if m := _PREFIX_RE.match(s):
                out.append(m.group())
                s = s[m.end() :]
            if s and (m := _SUFFIX_RE.search(s)):
                suffixes.append(m.group())
                s = s[: m.start()]
            if len(s) == size:
                break
        if s:
            if _URL_RE.fullmatch(s):
                out.append(s)
            else:
                self._split_infixes(s, out)
        out.extend(reversed(suffixes))

    def _split_infixes(self, s: str, out: list[str]) -> None:
        start = 0
        for m in _INFIX_RE.finditer(s):
            if m.start() > start:
                self._append_core(s[start : m.start()], out)
            out.append(m.group())
            start = m.end()
        if start < len(s):
            self._append_core(s[start:], out)

    def _append_core(self, s: str, out: list[str]) -> None:
        if self._elision and s not in _ELISION_EXCEPTIONS and ("'" in s or "’" in s):
            out.extend(p for p in _ELISION_RE.split(s) if p)
        else:
            out.append(s)


# --- segmenters for scripts written without spaces -----------------------------------------------


class SegmenterTokenizer:
    """Wraps a third-party segmenter; drops whitespace tokens and strips the rest, as datatrove does."""

    def __init__(self, name: str, segment: Callable[[str], list[str]]):
        self.name = name
        self._segment = segment

    def words(self, text: str) -> list[str]:
        """Segment ``text``; tokens are the segmenter's surfaces."""
        return [w for w in (t.strip() for t in self._segment(text)) if w]


def _jieba() -> Callable[[str], list[str]]:
    jieba = importlib.import_module("jieba")
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return lambda text: jieba.lcut(text, cut_all=False)


_SUDACHI_MAX_BYTES = 40_000  # SudachiPy rejects inputs above ~49 kB


def _sudachi() -> Callable[[str], list[str]]:
    sudachipy = importlib.import_module("sudachipy")
    importlib.import_module("sudachidict_core")
    # Split mode A (shortest units) is what spaCy's Japanese tokenizer uses by default.
    tok = sudachipy.Dictionary(dict="core").tokenizer(mode=sudachipy.SplitMode.A)

    def segment(text: str) -> list[str]:
        return [m.surface() for part in _byte_chunks(text, _SUDACHI_MAX_BYTES) for m in tok.tokenize(part)]

    return segment


def _byte_chunks(text: str, max_bytes: int) -> list[str]:
    """Cut text into pieces of at most ``max_bytes`` UTF-8 bytes, at line ends where possible."""
    if len(text.encode("utf-8")) <= max_bytes:
        return [text]
    parts: list[str] = []
    buf: list[str] = []
    size = 0
    for line in text.splitlines(keepends=True):
        n = len(line.encode("utf-8"))
        if size + n > max_bytes and buf:
            parts.append("".join(buf))
            buf, size = [], 0
        if n > max_bytes:  # one huge line: cut by characters (at most 4 bytes each)
            step = max_bytes // 4
            parts.extend(line[i : i + step] for i in range(0, len(line), step))
            continue
        buf.append(line)
        size += n
    if buf:
        parts.append("".join(buf))
    return parts


_KIWI_LONG_NUMBER = regex.compile(r"[0-9,]{20,}")  # Kiwi misbehaves on very long digit runs


def _kiwi() -> Callable[[str], list[str]]:
    kiwi = importlib.import_module("kiwipiepy").Kiwi()

    def segment(text: str) -> list[str]:
        text = _KIWI_LONG_NUMBER.sub("", text)
        return [text[t.start : t.end] for t in kiwi.tokenize(text)]

    return segment


def _pythainlp() -> Callable[[str], list[str]]:
    tokenize = importlib.import_module("pythainlp.tokenize").word_tokenize
    return lambda text: tokenize(text, engine="newmm-safe", keep_whitespace=False)


def _laonlp() -> Callable[[str], list[str]]:
    return importlib.import_module("laonlp.tokenize").word_tokenize


def _khmernltk() -> Callable[[str], list[str]]:
    logging.getLogger("khmer-nltk").setLevel(logging.WARNING)
    tokenize = importlib.import_module("khmernltk").word_tokenize
    return lambda text: tokenize(text, return_tokens=True)


# script (ISO 15924) -> (tokenizer name, pip package named in the fallback warning, factory)
_SEGMENTERS: dict[str, tuple[str, str, Callable[[], Callable[[str], list[str]]]]] = {
    "Hani": ("jieba", "jieba", _jieba),
    "Hans": ("jieba", "jieba", _jieba),
    "Hant": ("jieba", "jieba", _jieba),
    "Jpan": ("sudachi", "sudachipy sudachidict-core", _sudachi),
    "Hira": ("sudachi", "sudachipy sudachidict-core", _sudachi),
    "Kana": ("sudachi", "sudachipy sudachidict-core", _sudachi),
    "Hang": ("kiwi", "kiwipiepy", _kiwi),
    "Kore": ("kiwi", "kiwipiepy", _kiwi),
    "Thai": ("pythainlp", "pythainlp", _pythainlp),
    "Laoo": ("laonlp", "laonlp", _laonlp),
    "Khmr": ("khmernltk", "khmer-nltk", _khmernltk),
}

FALLBACK_NAME = "fallback:unicode"

_lock = threading.Lock()
_cache: dict[str, WordTokenizer] = {}
_fallbacks: set[str] = set()


def get_tokenizer(lang: str) -> WordTokenizer:
    """The word tokenizer for ``lang`` ("{iso639_3}_{Script}"), built once per process.

    Space-delimited scripts get :class:`UnicodeTokenizer` (with elision splitting for French,
    Italian, Catalan, ... and contractions for English); scripts without spaces get their
    segmenter, or the built-in tokenizer named ``fallback:unicode`` when it is not installed.
    Tibetan and Burmese use the built-in tokenizer by design: botok downloads its dictionary at
    first use, and pyidaungsu-numpy2 pulls a ``fasttext`` module that breaks fasttext-predict (LID).
    """
    with _lock:
        tok = _cache.get(lang)
        if tok is None:
            tok = _cache[lang] = _build(lang)
        return tok


def _build(lang: str) -> WordTokenizer:
    code, _, script = lang.partition("_")
    seg = _SEGMENTERS.get(script)
    if seg is None:
        return UnicodeTokenizer(elision=code in _ELISION_LANGS, english=code == "eng")
    name, package, factory = seg
    try:
        return SegmenterTokenizer(name, factory())
    except ImportError as exc:
        _fallbacks.add(lang)
        log.warning(
            "word tokenizer for %s: %s is not installed (%s); using the built-in Unicode tokenizer, "
            "word counts will be wrong for this language (pip install %s)",
            lang,
            package,
            exc,
            package,
        )
        return UnicodeTokenizer(name=FALLBACK_NAME)


def fallback_languages() -> set[str]:
    """Languages whose segmenter was missing in this process (they use ``fallback:unicode``)."""
    with _lock:
        return set(_fallbacks)

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
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Protocol

import regex

from cc_curate.output.schema import TOKENIZER, WORD_COUNT
from cc_curate.stages.base import BatchContext, Document, Stage

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
# Letters as spaCy's character classes know them: all of Latin; the Russian, Ukrainian, Tatar and
# Macedonian letters of Cyrillic (not Komi "ӧ", say); basic Greek; and a list of uncased scripts.
# Georgian, Armenian, Canadian syllabics, combining accents, ... are not letters to spaCy: a final
# "." after them stays on the word, and FineWeb2's thresholds were measured that way.
_UNCASED = (
    r"\p{Script=Ethiopic}\p{Script=Bengali}\p{Script=Hebrew}\u0620-\u064A\u066E-\u06D5\u06E5-\u06FF"
    r"\u0750-\u077F\u08A0-\u08BD\p{Script=Sinhala}\p{Script=Devanagari}\p{Script=Kannada}"
    r"\p{Script=Tamil}\p{Script=Telugu}\p{Script=Hangul}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}"
)
_LOWER_CHARS = r"[\p{Latin}&&\p{Ll}]ёа-яәөүҗңһіїєґѓѕјљњќѐѝα-ωάέίόώήύ" + _UNCASED
_UPPER_CHARS = r"[\p{Latin}&&\p{Lu}]ЁА-ЯӘӨҮҖҢҺІЇЄҐЃЅЈЉЊЌЀЍΑ-ΩΆΈΊΌΏΉΎ" + _UNCASED
_LOWER = f"[{_LOWER_CHARS}]"
_UPPER = f"[{_UPPER_CHARS}]"
_ALPHA = f"[{_LOWER_CHARS}{_UPPER_CHARS}]"
_ICON = r"\p{So}"

_PREFIX_RE = regex.compile(
    rf"\.\.+|…+|[{_PUNCT}{_QUOTES}{_CURRENCY}§%=—–]|\+(?![0-9])|{_ICON}", regex.V1
)
_ETHIOPIC_PUNCT = "፡።፣፤፥፦፧፠፨"


@dataclass(frozen=True)
class Conventions:
    """Where a language's spaCy tokenizer departs from spaCy's base rules (the defaults here).

    Measured by probing the spaCy 3.8 tokenizer that datatrove assigns to each language: German,
    Danish, Spanish, Portuguese, ... keep hyphenated compounds whole; German, Turkish, Arabic, ...
    keep ordinals such as ``27.``; Arabic, Persian and Amharic never split a final ``.`` off a
    word; many keep a possessive ``'s`` on its word; German splits "2013/2014"; most keep a
    single letter with a period ("i.", "A.") whole, Polish and Turkish do not; Ligurian keeps
    its articulated prepositions ("da-a", "pe-o").
    """

    split_hyphens: bool = True
    split_digit_period: bool = True
    split_word_period: bool = True
    split_possessive: bool = True
    split_slash_digits: bool = False
    single_letter_abbreviations: bool = True
    keep_whole: str = ""  # regex of language-specific tokens spaCy lists as exceptions


@lru_cache(maxsize=None)
def _suffix_re(conv: Conventions) -> regex.Pattern[str]:
    period_after = "%²\\-+" + _PUNCT + _QUOTES + ("0-9" if conv.split_digit_period else "")
    word_period = rf"|(?<=[{period_after}]|{_LOWER})\." if conv.split_word_period else ""
    possessive = "|['’][sS]" if conv.split_possessive else ""
    ethiopic = "" if conv.split_word_period else f"|[{_ETHIOPIC_PUNCT}]"
    return regex.compile(
        rf"(?:\.\.+|…+|[{_PUNCT}{_QUOTES}]|{_ICON}{possessive}|[—–]{ethiopic}"
        rf"|(?<=[0-9])\+|(?<=[0-9])(?:[{_CURRENCY}]|{_UNITS}){word_period}|(?<={_UPPER}{_UPPER})\.)$",
        regex.V1,
    )


@lru_cache(maxsize=None)
def _infix_re(conv: Conventions) -> regex.Pattern[str]:
    hyphen = rf"|(?<={_ALPHA})(?:---|--|——|[-–—~])(?={_ALPHA})" if conv.split_hyphens else ""
    slash = "|(?<=[0-9])/(?=[0-9])" if conv.split_slash_digits else ""
    return regex.compile(
        rf"\.\.+|…+|{_ICON}|(?<=[0-9])[+\-*^](?=[0-9-])"
        rf"|(?<=[{_LOWER_CHARS}{_QUOTES}])\.(?=[{_UPPER_CHARS}{_QUOTES}])|(?<={_ALPHA}),(?={_ALPHA})"
        rf"{hyphen}|(?<=[{_LOWER_CHARS}{_UPPER_CHARS}0-9])[:<>=/](?={_ALPHA}){slash}",
        regex.V1,
    )


@lru_cache(maxsize=None)
def _whole_re(conv: Conventions) -> regex.Pattern[str]:
    base = _LETTER_ABBREVIATION_RE if conv.single_letter_abbreviations else _ABBREVIATION_RE
    return regex.compile(f"{base.pattern}|{conv.keep_whole}" if conv.keep_whole else base.pattern)


def _langs(codes: str) -> frozenset[str]:
    return frozenset(codes.split())


# Languages (iso639-3_Script) whose datatrove/spaCy tokenizer differs from the defaults, by group.
_KEEP_HYPHEN_ORDINAL = _langs(
    "bar_Latn bos_Latn ckm_Latn cnr_Latn dan_Latn deu_Latn ell_Grek gsw_Latn hbs_Latn hrx_Latn "
    "hun_Latn nno_Latn nob_Latn nor_Latn pnt_Grek srp_Cyrl srp_Latn swg_Latn"
)
_KEEP_HYPHEN_POSSESSIVE = _langs(
    "arg_Latn ast_Latn cos_Latn ext_Latn fin_Latn fit_Latn fkv_Latn gos_Latn krl_Latn lad_Latn "
    "lim_Latn liv_Latn lud_Latn mwl_Latn nds_Latn nld_Latn oci_Latn olo_Latn pdt_Latn ron_Latn "
    "rup_Latn sdc_Latn spa_Latn srd_Latn swe_Latn vep_Latn vls_Latn vot_Latn zea_Latn"
)
_KEEP_HYPHEN = _langs(
    "bak_Cyrl cat_Latn kir_Cyrl ksh_Latn ltz_Latn pdc_Latn pfl_Latn por_Latn tat_Cyrl"
)
_KEEP_WORD_PERIOD = _langs(
    "acm_Arab aeb_Arab ajp_Arab amh_Ethi apc_Arab ara_Arab arb_Arab arq_Arab ars_Arab ary_Arab "
    "arz_Arab ayp_Arab azb_Arab fas_Arab grc_Grek sgw_Ethi shu_Arab tig_Ethi tir_Ethi"
)
_GERMAN = _langs("bar_Latn deu_Latn gsw_Latn hrx_Latn swg_Latn")
_NORDIC_LIKE = Conventions(split_hyphens=False, split_digit_period=False, split_possessive=False)
_CONVENTIONS: dict[str, Conventions] = {
    **dict.fromkeys(_KEEP_HYPHEN_ORDINAL, _NORDIC_LIKE),
    **dict.fromkeys(_GERMAN, replace(_NORDIC_LIKE, split_slash_digits=True)),
    **dict.fromkeys(_KEEP_HYPHEN_POSSESSIVE, Conventions(split_hyphens=False, split_possessive=False)),
    **dict.fromkeys(_KEEP_HYPHEN, Conventions(split_hyphens=False)),
    **dict.fromkeys(
        _KEEP_WORD_PERIOD,
        Conventions(split_digit_period=False, split_word_period=False, split_possessive=False),
    ),
    **dict.fromkeys(
        _langs("crh_Latn gag_Latn tuk_Latn tur_Latn"),
        Conventions(split_digit_period=False, single_letter_abbreviations=False),
    ),
    **dict.fromkeys(
        _langs("csb_Latn pol_Latn szl_Latn"),
        Conventions(split_possessive=False, single_letter_abbreviations=False),
    ),
    "slv_Latn": Conventions(split_digit_period=False, split_possessive=False),
    **dict.fromkeys(
        _langs("lij_Latn lmo_Latn pms_Latn vec_Latn"),
        Conventions(keep_whole="(?:[Aa]|[Cc]o|[Pp]e|[Dd]a)-[aeio]"),
    ),
}


# Zero-width split after an elided article or pronoun: l'homme -> l' homme (French, Italian, ...).
_ELISION_RE = regex.compile(rf"(?<={_ALPHA}['’])(?={_ALPHA})", regex.V1)
# English contractions: don't -> do n't, we're -> we 're (the possessive 's is a suffix above).
_EN_CONTRACTION_RE = regex.compile(r"(\p{L}+?)(n['’]t|['’](?:m|re|ve|ll|d))", regex.IGNORECASE)
# Kept whole once affixes are stripped: URLs and e-mail addresses.
_URL_RE = regex.compile(
    r"(?:[\w+.-]{2,}://)?(?:[\w.+-]+(?::[^@\s]*)?@)?(?:[\w-]+\.)+[^\W\d_]{2,63}(?::\d{1,5})?(?:[/?#]\S*)?"
    r"|[\w+.-]{2,}://\S+",
)
# Kept whole before affixes are stripped: dotted abbreviations such as z.B. / e.g. / т.е., and
# (spaCy's base exceptions) a single Latin letter with a period.
_ABBREVIATION_RE = regex.compile(r"(?:\p{L}\.){2,}")
_LETTER_ABBREVIATION_RE = regex.compile(r"(?:\p{L}\.){2,}|[a-zA-ZäöüÄÖÜ]\.")
# Languages tokenized with spaCy's French, Italian, Catalan or Ligurian rules (elision) and with
# its English rules (contractions), per datatrove's tokenizer assignments.
_ELISION_LANGS = _langs(
    "fra_Latn frp_Latn fur_Latn lld_Latn nrf_Latn nrm_Latn pcd_Latn roh_Latn wln_Latn ita_Latn "
    "nap_Latn scn_Latn lij_Latn lmo_Latn pms_Latn vec_Latn cat_Latn"
)
_ENGLISH_LANGS = _langs("eng_Latn frr_Latn fry_Latn sco_Latn stq_Latn")
_ELISION_EXCEPTIONS = frozenset({"aujourd'hui", "aujourd’hui", "Aujourd'hui", "Aujourd’hui"})


class UnicodeTokenizer:
    """Regex tokenizer for space-delimited scripts, approximating spaCy's tokenizer rules.

    A chunk between whitespace loses leading punctuation (brackets, quotes, currency, ``#``) and
    trailing punctuation (``,`` ``!`` quotes, ``...``, ``'s``, a final ``.`` after a lowercase
    letter or digit, units after a number), then is split inside at hyphens between letters,
    ``/`` ``:`` before a letter, ``,`` between letters and ``.`` between a lowercase and an
    uppercase letter. URLs, e-mail addresses and dotted abbreviations stay whole. Where a
    language's spaCy tokenizer has other conventions (:class:`Conventions`), we follow them.
    Deliberate difference from spaCy: no per-language exception lists (e.g. German "ca." and
    "Nr." become "ca" ".", "Nr" "."), which moves token counts by well under 1% on real text.
    """

    _CACHE_SIZE = 200_000  # chunks are Zipf-distributed: most non-trivial ones repeat

    def __init__(
        self,
        name: str = "unicode",
        *,
        elision: bool = False,
        english: bool = False,
        conventions: Conventions = Conventions(),
    ):
        self.name = name
        self._elision = elision
        self._english = english
        self._suffix_re = _suffix_re(conventions)
        self._letter_abbreviations = conventions.single_letter_abbreviations
        self._whole_re = _whole_re(conventions)
        self._infix_re = _infix_re(conventions)
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
            if self._whole_re.fullmatch(s) or s in _ELISION_EXCEPTIONS:
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
            if s and (m := self._suffix_re.search(s)):
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
        if self._letter_abbreviations and "." in out:
            _merge_letter_periods(out)

    def _split_infixes(self, s: str, out: list[str]) -> None:
        start = 0
        for m in self._infix_re.finditer(s):
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


def _merge_letter_periods(tokens: list[str]) -> None:
    """Re-join a single letter and the "." split off after it ("ñu-i." -> "ñu" "-" "i."), as
    spaCy's special-case pass re-joins tokens that spell one of its exceptions."""
    i = len(tokens) - 1
    while i > 0:
        if tokens[i] == "." and _LETTER_ABBREVIATION_RE.fullmatch(tokens[i - 1] + "."):
            tokens[i - 1 : i + 1] = [tokens[i - 1] + "."]
            i -= 1
        i -= 1


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
    Italian, Catalan, ..., contractions for English, and the language's :class:`Conventions`);
    scripts without spaces get their segmenter, or the built-in tokenizer named
    ``fallback:unicode`` when it is not installed.
    Tibetan and Burmese use the built-in tokenizer by design: botok downloads its dictionary at
    first use, and pyidaungsu-numpy2 pulls a ``fasttext`` module that breaks fasttext-predict (LID).
    """
    with _lock:
        tok = _cache.get(lang)
        if tok is None:
            tok = _cache[lang] = _build(lang)
        return tok


def _build(lang: str) -> WordTokenizer:
    script = lang.partition("_")[2]
    seg = _SEGMENTERS.get(script)
    if seg is None:
        return UnicodeTokenizer(
            elision=lang in _ELISION_LANGS,
            english=lang in _ENGLISH_LANGS,
            conventions=_CONVENTIONS.get(lang, Conventions()),
        )
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


class Tokenize(Stage):
    """Splits each document into its language's words once; filters and MinHash share them."""

    name = "tokenize"
    phase = "tokenize"
    doc = "Word tokenization with the language's tokenizer (once per document)"
    per_language = True
    columns = (WORD_COUNT, TOKENIZER)

    def __init__(self, params: Any, params_for: Any = None) -> None:
        super().__init__(params, params_for)
        self._warm: set[WordTokenizer] = set()  # tokenizers this process has called once

    def process(self, doc: Document, params: Any, context: BatchContext) -> None:
        started = time.perf_counter()
        tokenizer = get_tokenizer(doc.lang or "")
        doc.words = tokenizer.words(doc.text or "")
        if tokenizer not in self._warm:  # building it and its first call load the segmenter's
            context.setup_seconds += time.perf_counter() - started  # model (once per process): set-up
            self._warm.add(tokenizer)
        doc.columns["word_count"] = len(doc.words)
        doc.columns["tokenizer"] = tokenizer.name
        context.counters.add(f"tokenizer.{tokenizer.name}")
        if tokenizer.name.startswith("fallback"):
            context.counters.add(f"tokenizer_fallback.{doc.lang}")

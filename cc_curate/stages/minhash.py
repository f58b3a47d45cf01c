"""MinHash signatures and exact-text hashes, FineWeb2 (datatrove) semantics, pure numpy.

Shingles follow datatrove's ``MinhashDedupSignature``: the text is simplified (lowercase,
punctuation removed, diacritics stripped, digit runs -> ``0``), split into words, and every
run of ``n_grams`` consecutive words, joined by one space, is hashed with 64-bit xxhash.
Each shingle hash ``x`` is permuted as ``(a * x + b) mod (2**61 - 1)`` with uint64 wrap-around
before the modulo (as datatrove computes it), ``a`` and ``b`` drawn from
``numpy.random.RandomState(seed)`` exactly as datatrove draws them, and the signature is the
per-permutation minimum. Given the same words, signatures are therefore identical to
datatrove's 64-bit ones, so signatures and band keys stay comparable with FineWeb2 tooling.

The difference from datatrove is deliberate: words come from the pipeline's shared tokenizer
(tokenize once), and each word is simplified after tokenization instead of before.
"""

from __future__ import annotations

import functools
import string
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np
import pyarrow as pa
import xxhash

from cc_curate.output.schema import MINHASH, TEXT_HASH
from cc_curate.params import setting
from cc_curate.stages.base import BatchContext, Document, Stage

MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_SHIFT_61 = np.uint64(61)
_UINT64_MAX = np.iinfo(np.uint64).max
# Shingles permuted per numpy block: bounds temporary memory for very long documents.
_BLOCK = 2048

# The punctuation datatrove strips: ASCII punctuation, a set of CJK / typographic marks, and
# the C0/C1 control characters except tab and newline.
_PUNCTUATION = (
    string.punctuation
    + "—”％１〈、━【「」，】；“《„’∶´．（–？！：～«〉》）。…►»"
    + "".join(map(chr, [*range(0, 9), *range(11, 32), *range(127, 160)]))
)
# Per-codepoint flags, so simplification runs as a few numpy passes instead of per-character
# Python (str.translate with a dict and the regexes it replaces cost ~1 ms per page).
_SPACE, _PUNCT, _MARK, _DIGIT = 1, 2, 4, 8
_ZERO, _BLANK = ord("0"), ord(" ")


@functools.cache
def _flags() -> np.ndarray:
    """uint8 flags of every codepoint: whitespace, datatrove punctuation, nonspacing mark, digit."""
    flags = np.zeros(sys.maxunicode + 1, dtype=np.uint8)
    for cp in range(sys.maxunicode + 1):
        char = chr(cp)
        category = unicodedata.category(char)
        if char.isspace():  # what the regex \s matches
            flags[cp] |= _SPACE
        if category == "Mn":
            flags[cp] |= _MARK
        elif category == "Nd":  # what the regex \d matches
            flags[cp] |= _DIGIT
    flags[[ord(c) for c in _PUNCTUATION]] |= _PUNCT
    flags.flags.writeable = False
    return flags


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def normalized_bytes(text: str) -> bytes:
    """UTF-8 of the simplified words joined by single spaces.

    Datatrove's simplification, in its order: lowercase, whitespace runs -> one space,
    punctuation removed, NFD with nonspacing marks removed, digit runs -> ``0``; words are
    then what is left between spaces (a word made only of punctuation vanishes).
    """
    table = _flags()
    cps = _codepoints(text.lower())
    flags = table[cps]
    # Whitespace is normalised before punctuation goes, so a control character that is both
    # (e.g. \x0b) still separates words.
    keep = (flags & (_PUNCT | _SPACE)) != _PUNCT
    cps, flags = cps[keep], flags[keep]
    if cps.size and cps.max() > 0x7F:
        cps[(flags & _SPACE) != 0] = _BLANK  # NFD must see the spaces
        cps = _codepoints(unicodedata.normalize("NFD", cps.tobytes().decode("utf-32-le", "surrogatepass")))
        flags = table[cps]
        keep = (flags & _MARK) == 0
        cps, flags = cps[keep], flags[keep]
    blank = (flags & _SPACE) != 0
    digit = (flags & _DIGIT) != 0
    # Keep the first of every digit run (as 0) and of every blank run.
    repeat = np.zeros(cps.size, dtype=bool)
    repeat[1:] = (digit[1:] & digit[:-1]) | (blank[1:] & blank[:-1])
    cps[blank] = _BLANK
    cps[digit] = _ZERO
    cps = cps[~repeat]
    text = cps.tobytes().decode("utf-32-le", "surrogatepass").strip(" ")
    return text.encode("utf-8", "surrogatepass")


# text_hash of a text with no word: such documents are never exact duplicates of each other.
EMPTY_TEXT_HASH = xxhash.xxh64_intdigest(b"")


def text_hash(text: str) -> int:
    """xxh64 of the normalised text: texts that differ only by case, spacing, punctuation,
    diacritics or digits are the same text for exact dedup (and give the same shingles)."""
    return xxhash.xxh64_intdigest(normalized_bytes(text))


@functools.lru_cache(maxsize=8)
def _permutations(seed: int, num_hashes: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) of every permutation, drawn as datatrove draws them (read-only, cached)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(1, MERSENNE_PRIME, dtype=np.uint64, size=num_hashes)
    b = gen.randint(0, MERSENNE_PRIME, dtype=np.uint64, size=num_hashes)
    a.flags.writeable = False
    b.flags.writeable = False
    return a, b


def shingle_hashes(words: list[str], n_grams: int) -> np.ndarray:
    """xxh64 of every word n-gram of the simplified words (uint64, possibly empty)."""
    joined = normalized_bytes(" ".join(words))
    if not joined:
        return np.zeros(0, dtype=np.uint64)
    spaces = np.flatnonzero(np.frombuffer(joined, dtype=np.uint8) == 0x20)
    count = len(spaces) + 2 - n_grams  # words - n_grams + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    starts = np.concatenate(([0], spaces + 1))[:count].tolist()
    ends = np.concatenate((spaces, [len(joined)]))[n_grams - 1 :].tolist()
    hash64 = xxhash.xxh64_intdigest
    return np.fromiter(map(hash64, map(joined.__getitem__, map(slice, starts, ends))), dtype=np.uint64, count=count)


def signature_of_shingles(shingles: np.ndarray, num_hashes: int, seed: int) -> np.ndarray:
    """Per-permutation minimum of ``(a*x + b) mod (2**61-1)`` over the shingles, in numpy blocks."""
    a, b = _permutations(seed, num_hashes)
    result = np.full(num_hashes, _UINT64_MAX, dtype=np.uint64)
    rows = min(_BLOCK, len(shingles))
    values = np.empty((rows, num_hashes), dtype=np.uint64)
    high = np.empty_like(values)
    for start in range(0, len(shingles), _BLOCK):
        block = shingles[start : start + _BLOCK]
        x, h = values[: len(block)], high[: len(block)]
        np.multiply(block[:, None], a, out=x)  # wraps modulo 2**64, as datatrove
        x += b
        # x mod (2**61 - 1) without division: fold the top 3 bits back in, subtract p once.
        np.right_shift(x, _SHIFT_61, out=h)
        x &= MERSENNE_PRIME
        x += h
        np.subtract(x, MERSENNE_PRIME, out=x, where=x >= MERSENNE_PRIME)
        np.minimum(result, x.min(axis=0), out=result)
    return result


def minhash_signature(words: list[str], params: Mapping[str, Any]) -> np.ndarray | None:
    """MinHash signature of a tokenized document, or None when it has fewer words than n_grams.

    ``params`` is the recipe's ``minhash`` section: ``n_grams``, ``num_buckets``,
    ``hashes_per_bucket``, ``seed``. Returns uint64[num_buckets * hashes_per_bucket],
    band ``i`` being ``[i*hashes_per_bucket, (i+1)*hashes_per_bucket)``.
    """
    shingles = shingle_hashes(words, int(params["n_grams"]))
    if shingles.size == 0:
        return None
    num_hashes = int(params["num_buckets"]) * int(params["hashes_per_bucket"])
    return signature_of_shingles(shingles, num_hashes, int(params["seed"]))


@dataclass(frozen=True)
class MinHashParams:
    n_grams: int = setting(5, "Words per shingle", low=1, high=50)
    num_buckets: int = setting(14, "LSH bands", low=1, high=256)
    hashes_per_bucket: int = setting(8, "Rows per band", low=1, high=256)
    seed: int = setting(1, "Permutation seed", low=0)


class MinHash(Stage):
    """The MinHash signature of the shared words and the exact-text hash, for dedup (run-wide)."""

    name = "minhash"
    phase = "annotate"
    doc = "MinHash signature (word 5-grams, FineWeb2's 14x8) and normalised-text hash for dedup"
    Params = MinHashParams
    columns = (MINHASH, TEXT_HASH)

    def __init__(self, params: MinHashParams, params_for: Any = None) -> None:
        super().__init__(params, params_for)
        self._settings = asdict(params)

    def process(self, doc: Document, params: MinHashParams, context: BatchContext) -> None:
        doc.columns["minhash"] = minhash_signature(doc.words, self._settings)
        doc.columns["text_hash"] = text_hash(doc.text or "")

    def to_arrow(self, name: str, values: Sequence[Any]) -> pa.Array | None:
        """The ``minhash`` column built from the numpy signatures in one piece (no Python ints)."""
        if name != "minhash":
            return None
        offsets = np.zeros(len(values) + 1, dtype=np.int32)
        missing = np.zeros(len(values), dtype=bool)
        parts = []
        for i, signature in enumerate(values):
            if signature is None:
                missing[i] = True
                offsets[i + 1] = offsets[i]
            else:
                parts.append(signature)
                offsets[i + 1] = offsets[i] + len(signature)
        flat = pa.array(np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64), type=pa.uint64())
        mask = pa.array(missing) if missing.any() else None
        return pa.ListArray.from_arrays(pa.array(offsets), flat, type=MINHASH.type, mask=mask)

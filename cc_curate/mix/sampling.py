"""Quality-weighted sampling without replacement, exact and reproducible: pure numpy, no Ray, no I/O.

The model. A language's pool is its *units*: document ``d`` with ``c_d`` rehydration copies is
``c_d`` units ``(d, j)``. Sampling units without replacement with probability proportional to
``exp(score / tau)`` is the Gumbel-top-k trick: give each unit the key
``score / tau + G`` with ``G`` a standard Gumbel variable, and take units in decreasing key
order. The Gumbel variable comes from a hash of (seed, document id, copy number), so a unit's
key depends on nothing else: not on workers, file order or partitioning.

Selection order is a total order on 128-bit words ``(hi, lo)``: ``hi`` is the key, bit-mapped so
that a larger key is a smaller unsigned integer, ``lo`` is the unit's hash (which breaks ties of
equal keys); units with the same ``(hi, lo)`` (the same id given twice) fall back to their
position ``(file, row, copy)``. A budget of ``r`` cost units (tokens, words or documents) takes
the shortest prefix of that order whose cost reaches ``r``; the distributed selection finds the
last unit of that prefix by radix select over ``(hi, lo)`` (``radix_histogram``, ``in_prefix``)
without any process holding all keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import xxhash

from cc_curate.dedup.hashing import mix64

RADIX_BITS = 8  # bits of (hi, lo) resolved per round: 256 bins
RADIX_BINS = 1 << RADIX_BITS
WORD_BITS = 128
_COPY_TAG = np.uint64(0x4D49585F434F5059)  # "MIX_COPY": unit hashes are unrelated to dedup's keys
_SIGN = np.uint64(1 << 63)


def document_hashes(ids: Sequence[str], seed: int) -> np.ndarray:
    """uint64 per document: xxh64 of its id, seeded. The only per-document input of the keys."""
    return np.fromiter((xxhash.xxh64_intdigest(i.encode("utf-8"), seed=seed) for i in ids),
                       dtype=np.uint64, count=len(ids))


def expand_units(copies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(document index, copy number) of every unit, documents in order, copies consecutive."""
    copies = np.asarray(copies, dtype=np.int64)
    doc = np.repeat(np.arange(len(copies), dtype=np.int64), copies)
    starts = np.repeat(np.cumsum(copies) - copies, copies)
    return doc, np.arange(len(doc), dtype=np.int64) - starts


def unit_hashes(doc_hashes: np.ndarray, copy: np.ndarray) -> np.ndarray:
    """uint64 per unit from its document's hash and its copy number."""
    return mix64(np.asarray(doc_hashes, dtype=np.uint64) ^ mix64(np.asarray(copy, dtype=np.uint64) ^ _COPY_TAG))


def gumbel(hashes: np.ndarray) -> np.ndarray:
    """A standard Gumbel variable per hash: -log(-log u), u uniform in (0, 1) from the top 53 bits."""
    u = ((np.asarray(hashes, dtype=np.uint64) >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    return -np.log(-np.log(u))


def keys(scores: np.ndarray, tau: float | None, hashes: np.ndarray) -> np.ndarray:
    """Gumbel-top-k keys: score / tau + Gumbel noise (noise alone, uniform sampling, when tau is None)."""
    noise = gumbel(hashes)
    if tau is None:
        return noise
    return np.asarray(scores, dtype=np.float64) / tau + noise


def order_words(key: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hi, lo) uint64 words whose ascending lexicographic order is the selection order."""
    bits = np.ascontiguousarray(key, dtype=np.float64).view(np.uint64)
    ascending = np.where(bits & _SIGN, ~bits, bits | _SIGN)  # float order as unsigned order
    return ~ascending, np.asarray(hashes, dtype=np.uint64)


@dataclass(frozen=True)
class Prefix:
    """The units whose first ``bits`` bits of (hi, lo) equal those of (hi, lo) here (the rest zero)."""

    hi: int = 0
    lo: int = 0
    bits: int = 0

    def extend(self, digit: int) -> "Prefix":
        """This prefix followed by the next RADIX_BITS bits ``digit``."""
        position = WORD_BITS - self.bits - RADIX_BITS  # lowest bit of the new digit in the 128-bit word
        if position >= 64:
            return Prefix(self.hi | (digit << (position - 64)), self.lo, self.bits + RADIX_BITS)
        return Prefix(self.hi, self.lo | (digit << position), self.bits + RADIX_BITS)


def in_prefix(hi: np.ndarray, lo: np.ndarray, prefix: Prefix) -> np.ndarray:
    """Mask of the units inside ``prefix``."""
    if prefix.bits == 0:
        return np.ones(len(hi), dtype=bool)
    hi_bits = min(prefix.bits, 64)
    mask = (hi >> np.uint64(64 - hi_bits)) == np.uint64(prefix.hi >> (64 - hi_bits))
    if prefix.bits > 64:
        lo_bits = prefix.bits - 64
        mask &= (lo >> np.uint64(64 - lo_bits)) == np.uint64(prefix.lo >> (64 - lo_bits))
    return mask


def next_digit(hi: np.ndarray, lo: np.ndarray, prefix: Prefix) -> np.ndarray:
    """The RADIX_BITS bits that follow ``prefix``, per unit (int64 in [0, RADIX_BINS))."""
    position = WORD_BITS - prefix.bits - RADIX_BITS
    word, shift = (hi, position - 64) if position >= 64 else (lo, position)
    return ((word >> np.uint64(shift)) & np.uint64(RADIX_BINS - 1)).astype(np.int64)


def radix_histogram(hi: np.ndarray, lo: np.ndarray, cost: np.ndarray, prefix: Prefix) -> tuple[np.ndarray, np.ndarray]:
    """Units and their cost per value of the next digit, among the units inside ``prefix``."""
    mask = in_prefix(hi, lo, prefix)
    digit = next_digit(hi[mask], lo[mask], prefix)
    counts = np.bincount(digit, minlength=RADIX_BINS).astype(np.int64)
    costs = np.bincount(digit, weights=np.asarray(cost, dtype=np.float64)[mask], minlength=RADIX_BINS)
    return counts, np.rint(costs).astype(np.int64)


@dataclass(frozen=True)
class Threshold:
    """The last selected unit: every unit at or before it in selection order is selected.

    ``everything``: the whole pool (no comparison needed); ``nothing``: no unit.
    """

    hi: int = 0
    lo: int = 0
    position: tuple[int, int, int] = (0, 0, 0)  # (file ordinal, row, copy) of the last unit
    everything: bool = False
    nothing: bool = False


NOTHING = Threshold(nothing=True)
EVERYTHING = Threshold(everything=True)


def selected(hi: np.ndarray, lo: np.ndarray, file_ordinal: int, row: np.ndarray, copy: np.ndarray,
             threshold: Threshold) -> np.ndarray:
    """Mask of the units at or before ``threshold`` in selection order."""
    if threshold.everything or threshold.nothing:
        return np.full(len(hi), threshold.everything, dtype=bool)
    t_hi, t_lo = np.uint64(threshold.hi), np.uint64(threshold.lo)
    t_file, t_row, t_copy = threshold.position
    if file_ordinal != t_file:
        at_or_before = np.full(len(hi), file_ordinal < t_file, dtype=bool)
    else:
        at_or_before = (row < t_row) | ((row == t_row) & (copy <= t_copy))
    same = (hi == t_hi) & (lo == t_lo)
    return (hi < t_hi) | ((hi == t_hi) & (lo < t_lo)) | (same & at_or_before)


def last_selected(hi: np.ndarray, lo: np.ndarray, position: np.ndarray, cost: np.ndarray,
                  cost_before: int, budget: int) -> Threshold:
    """The unit at which the cost, counted in selection order after ``cost_before``, reaches ``budget``.

    ``position`` is int64[n, 3] (file ordinal, row, copy). The candidates must hold that unit.
    """
    order = np.lexsort((position[:, 2], position[:, 1], position[:, 0], lo, hi))
    reached = cost_before + np.cumsum(np.asarray(cost, dtype=np.int64)[order]) >= budget
    if not reached.any():
        raise ValueError("the candidates do not reach the budget")
    last = order[int(np.argmax(reached))]
    return Threshold(int(hi[last]), int(lo[last]), tuple(int(v) for v in position[last]))


# ------------------------------------------------------------ expected outcome, without sampling


def inclusion_probabilities(scores: np.ndarray, tau: float | None, log_rate: float) -> np.ndarray:
    """Large-sample inclusion probability of a unit of each score: 1 - exp(-exp(score/tau + log_rate)).

    Sampling with Gumbel keys is an exponential race (unit i arrives at Exp(1) / w_i,
    w_i = exp(score_i / tau)); the sample is what arrives before the last selected unit's time
    t, and for a large pool t is the deterministic ``exp(log_rate)`` at which the expected cost
    arriving equals the budget (Rosén's approximation for successive sampling).
    """
    x = (np.asarray(scores, dtype=np.float64) / tau if tau is not None else np.zeros(len(scores))) + log_rate
    return -np.expm1(-np.exp(np.minimum(x, 700.0)))


def solve_log_rate(scores: np.ndarray, cost: np.ndarray, tau: float | None, budget: float) -> float:
    """The log_rate at which the expected cost of the sample equals ``budget`` (bisection)."""
    cost = np.asarray(cost, dtype=np.float64)
    total = cost.sum()
    if budget <= 0 or total <= 0:
        return -np.inf
    if budget >= total:
        return np.inf
    scaled = np.asarray(scores, dtype=np.float64) / tau if tau is not None else np.zeros(len(cost))
    live = cost > 0
    low = -float(scaled[live].max()) - 60.0  # every probability below exp(-60)
    high = -float(scaled[live].min()) + 60.0  # every probability 1 within float precision
    for _ in range(200):
        middle = 0.5 * (low + high)
        if (cost * inclusion_probabilities(scores, tau, middle)).sum() < budget:
            low = middle
        else:
            high = middle
        if high - low < 1e-12 * max(1.0, abs(middle)):
            break
    return 0.5 * (low + high)


def expected_selection(scores: np.ndarray, units: np.ndarray, cost: np.ndarray, tau: float | None,
                       budget: float) -> np.ndarray:
    """Expected units selected per group of units of one score (e.g. a histogram bin) for a
    sampled cost of ``budget``: ``units * inclusion probability`` at the solved rate."""
    units = np.asarray(units, dtype=np.float64)
    live = units > 0
    chosen = np.zeros(len(units))
    if live.any():
        rate = solve_log_rate(np.asarray(scores)[live], np.asarray(cost)[live], tau, budget)
        chosen[live] = units[live] * inclusion_probabilities(np.asarray(scores)[live], tau, rate)
    return chosen

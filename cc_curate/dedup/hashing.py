"""64-bit keys and partition numbers, vectorised (numpy uint64, wrapping arithmetic).

Band keys and exact-text keys are stored in the persistent index and compared with the next
release's keys, so their definition — with the text normalisation and shingling of
``cc_curate.stages.minhash`` they are computed from — is part of the index format
(``INDEX_FORMAT``): changing any of it requires a new format number.
"""

from __future__ import annotations

import numpy as np
import xxhash

INDEX_FORMAT = 1

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
# Domain tags: keys of different bands, and text keys, are unrelated even for equal values.
_EXACT_TAG = np.uint64(0x45584143545F5458)


def mix64(values: np.ndarray | np.uint64) -> np.ndarray:
    """splitmix64's finalizer: a bijection on uint64 that spreads every input bit over the output."""
    with np.errstate(over="ignore"):
        z = np.asarray(values, dtype=np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MUL1
        z = (z ^ (z >> np.uint64(27))) * _MUL2
        return z ^ (z >> np.uint64(31))


def partition_of(values: np.ndarray, num_partitions: int) -> np.ndarray:
    """Hash partition (int64 in [0, num_partitions)) of nodes or keys; mixing first, so that
    structured node numbers spread as evenly as random keys."""
    return (mix64(values) % np.uint64(num_partitions)).astype(np.int64)


def language_salt(lang: str) -> np.uint64:
    """Per-language salt mixed into every key: dedup never links documents of two languages."""
    return np.uint64(xxhash.xxh64_intdigest(lang.encode("utf-8")))


def band_keys(signatures: np.ndarray, salts: np.ndarray, num_buckets: int, hashes_per_bucket: int) -> np.ndarray:
    """uint64[n, num_buckets]: one key per (document, band), hashing the band's values.

    ``signatures`` is uint64[n, num_buckets * hashes_per_bucket]; ``salts`` uint64[n]. Two
    documents share a key when their band is identical (up to 2**-64 collisions).
    """
    keys = np.empty((signatures.shape[0], num_buckets), dtype=np.uint64)
    for band in range(num_buckets):
        key = mix64(salts ^ mix64(np.uint64(band + 1)))
        for column in range(band * hashes_per_bucket, (band + 1) * hashes_per_bucket):
            key = mix64(key ^ signatures[:, column])
        keys[:, band] = key
    return keys


def exact_keys(text_hashes: np.ndarray, salts: np.ndarray) -> np.ndarray:
    """uint64[n]: the exact-dedup key of each document (its text hash within its language)."""
    return mix64(mix64(salts ^ _EXACT_TAG) ^ np.asarray(text_hashes, dtype=np.uint64))

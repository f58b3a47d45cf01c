"""Write a tiny, real supervised fastText model file, for tests that need a model with given labels.

Why not train one: the trainer (`fasttext-wheel`) installs a `fasttext` module of its own over the
one of `fasttext-predict`, which cc_curate loads models with. The model is instead written in
fastText's binary format (version 12, as `fasttext.train_supervised(...).save_model` writes it):
a header, the training arguments, the dictionary (words, then labels), then the input and output
matrices, dense. With `bucket = 0` and `maxn = 0` there are no subword rows: a text's hidden
vector is the mean of its known words' rows, and the softmax over `labels @ hidden` gives each
label's probability. Loaded by `fasttext.load_model` like any model.
"""

from __future__ import annotations

import struct
from pathlib import Path

MAGIC = 793712314
VERSION = 12
LOSS_SOFTMAX = 3
MODEL_SUPERVISED = 3
WORD, LABEL = 0, 1


def write_model(path: Path, words: dict[str, list[float]], labels: dict[str, list[float]]) -> Path:
    """A supervised model: ``words`` -> input vectors, ``labels`` (e.g. "__label__en") -> output vectors."""
    dim = len(next(iter(words.values())))
    out = bytearray(struct.pack("<ii", MAGIC, VERSION))
    # dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn, maxn, lrUpdateRate, t
    out += struct.pack("<12id", dim, 5, 1, 1, 5, 1, LOSS_SOFTMAX, MODEL_SUPERVISED, 0, 0, 0, 100, 1e-4)
    entries = [(w, WORD) for w in words] + [(label, LABEL) for label in labels]
    # size, nwords, nlabels, ntokens, pruneidx_size (-1: not pruned)
    out += struct.pack("<iiiqq", len(entries), len(words), len(labels), len(entries), -1)
    for name, kind in entries:
        out += name.encode("utf-8") + b"\0" + struct.pack("<qb", 1, kind)
    out += struct.pack("<?", False)  # input matrix not quantised
    out += _dense(list(words.values()), dim)
    out += struct.pack("<?", False)  # output matrix not quantised
    out += _dense(list(labels.values()), dim)
    path.write_bytes(bytes(out))
    return path


def _dense(rows: list[list[float]], dim: int) -> bytes:
    return struct.pack("<qq", len(rows), dim) + b"".join(struct.pack(f"<{dim}f", *row) for row in rows)

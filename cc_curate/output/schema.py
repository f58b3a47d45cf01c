"""The Arrow schemas of cc_curate, declared once.

Three shapes of the same document row:

* ``STAGED`` – what a shard task commits: every FineWeb2 column plus the annotations the
  publish step needs to apply decisions later (signals, MinHash signature, text hash).
* ``PUBLISHED`` – ``data/{lang}/train``: FineWeb2's columns, in FineWeb2's order.
* ``REMOVED`` – ``data/{lang}_removed/train``: published columns plus why the row was removed.

Schemas are explicit so that an empty shard, a shard of one language or a shard with only
removed rows all produce files with identical schemas (never inferred from a first batch).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pyarrow as pa

from cc_curate.errors import UserError

# FineWeb2's published columns, in its order.
FINEWEB2_FIELDS: list[pa.Field] = [
    pa.field("text", pa.string()),
    pa.field("id", pa.string()),
    pa.field("dump", pa.string()),
    pa.field("url", pa.string()),
    pa.field("date", pa.string()),
    pa.field("file_path", pa.string()),
    pa.field("language", pa.string()),  # ISO 639-3, e.g. "rus"
    pa.field("language_score", pa.float64()),
    pa.field("language_script", pa.string()),  # ISO 15924, e.g. "Cyrl"
    pa.field("minhash_cluster_size", pa.int64()),
    pa.field("top_langs", pa.string()),  # JSON: {"rus_Cyrl_score": 0.98, ...}
]

# Why a row is not published. Null means kept. The first failing rule wins.
FILTER_REASON = pa.field("filter_reason", pa.string())
# For duplicates removed by dedup: the id of the kept document of the cluster.
DUPLICATE_OF = pa.field("duplicate_of", pa.string())
# Every filter's measured signal values (e.g. dup_line_frac), so thresholds can be changed
# later without reprocessing.
FILTER_SIGNALS = pa.field("filter_signals", pa.map_(pa.string(), pa.float64()))
# Copies a document gets when the release is rehydrated (FineWeb2's upsampling).
REHYDRATION_COPIES = pa.field("rehydration_copies", pa.int64())

# Staging-only annotations.
LANG_KEY = pa.field("lang", pa.string())  # partition key "{iso639_3}_{Script}"
WORD_COUNT = pa.field("word_count", pa.int64())
MINHASH = pa.field("minhash", pa.list_(pa.uint64()))  # null when no shingles
TEXT_HASH = pa.field("text_hash", pa.uint64())  # xxh64 of the normalised text (exact dedup)
TOKENIZER = pa.field("tokenizer", pa.string())  # which word tokenizer ran (fallbacks visible)

PUBLISHED = pa.schema(FINEWEB2_FIELDS)
REMOVED = pa.schema(FINEWEB2_FIELDS + [FILTER_REASON, DUPLICATE_OF, FILTER_SIGNALS])
# Every staged row has these; the stages add the columns they declare.
STAGED_CORE = FINEWEB2_FIELDS + [LANG_KEY, FILTER_REASON, FILTER_SIGNALS]


def staged_schema(stage_columns: list[pa.Field]) -> pa.Schema:
    """The staged schema of a pipeline: the core columns, then each stage's declared columns."""
    return pa.schema(STAGED_CORE + stage_columns)


# The staged schema of FineWeb2's stages (tokenize: word_count, tokenizer; minhash: minhash,
# text_hash), which dedup and publish read.
STAGED = staged_schema([WORD_COUNT, TOKENIZER, MINHASH, TEXT_HASH])

# filter_reason values set in the shard pass that apply *before* dedup (FineWeb2 order:
# URL filter, extraction, LID threshold -> MinHash dedup -> quality filters): the reasons of the
# stages declared ``decides_before_dedup`` (tests/test_stages.py checks the two agree). Every
# other reason is a quality rule and is applied after dedup, so that cluster sizes count
# documents before quality filtering.
PRE_DEDUP_REASONS = frozenset({
    "url_filter", "language_score", "language_not_selected",
    "extraction:empty", "extraction:html_too_large", "extraction:timeout", "extraction:memory",
    "extraction:html_too_deep", "extraction:extractor_error",
})
DUPLICATE_REASON = "duplicate"

# A document inside a run: its id and its normalised text (``text_hash``). Inputs do not promise
# unique ids (two JSON-lines files may both number theirs from 1): rows that share an id but not
# a text are different documents, each decided on its own; rows that share both are one document
# read twice (one file given under two paths), published once. The published ``id`` is the input's.
DOCUMENT_KEY = ("id", "text_hash")

# Language key for rows that never reached language ID (e.g. URL-filtered before extraction).
UNDETERMINED_LANG = "und_Zyyy"

# A language key, as it becomes a folder name (``data/{lang}/``, ``data/{lang}_removed/``, dedup
# and publish work files): ``{iso639_3}_{Script}`` and nothing else, so no label can name a path
# outside the output. Checked where a label leaves LID (stages/lid.py maps any other label to
# und_Zyyy) and again before a language name touches storage (``check_language``).
LANGUAGE_KEY = re.compile(r"[a-z]{2,3}_[A-Z][a-z]{3}")


class UnsafeLanguageName(UserError, ValueError):
    """A language key that is not ``{iso639_3}_{Script}``: refused before it becomes a path."""


def check_language(lang: object) -> str:
    """``lang`` if it is a safe language key (LANGUAGE_KEY); else UnsafeLanguageName, nothing written."""
    if not isinstance(lang, str) or not LANGUAGE_KEY.fullmatch(lang):
        raise UnsafeLanguageName(
            f"refusing language partition {str(lang)[:80]!r}: not an {{iso639_3}}_{{Script}} name "
            "(a language ID model with unexpected labels?); nothing was written for it"
        )
    return lang


def empty_table(schema: pa.Schema) -> pa.Table:
    """An empty table with the exact schema (for shards that produce no rows)."""
    return schema.empty_table()


def published_schema(with_rehydration_column: bool, columns: Sequence[pa.Field] = ()) -> pa.Schema:
    """The kept-documents schema: FineWeb2's, the columns the recipe's stages publish
    (``Recipe.published_columns``), then optionally the rehydration weight column."""
    schema = pa.schema([*PUBLISHED, *columns])
    return schema.append(REHYDRATION_COPIES) if with_rehydration_column else schema


def removed_schema(columns: Sequence[pa.Field] = ()) -> pa.Schema:
    """The ``_removed`` schema: REMOVED and the columns the recipe's stages publish."""
    return pa.schema([*REMOVED, *columns])

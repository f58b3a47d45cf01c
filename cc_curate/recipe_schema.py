"""Every recipe key, its type and its allowed range, in one table.

Hand-written rather than a pydantic model because recipes are *layers* (defaults -> preset ->
FineWeb2 config -> language file): each layer is a partial recipe that must be checked on its own,
so the error can name the file it came from, and the merged result must be complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Key:
    """One leaf of the recipe: what it holds and which values are allowed."""

    kind: str  # bool | int | float | str | list[str] | pairs | mapping | str?
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    nullable: bool = False

    def expected(self) -> str:
        """Human description of what this key accepts (for error messages and docs)."""
        parts = {
            "bool": "true or false",
            "int": "an integer",
            "float": "a number",
            "str": "a string",
            "list[str]": "a list of strings",
            "pairs": "a list of [n, fraction] pairs (n >= 1, fraction >= -1; above 1 never triggers)",
            "mapping": "a mapping",
            "words": "a list of strings or a file path",
        }[self.kind]
        if self.choices:
            parts = "one of " + ", ".join(self.choices)
        if self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "inf" if self.high is None else f"{self.high:g}"
            parts += f" in [{lo}, {hi}]"
        if self.nullable:
            parts += " (or null)"
        return parts


def _threshold(doc: str) -> Key:
    # FineWeb2 disables a ratio threshold with -1, and some of its configs hold ratios above 1
    # (a rule that never triggers), so only the lower bound is fixed.
    return Key("float", doc + " (-1 disables)", low=-1.0)


FRACTION = dict(low=0.0, high=1.0)

SPEC: dict[str, Any] = {
    "dump": Key("str", "Dump name for the `dump` column", nullable=True),
    "languages": Key("list[str]", "Publish only these languages; empty = all"),
    "from_fineweb2": Key(
        "str",
        "FineWeb2 per-language settings: `packaged` (all 1,929 configs, shipped) or a folder/URL of its configs",
        nullable=True,
    ),
    "precision_wordlists": Key(
        "str",
        "Folder of FineWeb2 precision wordlists ({lang}.txt) for the languages it precision-filtered",
        nullable=True,
    ),
    "input": {
        "max_payload_bytes": Key("int", "Largest HTTP payload read", low=1),
        "storage_options": Key("mapping", "fsspec options for remote inputs and outputs"),
        "read": {
            "block_bytes": Key("int", "Bytes per ranged request to a remote input", low=65_536),
            "max_attempts": Key("int", "Tries of one request before the shard fails (then Ray retries it)",
                                low=1, high=100),
            "backoff_seconds": Key("float", "First retry waits up to this (doubling, full jitter)", low=0.0),
            "backoff_max_seconds": Key("float", "Longest wait between two tries", low=0.0),
            "max_requests_per_node": Key("int", "Most input requests at once per node (0 = no cap)", low=0),
        },
    },
    "url_filter": {
        "enabled": Key("bool", "Apply the URL block lists"),
        "fineweb_lists": Key(
            "str",
            "Folder of FineWeb's URL lists (`cc-curate url-lists fetch`); `default` = that command's "
            "folder ($CC_CURATE_URL_LISTS or ~/.cache/cc_curate/url_lists); null = none",
            nullable=True,
        ),
        "soft_word_threshold": Key("int", "FineWeb rule: soft-banned URL words that remove a page", low=1),
        "blocked_domains": Key("list[str]", "Domains blocked with their subdomains"),
        "blocked_urls": Key("list[str]", "URLs blocked with their path prefixes"),
        "blocked_words": Key("list[str]", "Words blocked when they appear as a URL token"),
        "block_list_files": Key("list[str]", "Files (path or URL) of domains/URLs, one a line"),
    },
    "extraction": {
        "backend": Key("str", "Main-text extractor", choices=("trafilatura", "resiliparse")),
        "favor_precision": Key("bool", "trafilatura: prefer precision (FineWeb setting)"),
        "include_comments": Key("bool", "trafilatura: keep comment sections"),
        "deduplicate": Key("bool", "trafilatura: drop repeated segments"),
        "timeout_seconds": Key("float", "Per-document extraction time limit", low=0.1),
        "max_memory_mb": Key("int", "Per-document extraction memory limit (MiB of growth; 0 = none)", low=0),
        "max_html_bytes": Key("int", "Largest decoded HTML handed to the extractor", low=1),
    },
    "lid": {
        "model": Key("str", "lid.176, or a path/URL of a fastText LID model"),
        "threshold": Key("float", "Minimum language_score", **FRACTION),
        "top_k": Key("int", "Labels kept in top_langs", low=1, high=50),
        "min_top_score": Key("float", "Smallest score listed in top_langs", **FRACTION),
        "max_chars": Key("int", "Score the first N characters (0 = all)", low=0),
    },
    "pii": {
        "enabled": Key("bool", "Mask personal data"),
        "email": Key("bool", "Mask e-mail addresses"),
        "ip": Key("bool", "Mask public IP addresses"),
    },
    "filters": {
        "gopher_repetition": {
            "enabled": Key("bool", "Apply Gopher repetition rules"),
            "dup_line_frac": _threshold("Max fraction of duplicated lines"),
            "dup_para_frac": _threshold("Max fraction of duplicated paragraphs"),
            "dup_line_char_frac": _threshold("Max char fraction in duplicated lines"),
            "dup_para_char_frac": _threshold("Max char fraction in duplicated paragraphs"),
            "top_n_grams": Key("pairs", "Max char fraction of the top n-gram, per n"),
            "dup_n_grams": Key("pairs", "Max char fraction of duplicated n-grams, per n"),
        },
        "fineweb_quality": {
            "enabled": Key("bool", "Apply FineWeb quality rules"),
            "line_punct_thr": _threshold("Min fraction of lines ending in punctuation"),
            "line_punct_exclude_zero": Key("bool", "Do not remove documents with 0 such lines"),
            "stop_chars": Key("list[str]", "Terminal punctuation characters", nullable=True),
            "short_line_thr": _threshold("Max fraction of short lines"),
            "short_line_length": Key("int", "Lines shorter than this are short", low=1),
            "char_duplicates_ratio": _threshold("Max char fraction in duplicated lines"),
            "new_line_ratio": _threshold("Max newlines per word"),
        },
        "gopher_quality": {
            "enabled": Key("bool", "Apply Gopher quality rules"),
            "min_doc_words": Key("int", "Min words", low=0),
            "max_doc_words": Key("int", "Max words", low=1),
            "min_avg_word_length": Key("float", "Min mean word length", low=-1.0),
            "max_avg_word_length": Key("float", "Max mean word length", low=-1.0),
            "max_symbol_word_ratio": _threshold("Max #/... symbols per word"),
            "max_bullet_lines_ratio": _threshold("Max fraction of bullet lines"),
            "max_ellipsis_lines_ratio": _threshold("Max fraction of lines ending in ..."),
            "max_non_alpha_words_ratio": _threshold("Min fraction of words with a letter"),
            "min_stop_words": Key("int", "Min stop words (skipped when stop_words is empty)", low=0),
            "stop_words": Key("list[str]", "The language's stop words"),
        },
        "c4_quality": {
            "enabled": Key("bool", "Apply C4's line and document rules (off in FineWeb2)"),
            "split_paragraph": Key("bool", "Judge lines split on newlines (else sentences)"),
            "remove_citations": Key("bool", "Ignore [1]-style citations"),
            "filter_no_terminal_punct": Key("bool", "Count lines without terminal punctuation"),
            "min_num_sentences": Key("int", "Min sentences (-1 disables)", low=-1),
            "min_words_per_line": Key("int", "Lines with fewer words do not count (-1 disables)", low=-1),
            "max_word_length": Key("int", "Lines with a longer word do not count (-1 disables)", low=-1),
            "filter_lorem_ipsum": Key("bool", "Remove documents with lorem ipsum"),
            "filter_javascript": Key("bool", "Drop lines mentioning javascript"),
            "filter_curly_bracket": Key("bool", "Remove documents with a curly bracket"),
            "filter_policy": Key("bool", "Drop cookie/privacy-policy lines"),
        },
        "c4_badwords": {
            "enabled": Key("bool", "Remove documents with a word of the language's bad-words list"),
            "bad_words": Key("words", "The list, or a path to a file of one word a line"),
            "substring": Key("bool", "Match inside words too (for languages without spaces)"),
        },
        "precision": {
            "enabled": Key("bool", "FineWeb2's precision filter (for contaminated languages)"),
            "wordlist": Key("words", "Words seen in this language >= 85% of the time, or a path", nullable=True),
            "url_whitelist": Key("list[str]", "URL terms (ccTLDs like .ke, names) that vouch for the language"),
            "lang_code": Key("str", "The language's short code, matched in URLs", nullable=True),
            "min_wordlist_ratio": Key("float", "Min share of words from the wordlist", **FRACTION),
        },
    },
    "minhash": {
        "n_grams": Key("int", "Words per shingle", low=1, high=50),
        "num_buckets": Key("int", "LSH bands", low=1, high=256),
        "hashes_per_bucket": Key("int", "Rows per band", low=1, high=256),
        "seed": Key("int", "Permutation seed", low=0),
    },
    "dedup": {
        "enabled": Key("bool", "MinHash dedup per language"),
        "exact": Key("bool", "Exact dedup of identical normalised texts first"),
        "num_partitions": Key("int", "Minimum hash partitions of the LSH shuffle", low=1, high=65536),
        "docs_per_partition": Key("int", "More documents add partitions (bounds each task's memory)", low=1),
    },
    "output": {
        "max_file_bytes": Key("int", "Rotate published files at this size", low=1_000),
        "compression": Key("str", "Parquet codec", choices=("zstd", "snappy", "gzip", "none")),
        "rehydration": Key("str", "Upsampling by cluster size", choices=("none", "column", "repeat")),
        "max_copies": Key("int", "Most copies of one document", low=1, high=100),
    },
    "runtime": {
        "max_retries": Key("int", "Attempts before a shard is quarantined", low=0, high=100),
        "start_stagger_seconds": Key("float", "Pause between the first wave of shard starts", low=0.0, high=60.0),
        "batch_size": Key("int", "Documents per batch", low=1, high=100_000),
        "docs_per_publish_task": Key("int", "Most documents one publish task holds (larger languages are split)",
                                     low=1),
    },
}

# Keys only a preset (the file given to `cc-curate run`) may hold: where its layers are.
PRESET_KEYS: dict[str, Key] = {
    "base": Key("str", "Recipe file this one extends (relative to this file)"),
    "language_overrides": Key("str", "Folder of {lang}.yaml files (relative to this file)"),
}

# Sections a per-language file may override (the rest is run-wide).
LANGUAGE_SECTIONS = ("lid", "pii", "filters", "output")


def _check_scalar(key: Key, value: Any) -> bool:
    checks: dict[str, Callable[[Any], bool]] = {
        "bool": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "list[str]": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "mapping": lambda v: isinstance(v, dict),
        "words": lambda v: isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)),
        "pairs": lambda v: isinstance(v, list)
        and all(
            isinstance(p, list)
            and len(p) == 2
            and isinstance(p[0], int)
            and not isinstance(p[0], bool)
            and p[0] >= 1
            and isinstance(p[1], (int, float))
            and p[1] >= -1
            for p in v
        ),
    }
    if not checks[key.kind](value):
        return False
    if key.choices and value not in key.choices:
        return False
    if key.kind in ("int", "float"):
        if key.low is not None and value < key.low:
            return False
        if key.high is not None and value > key.high:
            return False
    return True


def validate_layer(data: Any, spec: dict[str, Any] = SPEC, prefix: str = "") -> list[tuple[str, str]]:
    """Check one partial recipe against the spec. Returns (dotted key, problem) pairs."""
    if not isinstance(data, dict):
        return [(prefix or "(top level)", "expected a mapping of keys")]
    problems: list[tuple[str, str]] = []
    for name, value in data.items():
        dotted = f"{prefix}{name}"
        if not isinstance(name, str) or name not in spec:
            known = ", ".join(sorted(spec))
            problems.append((dotted, f"unknown key (known here: {known})"))
            continue
        rule = spec[name]
        if isinstance(rule, dict):
            problems += validate_layer(value, rule, dotted + ".")
        elif value is None:
            if not rule.nullable:
                problems.append((dotted, f"expected {rule.expected()}, got null"))
        elif not _check_scalar(rule, value):
            problems.append((dotted, f"expected {rule.expected()}, got {value!r}"))
    return problems


def missing_keys(data: dict[str, Any], spec: dict[str, Any] = SPEC, prefix: str = "") -> list[str]:
    """Dotted keys the merged recipe lacks (the defaults must provide every key)."""
    missing: list[str] = []
    for name, rule in spec.items():
        dotted = f"{prefix}{name}"
        if name not in data:
            if not (isinstance(rule, Key) and rule.nullable):
                missing.append(dotted)
        elif isinstance(rule, dict):
            missing += missing_keys(data[name], rule, dotted + ".")
    return missing


def iter_keys(spec: dict[str, Any] = SPEC, prefix: str = ""):
    """Yield (dotted key, Key) for every leaf: used to generate docs/recipes.md."""
    for name, rule in spec.items():
        if isinstance(rule, dict):
            yield from iter_keys(rule, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", rule

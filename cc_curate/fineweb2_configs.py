"""FineWeb2's per-language settings, shipped with the package as one compact table.

FineWeb2 (huggingface/fineweb-2, Apache-2.0) published one YAML of thresholds per language
(1,929 of them) and, for its precision filter, a contamination score and URL whitelist terms per
language. ``cc-curate recipe import-fineweb2 CONFIGS --table FILE`` turns them into the table
``cc_curate/data/fineweb2/configs.json.gz`` (see the NOTICE beside it), which a preset uses with
``from_fineweb2: packaged``. The table holds:

* ``stop_words``: every distinct stop word once; a config's ``stopwords`` are indices into it;
* ``configs``: ``{lang: FineWeb2 config}`` with the same 10 keys as FineWeb2's files;
* ``precision``: for the languages whose contamination score is above
  :data:`CONTAMINATION_THRESHOLD`, that score and the language's URL whitelist terms.

This module only reads and writes the table and turns it into recipe layers; how layers merge is
:mod:`cc_curate.recipe`'s job.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

PACKAGED = "packaged"  # the value of ``from_fineweb2`` that selects this table
TABLE = Path(__file__).parent / "data" / "fineweb2" / "configs.json.gz"
# FineWeb2 ran its precision (wordlist) filter for languages whose contamination score is above this.
CONTAMINATION_THRESHOLD = 0.10


def build_table(configs: Mapping[str, Mapping[str, Any]], cont_scores: Mapping[str, float] | None = None,
                url_whitelist: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    """The compact table from FineWeb2's configs ``{lang: config}`` and its precision-filter data."""
    vocabulary: dict[str, int] = {}
    compact: dict[str, dict[str, Any]] = {}
    for lang in sorted(configs):
        config = dict(configs[lang])
        config["stopwords"] = [vocabulary.setdefault(w, len(vocabulary)) for w in config.get("stopwords", [])]
        compact[lang] = config
    precision = {}
    for lang, score in sorted((cont_scores or {}).items()):
        if score > CONTAMINATION_THRESHOLD:
            terms = (url_whitelist or {}).get(lang.split("_")[0], [])
            precision[lang] = {"contamination_score": score, "url_whitelist": sorted(terms)}
    return {"stop_words": list(vocabulary), "configs": compact, "precision": precision}


def write_table(table: Mapping[str, Any], path: Path) -> None:
    """Write the table as gzip'd JSON, byte-identical for the same input (no timestamp)."""
    blob = json.dumps(table, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(blob, compresslevel=9, mtime=0))


@lru_cache(maxsize=4)
def read_table(path: Path = TABLE) -> dict[str, Any]:
    """The table at ``path`` (the packaged one by default), read once per process."""
    return json.loads(gzip.decompress(path.read_bytes()))


def packaged_configs(path: Path = TABLE) -> dict[str, dict[str, Any]]:
    """``{lang: FineWeb2 config}`` exactly as FineWeb2's YAML files hold them."""
    table = read_table(path)
    words = table["stop_words"]
    return {lang: {**config, "stopwords": [words[i] for i in config["stopwords"]]}
            for lang, config in table["configs"].items()}


def precision_data(path: Path = TABLE) -> dict[str, dict[str, Any]]:
    """``{lang: {contamination_score, url_whitelist}}`` for the languages FineWeb2 precision-filtered."""
    return read_table(path)["precision"]


def precision_layers(wordlist_dir: str | None, path: Path = TABLE) -> dict[str, dict[str, Any]]:
    """The ``filters.precision`` layer of each language FineWeb2 precision-filtered.

    ``wordlist`` is ``{wordlist_dir}/{lang}.txt`` when that file exists, else null: the filter
    then keeps every document (it can judge only the URL), and the run counts the language's
    documents under ``precision_no_wordlist.{lang}`` so the summary can say so.
    """
    layers = {}
    for lang, data in precision_data(path).items():
        wordlist = Path(wordlist_dir, f"{lang}.txt") if wordlist_dir else None
        layers[lang] = {"filters": {"precision": {
            "enabled": True,
            "url_whitelist": list(data["url_whitelist"]),
            "lang_code": lang.split("_")[0],
            "wordlist": str(wordlist) if wordlist is not None and wordlist.is_file() else None,
        }}}
    return layers

"""``stats.json``: every counter, per stage, per filter, per language, and the accounting check.

Accounting: every record read ends in exactly one bucket —
``records.read = skipped (non-HTML, damaged, ...) + documents``, and ``documents = kept + removed``.
A record whose extraction failed is a document removed with ``extraction:{why}`` (in
``und_Zyyy_removed``); ``extraction_failed`` counts them. ``check`` says whether the numbers add up;
each side of each equation is counted on its own: ``documents`` are the rows the shard pass
committed (the ledger), ``kept`` and ``removed`` what publish decided for the rows it read (kept,
and per reason).

``ids``: ids that name several documents (different texts) within a language — inputs that are
not WARC files rarely promise unique ids. Both documents are kept or removed on their own merits;
``ids.examples`` names the first few with their inputs, as does the run's warning line.
"""

from __future__ import annotations

import platform
from pathlib import Path
import time
from typing import Any, Mapping

from cc_curate import __version__
from cc_curate.output.card import write_card
from cc_curate.output.storage import Storage
from cc_curate.recipe import Recipe
from cc_curate.report.counters import Counters, nest


def build_stats(
    recipe: Recipe,
    committed: Mapping[str, Mapping[str, Any]],
    languages: Mapping[str, Mapping[str, Any]],
    quarantined: list[str],
    *,
    shards_total: int,
    extra: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    counters = Counters.total(entry["counters"] for entry in committed.values())
    counters.update(extra or {})
    flat = dict(counters)
    read = int(flat.get("records.read", 0))
    skipped = int(sum(v for k, v in flat.items() if k.startswith("records.skipped.")))
    failed = int(sum(v for k, v in flat.items() if k.startswith("extraction.failed.")))
    documents = sum(int(where["rows"]) for entry in committed.values() for where in entry["languages"].values())
    kept = sum(int(s["kept"]) for s in languages.values())
    removed = sum(int(count) for s in languages.values() for count in s["removed"].values())
    filters: dict[str, dict[str, int]] = {}
    for lang, stats in languages.items():
        for reason, count in stats["removed"].items():
            per = filters.setdefault(reason, {"total": 0, "by_language": {}})
            per["total"] += count
            per["by_language"][lang] = count
    return {
        "run": {
            "cc_curate_version": __version__,
            "python": platform.python_version(),
            "recipe": recipe.path if "://" in recipe.path else str(Path(recipe.path).resolve()),
            "recipe_sha256": recipe.sha256,
            "shards_total": shards_total,
            "shards_committed": len(committed),
            "shards_quarantined": quarantined,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "counters": nest(flat),
        "funnel": {
            "records_read": read,
            "skipped": skipped,
            "extraction_failed": failed,
            "documents": documents,
            "kept": kept,
            "removed": removed,
        },
        "filters": dict(sorted(filters.items())),
        "languages": {lang: {k: v for k, v in s.items() if k not in ("files", "id_collision_examples")}
                      for lang, s in sorted(languages.items())},
        "ids": _id_collisions(languages),
        "check": {
            "records_add_up": read == skipped + documents,
            "documents_add_up": documents == kept + removed,
        },
    }


def _id_collisions(languages: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    by_language = {lang: int(s.get("id_collisions", 0)) for lang, s in sorted(languages.items())}
    examples = [{"language": lang, **example} for lang, s in sorted(languages.items())
                for example in s.get("id_collision_examples", [])]
    return {"collisions": sum(by_language.values()),
            "by_language": {lang: n for lang, n in by_language.items() if n}, "examples": examples}


def collision_warning(stats: Mapping[str, Any]) -> str | None:
    """One line for the console when ids name several documents; None when every id is unique."""
    ids = stats.get("ids", {})
    if not ids.get("collisions"):
        return None
    named = "; ".join(f"{e['id']!r} ({e['language']}) in {', '.join(e['inputs'])}" for e in ids["examples"])
    return (f"warning: {ids['collisions']} ids name more than one document (same id, different text), "
            f"e.g. {named}; each document was kept or removed on its own, so published ids are not unique "
            "(stats.json: ids)")


def write_stats(storage: Storage, stats: Mapping[str, Any], recipe: Recipe) -> None:
    """Write stats.json and the dataset card (README.md) at the output root."""
    storage.write_json("stats.json", stats)
    write_card(storage, stats, recipe)

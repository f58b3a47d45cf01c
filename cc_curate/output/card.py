"""The dataset card (``OUT/README.md``): what the release holds and how it was made."""

from __future__ import annotations

from typing import Any, Mapping

from cc_curate.output.storage import Storage
from cc_curate.recipe import Recipe


def render_card(stats: Mapping[str, Any], recipe: Recipe) -> str:
    run, funnel, languages = stats["run"], stats["funnel"], stats["languages"]
    published = {k: v for k, v in languages.items() if v["kept"]}
    lines = [
        "---",
        "configs:",
    ]
    for lang in published:
        lines += [f"- config_name: {lang}", "  data_files:", "  - split: train", f"    path: data/{lang}/train/*.parquet"]
    lines += [
        "---",
        "",
        "# cc_curate release",
        "",
        f"Built by cc_curate {run['cc_curate_version']} with recipe `{run['recipe']}` "
        f"(sha256 `{run['recipe_sha256'][:16]}`), from {run['shards_committed']} input files "
        f"({len(run['shards_quarantined'])} quarantined).",
        "",
        "Load a language with `datasets.load_dataset(\"parquet\", data_files=\"data/rus_Cyrl/train/*.parquet\")`, "
        "DuckDB (`SELECT * FROM 'data/rus_Cyrl/train/*.parquet'`) or Polars (`pl.scan_parquet(...)`).",
        "",
        "## Languages",
        "",
        "| language | documents | words | bytes | removed |",
        "|---|---:|---:|---:|---:|",
    ]
    for lang, s in sorted(published.items(), key=lambda kv: -kv[1]["kept"]):
        lines.append(f"| {lang} | {s['kept']:,} | {s['words']:,} | {s['bytes']:,} | {s['documents'] - s['kept']:,} |")
    lines += [
        "",
        "## What was removed, and why",
        "",
        f"- records read: {funnel['records_read']:,}",
        f"- skipped before extraction (not HTML, not a response, damaged): {funnel['skipped']:,}",
        f"- extraction gave no text or failed: {funnel['extraction_failed']:,}",
        f"- documents: {funnel['documents']:,} (kept {funnel['kept']:,}, removed {funnel['removed']:,})",
        "",
        "| rule | documents removed |",
        "|---|---:|",
    ]
    for reason, per in stats["filters"].items():
        lines.append(f"| {reason} | {per['total']:,} |")
    lines += [
        "",
        "Removed documents are in `data/{lang}_removed/train/` with a `filter_reason` column; "
        "every counter is in `stats.json`.",
        "",
    ]
    return "\n".join(lines)


def write_card(storage: Storage, stats: Mapping[str, Any], recipe: Recipe) -> None:
    storage.write_atomic("README.md", render_card(stats, recipe).encode())

"""The model card written next to a trained quality model: ``{name}.card.json`` and ``{name}.card.md``.

The JSON is the record (data sources, counts, hyper-parameters, metrics, versions); the
Markdown says the same for a person. Neither holds a date, so a re-run with the same inputs
writes identical files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

METRIC_COLUMNS = ("documents", "positives", "precision", "recall", "f1", "roc_auc")


def write_card(base: Path, card: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``{base}.card.json`` and ``{base}.card.md``; return both paths."""
    json_path = base.with_name(base.name + ".card.json")
    md_path = base.with_name(base.name + ".card.md")
    json_path.write_text(json.dumps(card, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(card), encoding="utf-8")
    return json_path, md_path


def _cell(value: Any) -> str:
    return "n/a" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def render_markdown(card: dict[str, Any]) -> str:
    lines = [
        f"# Quality model `{card['model']}`",
        "",
        f"- kind: {card['kind']} (labels {', '.join(card['labels'])}); score = {card['score']}",
        f"- languages: {', '.join(card['languages'])}",
        f"- input: {card['input']}; at most {card['max_words'] or 'all'} words (score with the same max_words)",
        f"- positive: label >= {card['positive_threshold']:g}; predicted positive: score >= {card['score_threshold']:g}",
        f"- examples: {card['counts']['train']:,} trained, {card['counts']['holdout']:,} held out "
        f"({card['split']['holdout']:.0%}, {card['split']['rule']}, seed {card['split']['seed']})",
        f"- cc_curate {card['versions']['cc_curate']}, fasttext-new {card['versions']['fasttext_new']}",
        "",
        "## Held-out metrics",
        "",
        "| language | " + " | ".join(METRIC_COLUMNS) + " | label balance |",
        "|---" * (len(METRIC_COLUMNS) + 2) + "|",
    ]
    for lang, metrics in card["metrics"].items():
        balance = ", ".join(f"{label}: {n:,}" for label, n in metrics["label_balance"].items())
        lines.append(f"| {lang} | " + " | ".join(_cell(metrics.get(c)) for c in METRIC_COLUMNS) + f" | {balance} |")
    lines += ["", "## Data sources", "", "| source | examples per label |", "|---|---|"]
    for source in card["sources"]:
        per_label = ", ".join(f"{label}: {n:,}" for label, n in sorted(source["examples_per_label"].items()))
        lines.append(f"| `{source['path']}` | {per_label} |")
    lines += ["", "## Hyper-parameters", ""]
    lines += [f"- {key}: {value}" for key, value in sorted(card["hyper_parameters"].items())]
    return "\n".join(lines) + "\n"

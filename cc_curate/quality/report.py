"""What ``cc-curate quality train`` prints: held-out metrics per model and language."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from cc_curate.quality.card import METRIC_COLUMNS
from cc_curate.quality.train import TrainedModel


def metrics_table(models: Sequence[TrainedModel]) -> Table:
    table = Table(title="held-out metrics")
    for column in ("model", "language", *METRIC_COLUMNS, "label balance"):
        table.add_column(column, justify="left" if column in ("model", "language", "label balance") else "right")
    for model in models:
        for lang, m in model.card["metrics"].items():
            balance = ", ".join(f"{label}: {n:,}" for label, n in m["label_balance"].items())
            table.add_row(model.name, lang, *("n/a" if m.get(c) is None else f"{m[c]:,}" for c in METRIC_COLUMNS),
                          balance)
    return table

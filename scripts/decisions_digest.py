"""A digest of what a run published: the kept documents and the ``_removed`` rows, column by column.

Used by tests/test_same_decisions.py to prove that a refactoring of the stages keeps the same
decisions: same documents kept, same text, same columns, same removal reasons and signals.
Paths are reduced to their file name (``file_path`` holds the input's location) and floats are
rounded to 9 digits, so the digest is the same on every machine.

Rows removed for a failed or empty extraction (``extraction:*``) are counted apart: they joined
the ``_removed`` partitions when extraction failures became rows (before, they vanished).

Usage: python scripts/decisions_digest.py OUT   (prints the digests as JSON)
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

EXTRACTION_REASON_PREFIX = "extraction:"


def _normalise(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, list):  # filter_signals: [(key, value), ...]
        return sorted((k, _normalise(v)) for k, v in value)
    return value


def _row_key(row: dict[str, Any]) -> str:
    row = dict(row)
    row["file_path"] = Path(row["file_path"] or "").name
    return json.dumps({k: _normalise(v) for k, v in sorted(row.items())}, sort_keys=True, ensure_ascii=False)


def digest(out: Path) -> dict[str, Any]:
    """{"kept": sha256, "removed": sha256, "kept_rows": n, "removed_rows": n, "extraction_rows": n}."""
    kept: list[str] = []
    removed: list[str] = []
    extraction_rows = 0
    for file in sorted(Path(out).glob("data/*/train/*.parquet")):
        partition = file.parts[-3]
        for row in pq.read_table(file).to_pylist():
            row["partition"] = partition
            if partition.endswith("_removed"):
                if (row.get("filter_reason") or "").startswith(EXTRACTION_REASON_PREFIX):
                    extraction_rows += 1
                    continue
                removed.append(_row_key(row))
            else:
                kept.append(_row_key(row))

    def sha(rows: list[str]) -> str:
        return hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()

    return {"kept": sha(kept), "removed": sha(removed), "kept_rows": len(kept), "removed_rows": len(removed),
            "extraction_rows": extraction_rows}


if __name__ == "__main__":
    print(json.dumps(digest(Path(sys.argv[1])), indent=2))

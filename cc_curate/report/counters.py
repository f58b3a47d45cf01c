"""Flat, mergeable counters with dotted names (``records.skipped.not_html``).

Every shard returns one; the driver sums them and :func:`nest` turns the sum into the nested
``stats.json``. Flat names keep shard results small and merging trivial.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Mapping


class Counters(Counter):
    """A ``collections.Counter`` keyed by dotted names."""

    def add(self, name: str, amount: float = 1) -> None:
        self[name] += amount

    @classmethod
    def total(cls, parts: Iterable[Mapping[str, float]]) -> "Counters":
        out = cls()
        for part in parts:
            out.update(part)
        return out


def nest(flat: Mapping[str, float]) -> dict[str, Any]:
    """``{"a.b": 1, "a.c": 2}`` -> ``{"a": {"b": 1, "c": 2}}`` (sorted, for stable JSON)."""
    root: dict[str, Any] = {}
    for name in sorted(flat):
        node = root
        parts = name.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # a leaf and a branch share a name: keep both
                child = node[part] = {"total": child}
            node = child
        leaf = parts[-1]
        if isinstance(node.get(leaf), dict):
            node[leaf]["total"] = flat[name]
        else:
            node[leaf] = flat[name]
    return root

"""Regenerate the key table of docs/recipes.md from the recipe spec (a test keeps them in sync).

Usage: python scripts/gen_recipe_docs.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from cc_curate.recipe_schema import SPEC, iter_keys

DOC = Path(__file__).resolve().parents[1] / "docs" / "recipes.md"
DEFAULTS = Path(__file__).resolve().parents[1] / "recipes" / "defaults.yaml"
BEGIN, END = "<!-- keys:begin -->", "<!-- keys:end -->"


def table() -> str:
    defaults = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    rows = ["| key | accepts | default | what it does |", "|---|---|---|---|"]
    for dotted, key in iter_keys(SPEC):
        node = defaults
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        default = "null" if node is None else yaml.safe_dump(node, default_flow_style=True).strip().removesuffix("...").strip()
        rows.append(f"| `{dotted}` | {key.expected()} | `{default}` | {key.doc} |")
    return "\n".join(rows)


def render(text: str) -> str:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


if __name__ == "__main__":
    current = DOC.read_text(encoding="utf-8")
    wanted = render(current)
    if "--check" in sys.argv:
        sys.exit(0 if current == wanted else "docs/recipes.md is out of date: run scripts/gen_recipe_docs.py")
    DOC.write_text(wanted, encoding="utf-8")

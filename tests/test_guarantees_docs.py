"""docs/operations.md "Guarantees" names a test for every guarantee: each named test must exist."""

from __future__ import annotations

import re

from .conftest import REPO_ROOT


def test_every_guarantee_names_a_test_that_exists() -> None:
    text = (REPO_ROOT / "docs" / "operations.md").read_text()
    section = text[text.index("## Guarantees"):]
    section = section[: section.index("\n## ", 1)]
    named = []
    table = section[: section.index("\n\n", section.index("| event |"))]
    for row in re.findall(r"^\|(?!---).*\|$", table, re.M)[1:]:  # without its header
        tests = re.findall(r"`(test_\w+\.py)?::(test_\w+)`", row.split("|")[-2])
        assert tests, f"a guarantee without a test: {row}"
        file = None
        for given, name in tests:  # `::name` continues the file named before it
            file = given or file
            named.append((file, name))
    for file, name in named + re.findall(r"`(test_\w+\.py)::(test_\w+)`", section):
        source = (REPO_ROOT / "tests" / file).read_text()
        assert re.search(rf"^def {name}\(", source, re.M), f"docs/operations.md names {file}::{name}, which does not exist"

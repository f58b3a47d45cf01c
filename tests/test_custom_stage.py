"""A stage from outside the repository: examples/custom_stage, installed into this environment with
pip, found through the ``cc_curate.stages`` entry point, named in a recipe and run by
``cc-curate run`` on a real local Ray. Its removals show in ``_removed``, stats.json and the report.
The package is uninstalled at the end, so the environment is left as it was."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from .conftest import REPO_ROOT
from .test_run import cc_curate

pytestmark = pytest.mark.slow

EXAMPLE = REPO_ROOT / "examples" / "custom_stage"
DEMO = REPO_ROOT / "demo" / "demo.warc.gz"
REASON = "regex_filter:too_many_matches"


@pytest.fixture(scope="module")
def installed() -> None:
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--no-deps", "-e", str(EXAMPLE)], check=True,
                   timeout=300)
    try:
        yield
    finally:
        subprocess.run([*pip, "uninstall", "-y", "cc-curate-regex-filter"], check=True, timeout=300)


def test_a_plugin_stage_runs_through_cc_curate_run(installed: None, tmp_path: Path) -> None:
    listed = cc_curate("stages")
    assert "regex_filter  [filter, per language]" in listed.stdout and "max_matches" in listed.stdout

    default_stages = yaml.safe_load((REPO_ROOT / "recipes" / "defaults.yaml").read_text())["stages"]
    recipe = tmp_path / "regex.yaml"
    recipe.write_text(yaml.safe_dump({
        "base": str(REPO_ROOT / "recipes" / "fast.yaml"),
        "stages": [*default_stages, "regex_filter"],
        "filters": {"regex_filter": {"pattern": r"(?i)\bcasino\b"}},
    }))
    out = tmp_path / "out"
    cc_curate("run", str(recipe), "--input", str(DEMO), "--output", str(out), "--workers", "1")

    removed = pq.read_table(out / "data" / "eng_Latn_removed" / "train").to_pylist()
    mine = [row for row in removed if row["filter_reason"] == REASON]
    assert len(mine) == 1 and "casino" in mine[0]["text"]
    assert dict(mine[0]["filter_signals"])["regex_matches"] >= 1
    kept = pq.read_table(out / "data" / "eng_Latn" / "train", columns=["text"])["text"].to_pylist()
    assert kept and not any("casino" in text.lower() for text in kept)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["filters"][REASON]["total"] == 1
    assert REASON in (out / "report" / "index.html").read_text()


def test_a_bad_plugin_key_is_one_clear_line(installed: None, tmp_path: Path) -> None:
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(yaml.safe_dump({"base": str(REPO_ROOT / "recipes" / "fast.yaml"),
                                      "filters": {"regex_filter": {"max_matches": "many"}}}))
    result = cc_curate("recipe", "validate", str(recipe), check=False)
    assert result.returncode == 2
    assert f"{recipe}: filters.regex_filter.max_matches: expected an integer" in result.stderr

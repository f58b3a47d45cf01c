"""The documented Python API: the example in docs/api.md runs as written, and extra stages given
as objects reach the Ray workers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import cc_curate
from cc_curate.recipe import RecipeError, recipe_from_dict

from .conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "api.md"


def test_the_documented_example_runs(tmp_path: Path) -> None:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    code = code.replace('"recipes/fast.yaml"', repr(str(REPO_ROOT / "recipes" / "fast.yaml")))
    code = code.replace('"demo/demo.warc.gz"', repr(str(REPO_ROOT / "demo" / "demo.warc.gz")))
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "'lang': 'eng_Latn', 'filter_reason': None" in result.stdout
    assert (tmp_path / "api-demo-output" / "stats.json").is_file()


def test_process_keeps_every_row_with_its_reason() -> None:
    table = cc_curate.process([{"id": "a", "html": "<html><body></body></html>"}, "Short."], "fast")
    rows = table.to_pylist()
    assert [r["filter_reason"] for r in rows] == ["extraction:empty", "language_score"]
    assert rows[0]["lang"] == "und_Zyyy" and rows[0]["text"] == ""


def test_a_recipe_mapping_is_validated_with_key_and_reason() -> None:
    with pytest.raises(RecipeError, match=r"lid\.threshold: expected a number in \[0, 1\]"):
        cc_curate.process(["x"], {"lid": {"threshold": 2}})
    with pytest.raises(RecipeError, match=r"stages: unknown stage 'nope'"):
        cc_curate.process(["x"], {"stages": ["nope"]})


@pytest.mark.slow
def test_run_with_an_extra_stage_object(tmp_path: Path, local_ray: None) -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class LongParams:
        enabled: bool = cc_curate.setting(True, "Remove long documents")
        max_words: int = cc_curate.setting(60, "Most words", low=1)

    class LongDocs(cc_curate.FilterStage):
        name = "long_docs"
        Params = LongParams
        signals = (cc_curate.Signal("words_seen", "max_words", "max"),)

        def filter(self, doc, params):
            doc.signals["words_seen"] = float(len(doc.words))
            return "long_docs:too_long" if len(doc.words) > params.max_words else None

    stages = [*recipe_from_dict({}).settings["stages"], "long_docs"]
    summary = cc_curate.run({"stages": stages, "extraction": {"backend": "resiliparse"}},
                            [str(REPO_ROOT / "demo" / "demo.warc.gz")], str(tmp_path / "out"), extra_stages=[LongDocs])
    assert summary.exit_code == 0
    reasons = pq.read_table(tmp_path / "out" / "data" / "eng_Latn_removed" / "train")["filter_reason"].to_pylist()
    assert "long_docs:too_long" in reasons

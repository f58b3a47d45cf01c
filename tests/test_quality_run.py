"""The ``quality`` stage through ``cc_curate.run`` on local Ray: a recipe lists it in ``stages``,
a fastText model trained here scores the demo WARC's documents, and a threshold removes some.

Staged rows (``_staging/``) carry ``quality_score`` and ``quality_score_{name}`` for every
document of a kept language, null for those removed before the stage (URL filter, failed
extraction, LID threshold, a language the run does not select); the rows under the threshold carry the reason naming the model, in
staging and in the published ``_removed`` partition. The published and ``_removed`` partitions
carry the score columns (English is published in several ranks, through the publish shuffle).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cc_curate
from cc_curate.output.schema import PRE_DEDUP_REASONS
from cc_curate.quality.examples import Source
from cc_curate.quality.train import HyperParameters, TrainOptions, train
from cc_curate.recipe import RecipeError, recipe_from_dict

from .conftest import REPO_ROOT
from .quality_data import main_content_examples

pytestmark = pytest.mark.slow

DEMO = REPO_ROOT / "demo" / "demo.warc.gz"
MIN_SCORE = 0.85  # the model scores the demo's kept documents from about 0.1 to 0.96


@pytest.fixture(scope="module")
def model(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small multilingual main-content-vs-boilerplate model (trained on the shared pages)."""
    root = tmp_path_factory.mktemp("quality_model")
    pos, neg = main_content_examples(shared_data, root)
    train(TrainOptions([Source(str(pos), label=1.0), Source(str(neg), label=0.0)], root / "boiler",
                       languages=("deu_Latn", "eng_Latn"), multilingual=True,
                       hyper=HyperParameters(dim=16, bucket=20_000)))
    return root / "boiler" / "multilingual.bin"


def test_cc_curate_run_scores_and_filters_with_the_quality_stage(model: Path, tmp_path: Path,
                                                                  local_ray: None) -> None:
    stages = [*recipe_from_dict({}).settings["stages"], "quality"]
    recipe = {"stages": stages, "extraction": {"backend": "resiliparse"},
              "languages": ["eng_Latn", "deu_Latn", "fra_Latn", "spa_Latn"],  # the others: removed by LID
              "runtime": {"docs_per_publish_task": 4},  # English publishes in several ranks
              "quality": {"models": {"boiler": {"path": str(model)}}, "min_score": MIN_SCORE}}
    out = tmp_path / "out"
    summary = cc_curate.run(recipe, [str(DEMO)], str(out))
    assert summary.exit_code == 0

    staged = pa.concat_tables([pq.read_table(p) for p in sorted((out / "_staging").rglob("*.parquet"))
                               if "quality_score" in pq.read_schema(p).names]).to_pylist()
    assert staged
    before = [r for r in staged if r["lang"] is None or r["filter_reason"] in PRE_DEDUP_REASONS]
    scored = [r for r in staged if r not in before]
    assert before and scored
    assert all(r["quality_score"] is None and r["quality_score_boiler"] is None for r in before)
    assert all(r["quality_score"] is not None and r["quality_score"] == r["quality_score_boiler"] for r in scored)
    assert all(r["quality_bucket"] is None for r in staged)  # set at publish

    removed = [r for r in scored if r["filter_reason"] == "quality:boiler"]
    assert removed and all(r["quality_score"] < MIN_SCORE for r in removed)
    assert any(r["quality_score"] >= MIN_SCORE and r["filter_reason"] is None for r in scored)
    published_removed = pa.concat_tables([pq.read_table(p) for p in (out / "data").glob("*_removed/train")])
    quality_removed = [r for r in published_removed.to_pylist() if r["filter_reason"] == "quality:boiler"]
    assert len(quality_removed) == len(removed) and all(r["quality_score"] < MIN_SCORE for r in quality_removed)
    kept = pq.read_table(out / "data" / "eng_Latn" / "train")
    assert kept.schema.names[-2:] == ["quality_score", "quality_score_boiler"]  # after FineWeb2's columns
    assert kept.num_rows and all(s is not None and s >= MIN_SCORE for s in kept["quality_score"].to_pylist())


def test_a_recipe_that_runs_quality_without_models_fails_on_load() -> None:
    stages = [*recipe_from_dict({}).settings["stages"], "quality"]
    with pytest.raises(RecipeError, match=r"^\(recipe given as a mapping\): quality: .*name at least one model"):
        recipe_from_dict({"stages": stages})
    with pytest.raises(RecipeError, match=r"quality\.min_score: expected a number"):
        recipe_from_dict({"stages": stages, "quality": {"min_score": "high"}})
    with pytest.raises(RecipeError, match=r"quality\.threshold: unknown key"):
        recipe_from_dict({"stages": stages, "quality": {"threshold": 0.5}})
    with pytest.raises(RecipeError, match=r"quality: quality\.models\.edu: unknown key\(s\) lang "):
        recipe_from_dict({"stages": stages, "quality": {"models": {"edu": {"path": "m.bin", "lang": "x"}}}})

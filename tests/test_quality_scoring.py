"""Quality scoring, percentile buckets and thresholds, with models trained here on real data."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import yaml
from click.testing import CliRunner

from cc_curate.cli import main
from cc_curate.errors import UserError
from cc_curate.quality.buckets import (
    Histogram,
    assign_buckets,
    combine,
    count_scores,
    merge_counts,
    plan_edges,
)
from cc_curate.quality.decisions import bucket_reasons, publish_decisions
from cc_curate.quality.examples import Source
from cc_curate.quality.scoring import ModelSpec, QualityScorer
from cc_curate.quality.stage import Quality, QualityParams
from cc_curate.recipe import load_recipe
from cc_curate.stages.base import BatchContext
from cc_curate.quality.train import HyperParameters, TrainOptions, train
from cc_curate.stages.tokenize import get_tokenizer

from .quality_data import main_content_examples

REPO_ROOT = Path(__file__).resolve().parents[1]
SMALL = HyperParameters(dim=16, bucket=20_000)


@dataclass
class Doc:
    """The fields of the stage protocol's shared Document that the quality stage uses."""

    lang: str | None
    words: list[str]
    filter_reason: str | None = None
    signals: dict[str, float] = field(default_factory=dict)
    columns: dict[str, Any] = field(default_factory=dict)

    def remove(self, reason: str) -> None:
        self.filter_reason = self.filter_reason or reason


@pytest.fixture(scope="module")
def data(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Per-language German/English models, a multilingual one, and held-out German segments."""
    root = tmp_path_factory.mktemp("quality")
    pos, neg = main_content_examples(shared_data, root)
    sources = [Source(str(pos), label=1.0), Source(str(neg), label=0.0)]
    train(TrainOptions(sources, root / "per_lang", languages=("deu_Latn", "eng_Latn"), hyper=SMALL))
    train(TrainOptions(sources, root / "multi", languages=("deu_Latn", "eng_Latn"), multilingual=True, hyper=SMALL))
    segments = [(json.loads(line)["text"], label) for path, label in ((pos, 1), (neg, 0))
                for line in path.read_text().splitlines() if json.loads(line)["lang"] == "deu_Latn"]
    return {"root": root, "segments": segments}


def _docs(texts: list[str], lang: str = "deu_Latn") -> list[Doc]:
    tokenizer = get_tokenizer(lang)
    return [Doc(lang, tokenizer.words(t)) for t in texts]


def _stage(root: Path, params_for: Any = None, **params: Any) -> Quality:
    models = {"edu": {"path": str(root / "per_lang" / "{lang}.bin"), "languages": ["deu_Latn", "eng_Latn"]},
              "multi": {"path": str(root / "multi" / "multilingual.bin"), "weight": 3.0}}
    return Quality(QualityParams(enabled=True, models=models, **params), params_for)


def test_stage_scores_documents_and_skips_the_removed(data):
    stage = _stage(data["root"])
    assert [f.name for f in stage.columns] == ["quality_score", "quality_score_edu", "quality_score_multi",
                                               "quality_bucket"]
    prose = ("Die Bundesregierung hat am Mittwoch einen Gesetzentwurf beschlossen, der die Rechte der Mieter "
             "deutlich stärkt und Vermieter zu mehr Transparenz verpflichtet.")
    docs = _docs([prose, "Impressum Datenschutz Kontakt"])
    url_removed = Doc("und_Zyyy", [], filter_reason="url_filter")
    lid_removed = Doc("deu_Latn", get_tokenizer("deu_Latn").words(prose), filter_reason="language_score")
    other_language = _docs(["Ceci est un texte en français sur la politique du logement."], "fra_Latn")[0]
    stage.process_batch([*docs, url_removed, lid_removed, other_language], BatchContext())

    good, boilerplate = docs
    for doc in docs:
        edu, multi = doc.columns["quality_score_edu"], doc.columns["quality_score_multi"]
        assert 0 <= edu <= 1 and 0 <= multi <= 1
        assert doc.columns["quality_score"] == pytest.approx((edu + 3 * multi) / 4)  # weighted mean
        assert doc.signals["quality_score"] == doc.columns["quality_score"]
        assert doc.columns["quality_bucket"] is None  # decided at publish
    assert good.columns["quality_score"] > 0.5 > boilerplate.columns["quality_score"]
    for doc in (url_removed, lid_removed):  # removed before the stage: not scored
        assert all(doc.columns[c] is None for c in stage.scorer.columns) and not doc.signals
    # The per-language model has no French file and does not apply; the multilingual one does.
    assert other_language.columns["quality_score_edu"] is None
    assert other_language.columns["quality_score"] == pytest.approx(other_language.columns["quality_score_multi"])


def test_score_thresholds_name_the_model(data):
    texts = ["Impressum Datenschutz Kontakt", "Die Regierung hat beschlossen, die Rechte der Mieter zu stärken."]
    docs = _docs(texts)
    _stage(data["root"], min_model_score={"edu": 0.5}).process_batch(docs, BatchContext())
    assert docs[0].filter_reason == "quality:edu" and docs[1].filter_reason is None
    docs = _docs(texts)
    _stage(data["root"], min_score=0.5).process_batch(docs, BatchContext())
    assert docs[0].filter_reason == "quality:edu+multi" and docs[1].filter_reason is None
    earlier = Doc("deu_Latn", docs[0].words, filter_reason="gopher_quality:min_words")
    _stage(data["root"], min_score=0.99).process_batch([earlier], BatchContext())
    assert earlier.filter_reason == "gopher_quality:min_words"  # the first reason stays


def test_a_language_file_can_switch_scoring_off(data):
    off = QualityParams(enabled=False, min_score=0.99)
    stage = _stage(data["root"], lambda lang: off if lang == "eng_Latn" else stage.params, min_score=0.99)
    german, english = _docs(["Impressum"])[0], _docs(["Imprint"], "eng_Latn")[0]
    stage.process_batch([german, english], BatchContext())
    assert german.columns["quality_score"] is not None and german.filter_reason == "quality:edu+multi"
    assert all(english.columns[c] is None for c in stage.scorer.columns) and english.filter_reason is None


def test_bad_model_entries_fail_with_their_key(tmp_path):
    with pytest.raises(UserError, match=r"quality.models.edu: a mapping with at least `path`"):
        Quality(QualityParams(enabled=True, models={"edu": "x.bin"}))
    with pytest.raises(UserError, match=r"quality.models.edu: unknown key\(s\) lang"):
        Quality(QualityParams(enabled=True, models={"edu": {"path": "x", "lang": "deu_Latn"}}))
    with pytest.raises(UserError, match=r"needs its list of languages"):
        Quality(QualityParams(enabled=True, models={"edu": {"path": "m/{lang}.bin"}}))
    stage = Quality(QualityParams(enabled=True, models={"edu": {"path": str(tmp_path / "missing.bin")}}))
    with pytest.raises(UserError, match="quality model file not found: .*missing.bin"):
        stage.process_batch(_docs(["Ein Text."]), BatchContext())


def test_buckets_over_tasks_equal_buckets_over_the_whole_language(data):
    """Real scores of held-out-sized German segments, counted in 1 or 4 tasks in any order."""
    segments = data["segments"]
    scorer = QualityScorer([ModelSpec("edu", str(data["root"] / "per_lang" / "deu_Latn.bin"))])
    tokenizer = get_tokenizer("deu_Latn")
    scores = np.array([scorer.score("deu_Latn", tokenizer.words(t))["quality_score_edu"] for t, _ in segments])
    labels = np.array([label for _, label in segments])
    table = pa.table({"lang": ["deu_Latn"] * len(scores), "quality_score_edu": scores})
    ranges = {"quality_score_edu": (0.0, 1.0)}

    whole = plan_edges(merge_counts([count_scores(table, ranges)]))
    order = list(range(table.num_rows))
    random.Random(7).shuffle(order)
    parts = [table.take(order[i::4]) for i in range(4)]
    split = plan_edges(merge_counts([count_scores(p, ranges) for p in reversed(parts)]))
    key = ("deu_Latn", "quality_score_edu")
    assert np.array_equal(whole[key].firsts, split[key].firsts)
    buckets = np.asarray(assign_buckets(table, split, ["quality_score_edu"]).to_pylist())

    # The exact percentile rule: floor(20 * documents in lower bins / all), ties sharing a bin.
    bins = np.floor(scores * (1 << 20)).clip(0, (1 << 20) - 1)
    below = np.array([(bins < b).sum() for b in bins])
    assert np.array_equal(buckets, (20 * below) // len(scores))
    sizes = np.bincount(buckets, minlength=20)
    assert buckets.min() == 0 and buckets.max() == 19 and sizes.max() <= 2 * len(scores) / 20
    # The buckets mean something: main content is much more common at the top than at the bottom.
    assert labels[buckets >= 15].mean() > labels[buckets < 5].mean() + 0.4


def test_histograms_stay_bounded_and_merge_in_any_order():
    rng = np.random.default_rng(0)
    scores = rng.beta(8, 1, 200_000)  # most scores near 1: where a fixed grid would lose detail
    h = Histogram.of(scores, 0.0, 1.0, resolution=1024)
    assert h.bins.size <= 1024 and h.total == scores.size
    a, b = Histogram.of(scores[:1000], 0, 1), Histogram.of(scores[1000:], 0, 1)
    one = Histogram.of(scores, 0, 1)
    for merged in (a.merge(b), b.merge(a)):
        assert np.array_equal(merged.bins, one.bins) and np.array_equal(merged.counts, one.counts)
    buckets = one.edges(20).assign(scores)
    assert abs(np.bincount(buckets).max() - scores.size / 20) <= 20  # equal shares despite the skew
    with pytest.raises(ValueError, match="cannot merge"):
        one.merge(Histogram.of(scores, 0, 5))


def test_ensemble_rules_and_null_buckets():
    per_model = np.array([[3, 10, -1, -1], [6, 19, 4, -1]])
    assert combine(per_model, "rank_mean") == [4, 14, 4, None]
    assert combine(per_model, "rank_max") == [6, 19, 4, None]
    assert combine(per_model, "rank_mean", weights=[3, 1]) == [3, 12, 4, None]
    table = pa.table({"lang": ["deu_Latn", "deu_Latn", "eng_Latn"],
                      "quality_score_a": pa.array([0.1, None, 0.7]), "quality_score": pa.array([0.1, None, 0.7])})
    edges = plan_edges(merge_counts([count_scores(table, {"quality_score_a": (0, 1), "quality_score": (0, 1)})]))
    assert assign_buckets(table, edges, ["quality_score_a"]).to_pylist() == [0, None, 0]
    assert assign_buckets(table, edges, ["quality_score_a"], rule="score_mean").to_pylist() == [0, None, 0]
    assert bucket_reasons([0, None, 7], 5, ["a", "", "a"]) == ["quality_bucket:a", None, None]
    assert bucket_reasons([0, None, 7], -1, ["a", "", "a"]) == [None, None, None]


def test_publish_decisions_bucket_and_name_the_models_that_scored():
    """Two models, German scored by both, English by b only; bucket rule min_bucket 1 of 2 buckets."""
    table = pa.table({"lang": ["deu_Latn"] * 4 + ["eng_Latn"] * 2,
                      "quality_score_a": pa.array([0.1, 0.2, 0.8, 0.9, None, None]),
                      "quality_score_b": pa.array([0.2, 0.1, 0.9, 0.7, 0.3, 0.6])})
    ranges = {"quality_score_a": (0.0, 1.0), "quality_score_b": (0.0, 1.0)}
    edges = plan_edges(merge_counts([count_scores(table.slice(0, 3), ranges), count_scores(table.slice(3), ranges)]),
                       buckets=2)
    buckets, reasons = publish_decisions(table, edges, ["a", "b"], rule="rank_mean", min_bucket=1)
    assert buckets.to_pylist() == [0, 0, 1, 1, 0, 1]
    assert reasons == ["quality_bucket:a+b", "quality_bucket:a+b", None, None, "quality_bucket:b", None]


def test_calibrate_proposes_quality_thresholds_for_a_keep_rate(data, tmp_path):
    corpus = tmp_path / "de.jsonl"
    texts = [t for t, _ in data["segments"][::7]]
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    model = data["root"] / "per_lang" / "{lang}.bin"
    result = CliRunner().invoke(main, [
        "calibrate", "--input", str(corpus), "-l", "deu_Latn", "--out", str(tmp_path / "langs"),
        "--recipe", str(REPO_ROOT / "recipes" / "fineweb2.yaml"),
        "--quality-model", f"edu={model}", "--quality-keep", "0.7"])
    assert result.exit_code == 0, result.output
    layer = yaml.safe_load((tmp_path / "langs" / "deu_Latn.yaml").read_text())["quality"]
    scorer = QualityScorer([ModelSpec("edu", str(model), ("deu_Latn",))])
    tokenizer = get_tokenizer("deu_Latn")
    scores = np.array([scorer.score("deu_Latn", tokenizer.words(t))["quality_score"] for t in texts])
    assert 0.7 <= np.mean(scores >= layer["min_score"]) < 0.72
    buckets = Histogram.of(scores, 0, 1).edges(20).assign(scores)
    assert np.mean(buckets >= layer["min_bucket"]) >= 0.7 > np.mean(buckets >= layer["min_bucket"] + 1)

    # The written language file is a valid layer of a recipe that runs the stage.
    preset = tmp_path / "quality.yaml"
    stages = [*yaml.safe_load((REPO_ROOT / "recipes" / "defaults.yaml").read_text())["stages"], "quality"]
    preset.write_text(yaml.safe_dump({
        "base": str(REPO_ROOT / "recipes" / "fineweb2.yaml"), "language_overrides": "langs", "stages": stages,
        "quality": {"models": {"edu": {"path": str(model), "languages": ["deu_Latn"]}}}}))
    validated = CliRunner().invoke(main, ["recipe", "validate", str(preset)])
    assert validated.exit_code == 0, validated.output
    assert load_recipe(preset).params(Quality, "deu_Latn").min_score == layer["min_score"]


def test_a_model_reads_its_first_max_words_words(data):
    path = str(data["root"] / "per_lang" / "deu_Latn.bin")
    words = get_tokenizer("deu_Latn").words("Impressum Datenschutz Kontakt. " + "Die Regierung hat beschlossen. " * 50)
    head = QualityScorer([ModelSpec("a", path, max_words=3)]).score("deu_Latn", words)["quality_score"]
    assert head == QualityScorer([ModelSpec("a", path, max_words=3)]).score("deu_Latn", words[:3])["quality_score"]
    assert head != QualityScorer([ModelSpec("a", path, max_words=None)]).score("deu_Latn", words)["quality_score"]
    card = json.loads((data["root"] / "per_lang" / "deu_Latn.card.json").read_text())
    assert card["max_words"] == 512  # the default, recorded for the recipe entry to match
    with pytest.raises(UserError, match="quality.models.a.max_words: a positive integer"):
        Quality(QualityParams(enabled=True, models={"a": {"path": path, "max_words": 0}}))


def test_text_with_lone_surrogates_is_scored(data):
    """A lossy charset decode can leave lone surrogates, which C++ cannot take as UTF-8."""
    scorer = QualityScorer([ModelSpec("edu", str(data["root"] / "per_lang" / "deu_Latn.bin"))])
    score = scorer.score("deu_Latn", ["Die", "Regierung", "\udcff", "beschließt"])["quality_score"]
    assert score == scorer.score("deu_Latn", ["Die", "Regierung", "?", "beschließt"])["quality_score"]


def test_models_by_url_download_once_into_the_cache(data, tmp_path):
    local = data["root"] / "per_lang" / "deu_Latn.bin"
    url = QualityScorer([ModelSpec("edu", local.as_uri())], cache_dir=tmp_path / "cache")
    plain = QualityScorer([ModelSpec("edu", str(local))])
    words = get_tokenizer("deu_Latn").words("Die Regierung hat das Gesetz beschlossen.")
    assert url.score("deu_Latn", words) == plain.score("deu_Latn", words)
    url.score("deu_Latn", words)
    assert len(url._models) == 1 and [p.name.endswith("deu_Latn.bin") for p in (tmp_path / "cache").iterdir()] == [True]

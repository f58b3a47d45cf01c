"""Calibration: thresholds from data, written as recipe files that load and run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from cc_curate.calibrate import Sample, collect, lid_threshold, propose, removal_rates
from cc_curate.output.staging import commit_shard
from cc_curate.output.storage import Storage
from cc_curate.recipe import load_recipe
from cc_curate.sources import RawRecord
from cc_curate.stages.pipeline import DocumentPipeline

from .conftest import REPO_ROOT
from .test_pipeline import ENGLISH

FINEWEB2 = REPO_ROOT / "recipes" / "fineweb2.yaml"
GERMAN = ("Alle Menschen sind frei und gleich an Würde und Rechten geboren. Sie sind mit Vernunft und "
          "Gewissen begabt und sollen einander im Geist der Brüderlichkeit begegnen. Jeder hat Anspruch auf "
          "die in dieser Erklärung verkündeten Rechte und Freiheiten ohne irgendeinen Unterschied, etwa nach "
          "Rasse, Hautfarbe, Geschlecht, Sprache, Religion, politischer oder sonstiger Anschauung.")


def _run_output(tmp_path: Path) -> Path:
    """A committed shard made by the real pipeline (no Ray needed to stage rows)."""
    recipe = load_recipe(FINEWEB2)
    texts = [ENGLISH, ENGLISH.replace("library", "museum"), GERMAN, GERMAN + " Niemand darf gefoltert werden.",
             GERMAN.replace("Würde", "Ehre") + "\n" + "Menü\n" * 5]
    records = [RawRecord(id=f"<urn:uuid:{i}>", url=f"https://example.org/{i}", date="2024-01-01T00:00:00Z",
                         html=None, text=t, charset=None) for i, t in enumerate(texts)]
    result = DocumentPipeline(recipe).process(records, dump="d", file_path="f")
    out = tmp_path / "run"
    commit_shard(Storage(str(out)), "shard-1", "f", [result.table], [], result.counters)
    return out


def test_lid_threshold_is_fineweb2s_rule() -> None:
    scores = np.array([0.95, 0.9, 0.85, 0.4])
    assert lid_threshold(scores) == round(float(np.clip(np.median(scores) - np.std(scores), 0.3, 0.9)), 3)
    assert lid_threshold(np.array([0.99, 0.99])) == 0.9
    assert lid_threshold(np.array([0.1, 0.2])) == 0.3


def test_tail_method_removes_the_chosen_share() -> None:
    values = np.linspace(0, 1, 101)
    sample = Sample({"dup_line_frac": values, "line_punct_ratio": values}, np.array([0.9]), 101, ["x"])
    filters = load_recipe(FINEWEB2).settings["filters"]
    layer = propose(sample, filters, "tail", tail=0.1)
    assert layer["filters"]["gopher_repetition"]["dup_line_frac"] == 0.9  # max-bounded: upper tail
    assert layer["filters"]["fineweb_quality"]["line_punct_thr"] == 0.1  # min-bounded: lower tail
    proposed = {"gopher_repetition": {**filters["gopher_repetition"], **layer["filters"]["gopher_repetition"]}}
    rates = removal_rates(Sample({"dup_line_frac": values}, np.array([]), 101, []), proposed)
    assert rates["gopher_repetition.dup_line_frac"] <= 0.1


def test_english_rate_matches_the_english_removal_share() -> None:
    english = Sample({"dup_line_frac": np.linspace(0, 0.5, 100)}, np.array([0.9]), 100, ["en"])
    filters = load_recipe(FINEWEB2).settings["filters"]  # dup_line_frac 0.3 removes 40% of that English
    rates = removal_rates(english, filters)
    other = Sample({"dup_line_frac": np.linspace(0, 1, 1001)}, np.array([0.8]), 1001, ["xx"])
    layer = propose(other, filters, "english-rate", english_rates=rates)
    assert abs(layer["filters"]["gopher_repetition"]["dup_line_frac"] - (1 - rates["gopher_repetition.dup_line_frac"])) < 0.01


def test_calibrate_command_writes_recipes_that_load(tmp_path: Path) -> None:
    run_output = _run_output(tmp_path)
    corpus = tmp_path / "de.jsonl"
    corpus.write_text("".join(json.dumps({"text": GERMAN + f" Artikel {i}."}) + "\n" for i in range(5)))
    langs = tmp_path / "langs"
    for args in (["--input", str(run_output), "-l", "deu_Latn", "--method", "english-rate"],
                 ["--input", str(corpus), "-l", "deu_Latn", "--method", "tail", "--tail", "0.1"]):
        result = subprocess.run([sys.executable, "-m", "cc_curate.cli", "calibrate", *args, "--out", str(langs)],
                                capture_output=True, text=True, cwd=REPO_ROOT)
        assert result.returncode == 0, result.stderr
        text = (langs / "deu_Latn.yaml").read_text()
        assert "# method:" in text and "# sample:" in text
    preset = tmp_path / "preset.yaml"
    preset.write_text(yaml.safe_dump({"base": str(FINEWEB2), "language_overrides": "langs/"}))
    merged = load_recipe(preset).for_language("deu_Latn")
    assert 0.3 <= merged["lid"]["threshold"] <= 0.9
    valid = subprocess.run([sys.executable, "-m", "cc_curate.cli", "recipe", "validate", str(preset)],
                           capture_output=True, text=True, cwd=REPO_ROOT)
    assert valid.returncode == 0, valid.stderr


def test_collect_reads_run_outputs(tmp_path: Path) -> None:
    samples = collect([str(_run_output(tmp_path))], ["deu_Latn", "eng_Latn"], load_recipe(FINEWEB2))
    assert samples["deu_Latn"].documents == 3 and samples["eng_Latn"].documents == 2
    assert "dup_line_frac" in samples["deu_Latn"].signals


def test_lid_threshold_counts_only_documents_labelled_as_the_language(tmp_path: Path) -> None:
    """A reference corpus's documents that the model labels as another language are not part of the
    language's score distribution (FineWeb2's rule). Before the fix they counted as score 0 and
    dragged the threshold to the 0.3 floor; this test failed then."""
    assert lid_threshold(np.array([0.95, 0.9, np.nan, np.nan])) == lid_threshold(np.array([0.95, 0.9]))
    german = [GERMAN + f" Artikel {i}." for i in range(4)]
    corpus = tmp_path / "de.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in german + [ENGLISH] * 4))
    recipe = load_recipe(FINEWEB2)
    sample = collect([str(corpus)], ["deu_Latn"], recipe)["deu_Latn"]
    german_only = tmp_path / "de-only.jsonl"
    german_only.write_text("".join(json.dumps({"text": t}) + "\n" for t in german))
    alone = collect([str(german_only)], ["deu_Latn"], recipe)["deu_Latn"]
    assert lid_threshold(sample.scores) == lid_threshold(alone.scores) > 0.3


def test_lid_threshold_is_rederived_for_the_recipes_model(tmp_path: Path) -> None:
    """calibrate scores a reference corpus with the recipe's lid.model, not lid.176: a threshold
    FineWeb2 set on GlotLID's scores can be re-derived for whatever model a run uses."""
    from cc_curate.stages.lid import LanguageIdentifier

    from .fasttext_model import write_model

    model = write_model(tmp_path / "tiny.bin", {"Menschen": [3.0, 0.0], "und": [0.0, 0.0]},
                        {"__label__de": [1.0, 0.0], "__label__en": [0.0, 0.0]})
    texts = [" ".join(["Menschen"] * k + ["und"] * (8 - k)) for k in range(1, 9)]
    corpus = tmp_path / "de.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    preset = tmp_path / "tiny.yaml"
    preset.write_text(yaml.safe_dump({"base": str(FINEWEB2), "lid": {"model": str(model)}}))
    recipe = load_recipe(preset)
    sample = collect([str(corpus)], ["deu_Latn"], recipe)["deu_Latn"]
    scores = np.array([r.score for r in LanguageIdentifier(recipe.settings["lid"]).predict(texts)])
    assert sample.scores.tolist() == scores.tolist()  # the tiny model's scores, all labelled deu_Latn
    assert lid_threshold(sample.scores) == round(float(np.clip(np.median(scores) - np.std(scores), 0.3, 0.9)), 3)
    lid176 = collect([str(corpus)], ["deu_Latn"], load_recipe(FINEWEB2))["deu_Latn"]
    assert not np.array_equal(np.nan_to_num(lid176.scores), sample.scores)

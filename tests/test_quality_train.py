"""`cc-curate quality train` on real labelled data: held-out quality, cards, determinism, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cc_curate.cli import main
from cc_curate.quality.scoring import QualityModel
from cc_curate.quality.text import text_input

from .quality_data import main_content_examples, udhr_paragraphs

SMALL = ["--bucket", "20000", "--dim", "16"]  # small files, same behaviour


@pytest.fixture(scope="module")
def examples(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return main_content_examples(shared_data, tmp_path_factory.mktemp("examples"))


def _train(*args: str) -> None:
    result = CliRunner().invoke(main, ["quality", "train", *args])
    assert result.exit_code == 0, result.output


def test_per_language_models_separate_main_content_from_boilerplate(examples, tmp_path):
    pos, neg = examples
    _train("--positive", str(pos), "--negative", str(neg), "-l", "deu_Latn", "-l", "eng_Latn",
           "--out", str(tmp_path / "a"), *SMALL)
    for lang, bar in (("deu_Latn", 0.78), ("eng_Latn", 0.7)):
        card = json.loads((tmp_path / "a" / f"{lang}.card.json").read_text())
        metrics = card["metrics"]["all"]
        assert metrics["roc_auc"] > bar, (lang, metrics)
        assert 0 < metrics["precision"] <= 1 and 0 < metrics["recall"] <= 1 and metrics["f1"] > 0.6
        assert set(metrics["label_balance"]) == {"0", "1"}
        assert card["kind"] == "binary" and card["languages"] == [lang]
        assert card["counts"]["holdout"] == metrics["documents"] and card["counts"]["train"] > 3 * metrics["documents"]
        assert {s["path"] for s in card["sources"]} == {str(pos), str(neg)}
        assert card["hyper_parameters"]["dim"] == 16 and card["versions"]["cc_curate"]
        markdown = (tmp_path / "a" / f"{lang}.card.md").read_text()
        assert f"| all | {metrics['documents']:,} |" in markdown and str(metrics["roc_auc"]) in markdown

    # The inference library (fasttext-predict) reads the file: boilerplate scores low, prose high.
    model = QualityModel(tmp_path / "a" / "deu_Latn.bin")
    assert model.value_range == (0.0, 1.0)
    prose = "Die Bundesregierung hat am Mittwoch einen Gesetzentwurf beschlossen, der die Rechte der Mieter stärkt."
    assert model.score_line(text_input(prose, "deu_Latn")) > model.score_line(text_input("Impressum", "deu_Latn"))

    # Same examples, seed and settings: byte-identical model and card.
    _train("--positive", str(pos), "--negative", str(neg), "-l", "deu_Latn", "--out", str(tmp_path / "b"), *SMALL)
    assert (tmp_path / "a" / "deu_Latn.bin").read_bytes() == (tmp_path / "b" / "deu_Latn.bin").read_bytes()
    assert (tmp_path / "a" / "deu_Latn.card.json").read_text() == (tmp_path / "b" / "deu_Latn.card.json").read_text()


def test_multilingual_model_reports_each_language(examples, tmp_path):
    pos, neg = examples
    languages = ["deu_Latn", "eng_Latn", "spa_Latn", "fra_Latn"]
    _train("--positive", str(pos), "--negative", str(neg), *[a for lang in languages for a in ("-l", lang)],
           "--multilingual", "--out", str(tmp_path), *SMALL)
    card = json.loads((tmp_path / "multilingual.card.json").read_text())
    assert sorted(card["languages"]) == sorted(languages)
    assert set(card["metrics"]) == {"all", *languages}
    assert card["metrics"]["all"]["roc_auc"] > 0.78
    assert sum(card["metrics"][lang]["documents"] for lang in languages) == card["metrics"]["all"]["documents"]


def test_graded_labels_score_the_expected_grade(examples, shared_data, tmp_path):
    """Grades 0 (boilerplate), 1 (main-text segment), 2 (a UDHR paragraph), German only."""
    pos, neg = examples
    rows = [{"text": json.loads(line)["text"], "grade": g, "lang": json.loads(line)["lang"]}
            for path, g in ((neg, 0), (pos, 1)) for line in path.read_text().splitlines()]
    rows += [{"text": p, "grade": 2, "lang": "deu_Latn"} for code in ("deu_1996", "deu_1901")
             for p in udhr_paragraphs(shared_data, code)]
    graded = tmp_path / "graded.jsonl"
    graded.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _train("--labelled", str(graded), "--label-column", "grade", "-l", "deu_Latn", "--positive-threshold", "1",
           "--out", str(tmp_path / "m"), *SMALL)
    card = json.loads((tmp_path / "m" / "deu_Latn.card.json").read_text())
    assert card["kind"] == "graded" and card["labels"] == ["0", "1", "2"]
    metrics = card["metrics"]["all"]
    assert metrics["roc_auc"] > 0.78 and metrics["accuracy"] > 0.6 and set(metrics["label_balance"]) == {"0", "1", "2"}
    model = QualityModel(tmp_path / "m" / "deu_Latn.bin")
    assert model.value_range == (0.0, 2.0)
    article = udhr_paragraphs(shared_data, "deu_1996")[5]
    assert 1.0 < model.score_line(text_input(article, "deu_Latn")) <= 2.0


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ('{"body": "x", "lang": "deu_Latn"}\n', ["--positive", "{f}", "--negative", "{f}"], "line 1: key 'text' missing"),
        ('{"text": "x"}\n', ["--positive", "{f}", "--negative", "{f}"], "row 1: no language"),
        ('{"text": "x", "lang": "deu_Latn", "label": "good"}\n', ["--labelled", "{f}"], "a numeric label is required"),
        ('{"text": "x", "lang": "deu_Latn", "label": 1}\n', ["--labelled", "{f}"], "a model needs at least two labels"),
        ('not json\n', ["--positive", "{f}", "--negative", "{f}"], "line 1: not JSON"),
    ],
)
def test_bad_examples_fail_with_one_line(tmp_path, content, args, message):
    source = tmp_path / "examples.jsonl"
    source.write_text(content)
    result = CliRunner().invoke(main, ["quality", "train", *[a.format(f=source) for a in args],
                                       "--out", str(tmp_path / "m")])
    assert result.exit_code == 2, result.output
    assert message in result.output and str(source) in result.output and "Traceback" not in result.output

"""`cc-curate mix` on real local Ray: exact selection (the same set as a single-process sort),
budgets, byte-identical output with 1 and 2 workers, clear errors, and the dry run."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cc_curate.errors import UserError
from cc_curate.mix import sampling
from cc_curate.mix.budgets import MixSpec
from cc_curate.mix.inputs import MixInputError
from cc_curate.mix.run import estimate, mix

from .conftest import REPO_ROOT

LANGS = {"aaa_Latn": (3, 300), "bbb_Latn": (1, 40)}  # files, documents per file (per release)


def write_release(root: Path, release: int, with_tokens: bool = True) -> Path:
    """A published release: data/{lang}/train/*.parquet with scores, token counts and copies."""
    rng = np.random.default_rng(release)
    for lang, (files, docs) in LANGS.items():
        for f in range(files):
            n = docs
            ids = [f"<urn:uuid:{release}-{lang}-{f}-{i:05d}>" for i in range(n)]
            tokens = rng.integers(5, 400, n)
            columns = {
                "text": [" ".join(["w"] * int(t)) for t in tokens],
                "id": ids,
                "language_score": rng.uniform(0.6, 1.0, n),
                "quality_score": np.round(rng.normal(0.0, 1.0, n), 3),
                "rehydration_copies": rng.choice([1, 1, 1, 2, 3], n),
            }
            if with_tokens:
                columns["token_count"] = tokens
            folder = root / "data" / lang / "train"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table(columns), folder / f"000_{f:05d}.parquet", row_group_size=64)
    return root


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    base = tmp_path_factory.mktemp("releases")
    return [str(write_release(base / f"r{i}", i)) for i in range(2)]


def read_ids(out: Path, lang: str) -> dict[str, int]:
    """Rows per document id in the mix's files of ``lang``."""
    counts: dict[str, int] = {}
    for path in sorted((out / "data" / lang / "train").glob("*.parquet")):
        for i in pq.read_table(path, columns=["id"])["id"].to_pylist():
            counts[i] = counts.get(i, 0) + 1
    return counts


def reference(releases: list[str], lang: str, spec: MixSpec, passes: int, remainder: int) -> dict[str, int]:
    """The mix of one language by a single process: every unit sorted, the prefix reaching the remainder."""
    tables = [pq.read_table(p) for r in releases for p in sorted((Path(r) / "data" / lang / "train").glob("*.parquet"))]
    ids = [i for t in tables for i in t["id"].to_pylist()]
    scores = np.concatenate([t[spec.score].to_numpy() for t in tables])
    copies = np.concatenate([t["rehydration_copies"].to_numpy() for t in tables])
    cost = np.concatenate([t["token_count"].to_numpy() for t in tables])
    doc, copy = sampling.expand_units(copies)
    hashes = sampling.unit_hashes(sampling.document_hashes(ids, spec.seed)[doc], copy)
    hi, lo = sampling.order_words(sampling.keys(scores[doc], spec.tau, hashes), hashes)
    order = np.lexsort((copy, doc, lo, hi))
    taken = order[: int(np.argmax(np.cumsum(cost[doc][order]) >= remainder)) + 1] if remainder else []
    rows = passes * copies + np.bincount(doc[taken], minlength=len(ids))
    return {i: int(n) for i, n in zip(ids, rows) if n}


def test_mix_is_the_single_process_selection(releases: list[str], tmp_path: Path, local_ray: None) -> None:
    spec = MixSpec(unit="tokens", languages={"aaa_Latn": 100_000, "bbb_Latn": 50_000}, score="quality_score",
                   tau=0.5, seed=11, max_epochs=4)
    out = tmp_path / "mix"
    summary = mix(releases, str(out), spec, workers=2, candidates_limit=16)  # forces radix rounds
    aaa, bbb = summary["languages"]["aaa_Latn"], summary["languages"]["bbb_Latn"]
    assert aaa["radix_rounds"] >= 2 and aaa["whole_passes"] == 0
    assert bbb["whole_passes"] >= 1 and bbb["sampled"] > 0  # upsampled: passes plus a sample
    for lang, entry in summary["languages"].items():
        assert read_ids(out, lang) == reference(releases, lang, spec, entry["whole_passes"], entry["sampled"])
        assert entry["met"] and abs(entry["achieved"] - entry["target"]) <= 0.01 * entry["target"]
    # Sampled by quality: the mean score of the rows is above the input's.
    assert aaa["score"]["after"]["mean"] > aaa["score"]["before"]["mean"] + 0.3
    assert not (out / "_mix").exists()
    table = pq.read_table(next((out / "data" / "aaa_Latn" / "train").glob("*.parquet")))
    assert "rehydration_copies" not in table.column_names and "token_count" in table.column_names


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_with_one_and_two_workers(releases: list[str], tmp_path: Path, local_ray: None) -> None:
    spec = MixSpec(unit="tokens", total=120_000, alpha=0.3, max_epochs=3, score="quality_score", tau=0.3, seed=5)
    one, two = tmp_path / "one", tmp_path / "two"
    first = mix(releases, str(one), spec, workers=1, candidates_limit=50)
    mix(releases, str(two), spec, workers=2, candidates_limit=50)
    assert digest(one) == digest(two)
    with pytest.raises(UserError, match="already holds a release"):  # never mixed into an existing release
        mix(releases, str(one), spec, workers=1)
    assert len(digest(one)) > 4 and first["total"]["achieved"] >= 120_000
    other = mix(releases, str(tmp_path / "other"), MixSpec(**{**spec.as_dict(), "seed": 6}), workers=2)
    assert read_ids(tmp_path / "other", "aaa_Latn") != read_ids(one, "aaa_Latn")
    assert other["parameters"]["seed"] == 6


def test_budgets_met_or_shortfall_reported(releases: list[str], tmp_path: Path, local_ray: None) -> None:
    spec = MixSpec(unit="documents", languages={"aaa_Latn": 1000, "bbb_Latn": 1000}, max_epochs=2, score=None,
                   tau=None)
    summary = mix(releases, str(tmp_path / "mix"), spec, workers=2)
    aaa, bbb = summary["languages"]["aaa_Latn"], summary["languages"]["bbb_Latn"]
    assert aaa["achieved"] == 1000 and aaa["met"] and aaa["rows"] == 1000  # documents: exact
    assert bbb["target"] == 160 and bbb["shortfall"] == 840 and bbb["epochs_achieved"] == 2.0
    card = (tmp_path / "mix" / "README.md").read_text()
    assert "bbb_Latn: shortfall of 840 documents (epoch cap 2)" in card


def test_missing_columns_are_one_line_errors(releases: list[str], tmp_path: Path, local_ray: None) -> None:
    no_tokens = str(write_release(tmp_path / "plain", 9, with_tokens=False))
    with pytest.raises(MixInputError, match=r"000_00000.parquet: no token_count column"):
        mix([no_tokens], str(tmp_path / "a"), MixSpec(unit="tokens", total=1000))
    with pytest.raises(MixInputError, match=r"no column 'quality' to score by \(numeric columns: .*quality_score"):
        estimate(releases, MixSpec(unit="documents", total=10, score="quality", tau=1.0), [1.0])
    with pytest.raises(MixInputError, match=r"budget for zzz_Latn: no such language in the inputs \(found: aaa_Latn"):
        estimate(releases, MixSpec(unit="documents", languages={"zzz_Latn": 5}), [None])
    assert not (tmp_path / "a" / "data").exists()


def test_unit_is_tokens_when_counted_else_words_by_the_tokenizer(releases: list[str], tmp_path: Path,
                                                                   local_ray: None) -> None:
    spec, _ = estimate(releases, MixSpec(total=1000), [None])
    assert spec.unit == "tokens"
    plain = write_release(tmp_path / "plain", 9, with_tokens=False)
    spec, rows = estimate([str(plain)], MixSpec(total=1000), [None])
    words = sum(len(t.split()) for p in (plain / "data" / "aaa_Latn" / "train").glob("*.parquet")
                for t in pq.read_table(p, columns=["text"])["text"].to_pylist())
    row = next(r for r in rows if r["language"] == "aaa_Latn")
    assert spec.unit == "words" and row["available"] == words and row["words_by"] == "the language's word tokenizer"


def test_dry_run_prints_targets_and_expected_means(releases: list[str], tmp_path: Path) -> None:
    budget = tmp_path / "budget.yaml"
    budget.write_text("unit: tokens\ntotal: 100K\nalpha: 0.5\nmax_epochs: 2\nscore: quality_score\n")
    chart = tmp_path / "tau.png"
    run = subprocess.run(
        [sys.executable, "-m", "cc_curate.cli", "mix", *releases, "--budget", str(budget), "--dry-run",
         "--tau", "0.2", "--tau", "5", "--chart", str(chart), "--workers", "2"],
        capture_output=True, text=True, cwd=REPO_ROOT, env={"COLUMNS": "200", **_env()}, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    line = next(row for row in run.stdout.splitlines() if "aaa_Latn" in row)
    cells = [c.strip() for c in line.strip("│ ").split("│")]
    available, target, tau_small, tau_large = (float(cells[1].replace(",", "")), float(cells[3].replace(",", "")),
                                                float(cells[7]), float(cells[8]))
    assert available > 100_000 and 0 < target < available
    assert tau_small > tau_large  # the mean score falls as tau grows
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = subprocess.run([sys.executable, "-m", "cc_curate.cli", "mix", *releases, "--dry-run", "--alpha", "1"],
                         capture_output=True, text=True, cwd=REPO_ROOT, env=_env(), timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("cc-curate: options: no budget")


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


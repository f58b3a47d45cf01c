"""Rehydration weights: FineWeb2's published weights are reproduced from its distributions."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest

from cc_curate.dedup.rehydration import (
    SIMPLE_WEIGHTS,
    compute_weights,
    copies_for,
    distribution_from_documents,
    distributions_from_documents,
    load_distributions,
    rehydration_weights_command,
    weights_from_distribution,
    weights_from_table,
)

# (max copies, language) pairs whose published weights differ from ours by an exact-half
# rounding tie. None: with FineWeb2's operation order every value matches.
ROUNDING_TIES: frozenset[tuple[int, str]] = frozenset()


@pytest.fixture(scope="module")
def rehydration_dir(shared_data):
    return shared_data / "fineweb2_reference" / "misc" / "rehydration"


@pytest.fixture(scope="module")
def distributions(rehydration_dir):
    return load_distributions(str(rehydration_dir / "distributions"))


@pytest.mark.parametrize("max_copies", range(3, 11))
def test_published_weights_reproduced_for_every_language(rehydration_dir, distributions, max_copies):
    published = json.loads((rehydration_dir / "weights" / f"up_to_{max_copies:02d}_reps.json").read_text())
    computed = compute_weights(distributions, max_copies)
    assert set(computed) == set(published) and len(published) == 1856
    differing = {
        (max_copies, lang)
        for lang in published
        if computed[lang] != {int(size): copies for size, copies in published[lang].items()}
    }
    assert differing == {tie for tie in ROUNDING_TIES if tie[0] == max_copies}


def test_command_writes_fineweb2_json(rehydration_dir):
    published = json.loads((rehydration_dir / "weights" / "up_to_10_reps.json").read_text())
    computed = rehydration_weights_command(str(rehydration_dir / "distributions"), 10)
    assert json.loads(json.dumps(computed)) == published
    with pytest.raises(ValueError):
        rehydration_weights_command(str(rehydration_dir / "distributions"), 0)


def test_resulting_sizes_match_published(rehydration_dir, distributions):
    """Sum over sizes of post-filtering documents x copies = FineWeb2's resulting_ds_sizes."""
    published = json.loads((rehydration_dir / "weights" / "resulting_ds_sizes.json").read_text())
    for lang in ["rus_Cyrl", "deu_Latn", "aai_Latn", "maw_Latn", "kxw_Latn"]:
        dist = distributions[lang]
        weights = weights_from_distribution(dist, 5)
        sizes = dist["cluster_sizes"] + [dist["tail_threshold"]]
        counts = dist["cluster_post_filtering_doc_counts"] + [dist["tail_post_filtering_doc_counts"]]
        total = sum(count * copies_for(size, weights) for size, count in zip(sizes, counts))
        assert total == published["5"][lang], lang


def test_simple_rule_table():
    expected = {1: 1, 2: 2, 3: 3, 4: 3, 5: 5, 99: 5, 100: 8, 999: 8, 1000: 1, 50_000: 1}
    assert {size: copies_for(size, SIMPLE_WEIGHTS) for size in expected} == expected


def test_copies_for_reads_json_keys_and_defaults_to_one():
    weights = {"3": 2, "10": 4, "40": 1}
    assert [copies_for(s, weights) for s in (1, 2, 3, 9, 10, 39, 40, 10_000)] == [1, 1, 2, 2, 4, 4, 1, 1]
    assert copies_for(7, {}) == 1


def _documents_of(dist: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """Documents reproducing a distribution, when its counts pin them down exactly."""
    sizes = dist["cluster_sizes"] + [dist["tail_threshold"]]
    rates = dist["cluster_removal_rates"] + [dist["tail_removal_rate"]]
    kept = dist["cluster_post_filtering_doc_counts"] + [dist["tail_post_filtering_doc_counts"]]
    if max(rates) >= 100:
        return None
    totals = [k / (1 - r / 100) for k, r in zip(kept, rates)]
    if any(abs(t - round(t)) > 1e-6 for t in totals) or sum(totals) > 200_000:
        return None
    totals = [round(t) for t in totals]
    cluster_sizes = np.repeat(sizes, totals)
    removed = np.concatenate([np.arange(t) < t - k for t, k in zip(totals, kept)])
    return cluster_sizes, removed


def test_distribution_from_documents_matches_fineweb2(distributions):
    """Rebuilding documents from FineWeb2 distributions gives back the same distribution
    (tail threshold included) and the same weights."""
    checked = 0
    for lang, dist in distributions.items():
        docs = _documents_of(dist)
        if docs is None:
            continue
        got = distribution_from_documents(*docs)
        assert got["cluster_sizes"] == dist["cluster_sizes"] and got["tail_threshold"] == dist["tail_threshold"], lang
        assert got["cluster_post_filtering_doc_counts"] == dist["cluster_post_filtering_doc_counts"], lang
        assert np.allclose(got["cluster_removal_rates"], dist["cluster_removal_rates"]), lang
        assert math.isclose(got["global_removal_rate"], dist["global_removal_rate"]), lang
        assert weights_from_distribution(got, 5) == weights_from_distribution(dist, 5), lang
        checked += 1
    assert checked >= 25


def test_per_language_distributions_and_table_entry_point():
    rng = np.random.default_rng(0)
    sizes = rng.choice([1, 1, 1, 2, 2, 3, 5, 8, 40], size=4000)
    # Bigger clusters are removed less often: they should get more copies.
    removed = rng.random(4000) < np.where(sizes >= 3, 0.2, 0.6)
    langs = np.where(np.arange(4000) % 2 == 0, "aaa_Latn", "bbb_Cyrl")
    per_lang = distributions_from_documents(langs, sizes, removed)
    assert set(per_lang) == {"aaa_Latn", "bbb_Cyrl"}
    assert per_lang["aaa_Latn"] == distribution_from_documents(sizes[::2], removed[::2])

    reason = np.where(removed, "gopher_quality", None).tolist()
    table = pa.table(
        {
            "minhash_cluster_size": pa.array(sizes.tolist() + [3, None], pa.int64()),
            # a duplicate and a row removed before dedup do not count
            "filter_reason": pa.array(reason + ["duplicate", "language_score"], pa.string()),
        }
    )
    weights = weights_from_table(table, 5)
    assert weights == weights_from_distribution(distribution_from_documents(sizes, removed), 5)
    assert copies_for(1, weights) == 1 and copies_for(8, weights) > 1
    assert weights_from_table(table.slice(4000), 5) == {}


def test_single_cluster_size_gets_one_copy():
    assert weights_from_distribution(distribution_from_documents(np.ones(10, int), np.zeros(10, bool)), 5) == {1: 1}

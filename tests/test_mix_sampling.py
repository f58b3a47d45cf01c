"""Sampling by exp(score / tau) without replacement, and the budget allocation: pure functions, no Ray.

Statistical tests use fixed seeds, so they are deterministic; their tolerances are set at about
4 standard errors (or p < 1e-4), so a correct sampler passes and a biased one (e.g. keys without
the Gumbel noise, or score * tau instead of score / tau) fails."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cc_curate.mix import sampling
from cc_curate.mix.budgets import BudgetError, MixSpec, allocate, load_spec, parse_amount

IDS = [f"<urn:uuid:{i:08d}>" for i in range(2000)]


def sample(scores: np.ndarray, tau: float | None, seed: int, k: int, ids: list[str] = IDS) -> np.ndarray:
    """Indices of the k documents a single process selects: the first k in (hi, lo) order."""
    hashes = sampling.unit_hashes(sampling.document_hashes(ids[: len(scores)], seed), np.zeros(len(scores), np.int64))
    hi, lo = sampling.order_words(sampling.keys(scores, tau, hashes), hashes)
    return np.lexsort((lo, hi))[:k]


def chi_square_p_value(observed: np.ndarray, expected: np.ndarray) -> float:
    statistic = float(((observed - expected) ** 2 / expected).sum())
    dof = len(observed) - 1
    try:
        from scipy.stats import chi2

        return float(chi2.sf(statistic, dof))
    except ImportError:  # Wilson-Hilferty: (X/k)^(1/3) is about normal
        z = ((statistic / dof) ** (1 / 3) - (1 - 2 / (9 * dof))) / math.sqrt(2 / (9 * dof))
        return 0.5 * math.erfc(z / math.sqrt(2))


def test_single_draw_frequencies_match_softmax() -> None:
    scores = np.array([0.0, 0.3, 0.5, 0.9, 1.0, 1.4, 2.0, 2.2])
    tau, draws = 0.7, 6000
    counts = np.bincount([sample(scores, tau, seed, 1)[0] for seed in range(draws)], minlength=len(scores))
    weights = np.exp(scores / tau)
    expected = draws * weights / weights.sum()
    assert chi_square_p_value(counts, expected) > 1e-4, (counts, expected.round())
    # The test has power: frequencies proportional to exp(score * tau) are rejected.
    wrong = np.exp(scores * tau)
    assert chi_square_p_value(counts, draws * wrong / wrong.sum()) < 1e-4


def test_tau_near_zero_selects_exactly_the_top_k() -> None:
    rng = np.random.default_rng(1)
    scores = rng.permutation(np.linspace(0, 1, 500))
    top = set(np.argsort(-scores)[:37].tolist())
    for seed in range(5):
        assert set(sample(scores, 1e-9, seed, 37).tolist()) == top


def test_large_tau_mean_is_the_population_mean() -> None:
    rng = np.random.default_rng(2)
    scores = rng.normal(0.5, 0.2, size=2000)
    k, seeds = 200, 60
    means = [scores[sample(scores, 1e9, seed, k)].mean() for seed in range(seeds)]
    # Standard error of the mean of `seeds` sample means (sampling without replacement).
    error = scores.std() / math.sqrt(k) * math.sqrt(1 - k / len(scores)) / math.sqrt(seeds)
    assert abs(np.mean(means) - scores.mean()) < 4 * error
    # ...while a small tau is far from it.
    assert scores[sample(scores, 0.05, 0, k)].mean() > scores.mean() + 20 * error


def test_mean_score_falls_as_tau_grows_and_matches_the_expected_mean() -> None:
    rng = np.random.default_rng(3)
    scores = rng.uniform(0, 1, size=1000)
    k = 100
    taus = [0.02, 0.1, 0.3, 1.0, 5.0]
    observed = [np.mean([scores[sample(scores, tau, seed, k)].mean() for seed in range(30)]) for tau in taus]
    assert all(a > b for a, b in zip(observed, observed[1:])), observed
    ones = np.ones(len(scores))
    expected = []
    for tau in taus:
        chosen = sampling.expected_selection(scores, ones, ones, tau, k)
        assert chosen.sum() == pytest.approx(k, rel=1e-6)
        expected.append(float((chosen * scores).sum() / chosen.sum()))
    assert all(a > b for a, b in zip(expected, expected[1:])), expected
    # The dry run's large-sample expectation is what sampling gives (30 seeds, k = 100).
    assert np.allclose(observed, expected, atol=0.01), (observed, expected)


def test_radix_digits_walk_the_selection_order() -> None:
    """Descending the 8-bit digits of (hi, lo) with per-digit cost sums finds the same last
    unit as sorting everything, whatever the budget (the driver's loop, without Ray)."""
    rng = np.random.default_rng(4)
    n = 1800
    scores = np.round(rng.uniform(0, 1, n), 2)  # many equal scores
    cost = rng.integers(0, 50, n)
    hashes = sampling.unit_hashes(sampling.document_hashes(IDS[:1] * 2 + IDS[2:n], 7), np.zeros(n, np.int64))
    hi, lo = sampling.order_words(sampling.keys(scores, 0.05, hashes), hashes)
    position = np.stack([np.zeros(n, np.int64), np.arange(n), np.zeros(n, np.int64)], axis=1)
    order = np.lexsort((position[:, 1], lo, hi))
    for budget in (1, 500, int(cost.sum()) // 2, int(cost.sum())):
        prefix, before = sampling.Prefix(), 0
        while int(sampling.in_prefix(hi, lo, prefix).sum()) > 20:
            counts, costs = sampling.radix_histogram(hi, lo, cost, prefix)
            digit = int(np.argmax(before + np.cumsum(costs) >= budget))
            before += int(costs[:digit].sum())
            prefix = prefix.extend(digit)
        mask = sampling.in_prefix(hi, lo, prefix)
        last = sampling.last_selected(hi[mask], lo[mask], position[mask], cost[mask], before, budget)
        chosen = sampling.selected(hi, lo, 0, np.arange(n), np.zeros(n, np.int64), last)
        reference = order[: int(np.argmax(np.cumsum(cost[order]) >= budget)) + 1]
        assert set(np.flatnonzero(chosen).tolist()) == set(reference.tolist())


# ----------------------------------------------------------------------------- budgets


def test_unimax_caps_small_languages_and_redistributes() -> None:
    available = {"big": 1_000_000, "mid": 50_000, "small": 1_000}
    spec = MixSpec(unit="tokens", total=600_000, alpha=0.0, max_epochs=4)
    plans = allocate(spec, available, available)
    assert plans["small"].target == 4_000  # capped at 4 epochs
    assert plans["mid"].target == 200_000  # 4 epochs as well
    assert sum(p.target for p in plans.values()) == 600_000
    assert plans["big"].target == 396_000 and plans["big"].passes == 0 and plans["big"].remainder == 396_000
    assert plans["small"].passes == 4 and plans["small"].remainder == 0


def test_temperature_one_is_proportional() -> None:
    available = {"a": 300, "b": 100}
    plans = allocate(MixSpec(total=200, alpha=1.0, max_epochs=4), available, available)
    assert (plans["a"].target, plans["b"].target) == (150, 50)


def test_explicit_budgets_report_their_shortfall() -> None:
    available = {"a": 1000, "b": 100}
    plans = allocate(MixSpec(languages={"a": 500, "b": 1000}, max_epochs=2), available, {"a": 1500, "b": 100})
    assert plans["a"].target == 500 and plans["a"].passes == 0 and plans["a"].remainder == 500
    assert plans["b"].target == 200 and plans["b"].shortfall == 800 and plans["b"].passes == 2


def test_budget_file_errors_name_file_and_key(tmp_path) -> None:
    bad = tmp_path / "budget.yaml"
    bad.write_text("unit: tokens\ntotal: lots\n")
    with pytest.raises(BudgetError, match=r"budget.yaml: key 'total': expected an amount"):
        load_spec(str(bad), {})
    bad.write_text("unit: tokens\ntotl: 5M\n")
    with pytest.raises(BudgetError, match=r"key 'totl': unknown"):
        load_spec(str(bad), {})
    with pytest.raises(BudgetError, match="key 'tau': expected a number > 0"):
        load_spec(None, {"total": "5M", "score": "q", "tau": 0})
    assert parse_amount("2.5B", "x") == 2_500_000_000 and parse_amount("300m", "x") == 300_000_000
    spec = load_spec(None, {"total": "1K", "score": "q", "tau": 0.2, "unit": "documents"})
    assert (spec.total, spec.tau, spec.unit) == (1000, 0.2, "documents")

"""The Poisson-gamma enrolment model: its fit, its posterior and its simulation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainsight.domain import Scenario, parse_scenario, scenario_data
from chainsight.forecast import ForecastConfig, fit_counts, fit_enrollment
from chainsight.forecast.enrollment import DAYS_PER_MONTH, simulate_enrollment

counts_st = st.lists(st.integers(0, 30), min_size=1, max_size=8)


def _fit(counts: list[int], days: float = 180.0, plan: float = 1.0, **kw: float):
    n = len(counts)
    return fit_counts(np.full(n, plan / DAYS_PER_MONTH), np.array(counts),
                      np.full(n, days), np.ones(n, dtype=bool), ForecastConfig(**kw))


def test_without_data_the_plan_is_the_forecast() -> None:
    fit = fit_counts(np.array([0.5, 1.0]) / DAYS_PER_MONTH, np.zeros(2, dtype=np.int64),
                     np.zeros(2), np.zeros(2, dtype=bool))
    assert fit.mean_factor == pytest.approx(1.0)
    assert fit.alpha == pytest.approx(ForecastConfig().alpha_prior)
    assert fit.data_weight == 0.0
    assert fit.posterior_mean_per_month() == pytest.approx([0.5, 1.0])


def test_plenty_of_data_overrides_a_wrong_plan() -> None:
    # 12 sites open a year, planned at 2/month, each enrolled about 1/month.
    rng = np.random.default_rng(3)
    counts = rng.poisson(12.0, size=12)
    fit = _fit(list(counts), days=365.25, plan=2.0)
    assert fit.data_weight > 0.95
    assert fit.mean_factor == pytest.approx(counts.sum() / (12 * 24), rel=0.05)


@settings(max_examples=60, deadline=None)
@given(counts=counts_st, days=st.floats(1.0, 720.0))
def test_site_posterior_lies_between_prior_and_observed(counts: list[int], days: float) -> None:
    fit = _fit(counts, days)
    prior = fit.mean_factor
    observed = np.array(counts) / fit.expected_exposure
    post = fit.posterior_mean_factor()
    low, high = np.minimum(prior, observed), np.maximum(prior, observed)
    assert np.all(post >= low - 1e-9)
    assert np.all(post <= high + 1e-9)


@settings(max_examples=60, deadline=None)
@given(counts=counts_st, site=st.integers(0, 7), extra=st.integers(1, 10))
def test_more_enrolment_never_lowers_the_forecast_rate(counts: list[int], site: int,
                                                       extra: int) -> None:
    site %= len(counts)
    before = _fit(counts)
    more = list(counts)
    more[site] += extra
    after = _fit(more)
    # The population level rises, and with the spread held fixed the site's own rate too.
    assert after.mean_factor > before.mean_factor
    shape = before.alpha + np.array(more)
    rate = before.alpha / before.mean_factor + before.expected_exposure
    assert (shape / rate)[site] > before.posterior_mean_factor()[site]


def test_overdispersion_is_detected() -> None:
    even = _fit([6] * 10)
    uneven = _fit([0, 0, 1, 2, 30, 0, 1, 20, 0, 6])
    assert uneven.alpha < even.alpha


def test_merged_poisson_arrivals_match_their_rates() -> None:
    rng = np.random.default_rng(11)
    runs = 20000
    rates = np.tile([0.1, 0.05, 0.2], (runs, 1))
    opens = np.tile([0.0, 10.0, 30.0], (runs, 1))
    times, sites = simulate_enrollment(rates, opens, 40, rng)
    # Expected arrivals in [1, 10): site 1 alone at 0.1/day; [10, 30): 0.15/day.
    assert (times < 10).sum(axis=1).mean() == pytest.approx(0.9, rel=0.03)
    assert ((times >= 10) & (times < 30)).sum(axis=1).mean() == pytest.approx(3.0, rel=0.03)
    late = times > 30
    share = np.bincount(sites[late], minlength=3) / late.sum()
    assert share == pytest.approx(np.array([0.1, 0.05, 0.2]) / 0.35, abs=0.01)
    assert np.all(np.diff(times, axis=1) >= 0)


def test_fit_uses_only_enrolment_before_today(demo: Scenario) -> None:
    fit = fit_enrollment(demo)
    # S01 and S02 are open; P001-P005 were enrolled before today (P006 is on today).
    assert fit.summary()["patients_observed"] == 5
    assert fit.summary()["sites_observed"] == 2
    data = scenario_data(demo)
    data["patients"].append({"id": "P999", "site": "S01", "enrolled": "2027-06-01"})
    data["trial"]["target_enrollment"] = 19
    later = fit_enrollment(parse_scenario(data))
    assert later.summary() == fit.summary()  # expected enrolments are not data

"""The vectorised engine and the SimPy reference model tell the same story.

Two-sample Kolmogorov-Smirnov tests at alpha = 0.01 on per-run statistics (enrolment
completion day, mean time to treatment), with independent random streams. Per-run
statistics, not pooled patients: patients of one run share their queue, so pooling
would break the independence the test assumes. Seeds are fixed, so the outcome is
deterministic; a real difference in the models of a few days shows at these sizes
(the reference runs are the slow part: 2,000 demo runs take a few seconds).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from chainsight.domain import Scenario, parse_scenario, scenario_data
from chainsight.forecast import simulate
from chainsight.forecast.reference_des import simulate_reference

ALPHA = 0.01
REFERENCE_RUNS = 2000
ENGINE_RUNS = 4000


def _congested(demo: Scenario) -> Scenario:
    """The demo trial with three times the enrolment: patients queue for suites."""
    data = scenario_data(demo)
    data["trial"]["target_enrollment"] = 30
    data["trial"]["protocol"]["dropout_per_week_waiting"] = 0.03
    for site in data["sites"]:
        site["enrollment_rate_per_month"] *= 3
    return parse_scenario(data)


def _compare(scenario: Scenario, seed: int, runs: int = REFERENCE_RUNS) -> dict[str, float]:
    ref = simulate_reference(scenario, runs, seed)
    sim = simulate(scenario, ENGINE_RUNS, seed + 1000)
    completion = sim.completion.astype(float)
    completion[completion >= 1e7] = np.inf
    a, b = ref.ttt_mean, sim.ttt_mean
    return {
        "completion": stats.ks_2samp(ref.completion, completion).pvalue,
        "time_to_treatment": stats.ks_2samp(a[~np.isnan(a)], b[~np.isnan(b)]).pvalue,
        "lost": stats.ks_2samp(ref.lost, sim.lost).pvalue,
        "infused": stats.ks_2samp(ref.infused, sim.infused).pvalue,
    }


@pytest.mark.slow
def test_demo_agrees(demo: Scenario) -> None:
    p = _compare(demo, 1)
    assert p["completion"] > ALPHA, p
    assert p["time_to_treatment"] > ALPHA, p


@pytest.mark.slow
def test_congested_demo_agrees(demo: Scenario) -> None:
    p = _compare(_congested(demo), 2)
    assert p["completion"] > ALPHA, p
    assert p["time_to_treatment"] > ALPHA, p
    assert p["lost"] > ALPHA, p


@pytest.mark.slow
def test_two_cdmos_with_tech_transfer_and_reservations_agree(multicdmo: Scenario) -> None:
    """The phase 2 trial: 20 sites, two CDMOs (one in tech transfer), overlapping
    reservations, three lots with extensions; fewer reference runs (they are long)."""
    p = _compare(multicdmo, 5, runs=400)
    assert p["time_to_treatment"] > ALPHA, p
    assert p["lost"] > ALPHA, p
    assert p["infused"] > ALPHA, p


def test_the_check_has_power(demo: Scenario) -> None:
    """A model with slower manufacturing must be told apart: the test can fail."""
    data = scenario_data(_congested(demo))
    data["process"]["qc_release_days"] += 4
    slower = parse_scenario(data)
    ref = simulate_reference(_congested(demo), 300, 3)
    sim = simulate(slower, ENGINE_RUNS, 4)
    a, b = ref.ttt_mean, sim.ttt_mean
    assert stats.ks_2samp(a[~np.isnan(a)], b[~np.isnan(b)]).pvalue < ALPHA

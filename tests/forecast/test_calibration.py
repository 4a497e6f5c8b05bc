"""Calibration: forecasts of synthetic trials with a known truth and a wrong plan.

Each of 300 trials draws true site rates from a gamma distribution (shape 3, mean 0.8
patients a month, 8 sites, 45 patients), is cut once a third of its patients are
enrolled, and is forecast with a planning assumption twice the true mean rate. If the
model is calibrated, the P10-P90 interval of the completion date holds the truth with
probability 0.8. With 300 independent trials the observed share has a binomial standard
deviation of sqrt(0.8 * 0.2 / 300) = 0.023; the accepted band 0.70-0.90 is about four
of those either side, which also leaves room for the Monte Carlo error of quantiles
estimated from 200 runs each. The P50 must beat the plan alone in most trials.
"""

from __future__ import annotations

import numpy as np
import pytest

from chainsight.forecast import simulate
from chainsight.forecast.synthetic import calibration_case

TRIALS = 300
RUNS = 200


@pytest.mark.slow
def test_intervals_cover_the_truth_and_the_median_beats_the_plan() -> None:
    rng = np.random.default_rng(2024)
    covered = 0
    better = 0
    errors_model: list[float] = []
    errors_plan: list[float] = []
    for k in range(TRIALS):
        case = calibration_case(rng)
        sim = simulate(case.scenario, RUNS, k)
        days = sim.completion.astype(float)
        p10, p50, p90 = np.quantile(days, [0.1, 0.5, 0.9])
        truth = case.true_completion_day
        # Completion is reported as a whole day; the truth is continuous within it.
        covered += p10 <= truth < p90 + 1
        errors_model.append(abs(p50 - truth))
        errors_plan.append(abs(case.plan_completion_day - truth))
        better += errors_model[-1] < errors_plan[-1]
    coverage = covered / TRIALS
    assert 0.70 <= coverage <= 0.90, coverage
    assert better / TRIALS > 0.5, better / TRIALS
    assert np.mean(errors_model) < np.mean(errors_plan)

"""Slot reservation advice: the fewest slots a month to reserve at each CDMO.

"Slots a month" caps the manufacturing starts the trial may make at a facility in each
calendar month (on top of its suites, reservations and start weekdays). The advice is
the smallest cap per facility such that at least ``share`` of the patients start
manufacturing within ``within_days`` days of being ready (their apheresis, or for fresh
material the first day it could be collected), as measured by the simulation.

Search: start with no caps; then, facility by facility in the scenario's order, bisect
the smallest cap that still meets the target with the other facilities at their current
caps. Each evaluation re-runs the simulation on the same seed (common random numbers),
so the share is a smooth-enough function of the caps for bisection. This is a greedy
coordinate search, not a joint optimum: another order can give another split.
"""

from __future__ import annotations

import math
from typing import Any

from chainsight.domain import Scenario
from chainsight.forecast.config import ForecastConfig
from chainsight.forecast.engine import Overrides
from chainsight.forecast.enrollment import fit_enrollment
from chainsight.forecast.forecaster import simulate


def advise_slots(
    scenario: Scenario, within_days: int = 14, share: float = 0.9, runs: int = 500,
    seed: int = 0, config: ForecastConfig | None = None,
) -> dict[str, Any]:
    """The fewest slots per month per drug product facility meeting the target share."""
    if within_days < 0:
        raise ValueError(f"within_days must be >= 0, not {within_days}")
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share must be in (0, 1], not {share}")
    config = config or ForecastConfig()
    fit = fit_enrollment(scenario, config)
    facilities = scenario.dp_facilities

    def achieved(caps: dict[int, int]) -> float:
        sim = simulate(scenario, runs, seed, config, Overrides(monthly_caps=caps),
                       within_days=within_days, fit=fit)
        return sim.share_within

    # A cap this high never binds: more starts than the suites could hold in a month.
    ceilings = {
        j: math.ceil(f.suites * 31 / scenario.process_at(f.id).manufacturing_days)
        * len(f.start_weekdays) + 1
        for j, f in enumerate(facilities)
    }
    unlimited = achieved({})
    evaluations = 1
    caps: dict[int, int] = {}
    if unlimited >= share:
        for j in range(len(facilities)):
            low, high = 0, ceilings[j]  # invariant: high meets the target
            while low < high:
                mid = (low + high) // 2
                evaluations += 1
                if achieved({**caps, j: mid}) >= share:
                    high = mid
                else:
                    low = mid + 1
            caps[j] = high
        final = achieved(caps)
        evaluations += 1
    else:
        final = unlimited
    return {
        "within_days": within_days,
        "share": share,
        "runs": runs,
        "seed": seed,
        "feasible": unlimited >= share,
        "achieved_share": round(final, 4),
        "share_without_caps": round(unlimited, 4),
        "slots_per_month": {
            f.id: (caps[j] if j in caps and caps[j] < ceilings[j] else None)
            for j, f in enumerate(facilities)
        },
        "evaluations": evaluations,
        "note": "null: no cap needed (or the target cannot be met even without caps)",
    }

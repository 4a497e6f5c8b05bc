"""The radar on real plans and forecasts: what an expert would see, and actions that help."""

from __future__ import annotations

from typing import Any

import pytest

from chainsight.domain import Scenario, parse_scenario
from chainsight.forecast.whatif import apply_what_if, parse_what_if
from chainsight.risks import scan, try_action
from chainsight.risks.engine import assess
from tests.domain.factory import scenario_data

RUNS = 400


def _calm() -> dict[str, Any]:
    """Ample suites and vector, active sites, cryopreserved material, no tech transfer."""
    data = scenario_data()
    data["trial"]["target_enrollment"] = 6
    data["trial"]["protocol"]["material"] = "cryopreserved"
    every_day = ["Mon", "Tue", "Wed", "Thu", "Fri"]
    data["sites"] = [data["sites"][0]]
    data["sites"][0]["apheresis"] = {"weekdays": every_day, "per_day": 2}
    data["sites"][0]["infusion"] = {"weekdays": every_day, "per_day": 2}
    data["sites"][0]["enrollment_rate_per_month"] = 0.5
    data["facilities"] = [data["facilities"][0], data["facilities"][2]]
    data["facilities"][0].update(suites=4, start_weekdays=every_day, reservations=[])
    data["lanes"] = data["lanes"][:2]
    data["vector"]["lots"] = [{"id": "LV-001", "facility": "VEC-1", "units": 100,
                               "released": "2026-06-01", "expires": "2029-12-31"}]
    data["vector"]["campaigns"] = []
    data["tech_transfer"] = []
    return data


def _congested() -> dict[str, Any]:
    """Fast enrolment into one small suite: patients queue for a slot."""
    data = _calm()
    data["trial"]["target_enrollment"] = 40
    data["sites"][0]["enrollment_rate_per_month"] = 4.0
    data["facilities"][0]["suites"] = 1
    data["patients"] += [{"id": f"Q{i:02d}", "site": "S01", "enrolled": "2027-01-02"}
                         for i in range(6)]
    return data


def _vector_short() -> dict[str, Any]:
    """Enough suites, but the vector on hand covers a fraction of the patients."""
    data = _calm()
    data["trial"]["target_enrollment"] = 30
    data["sites"][0]["enrollment_rate_per_month"] = 3.0
    data["vector"]["lots"][0]["units"] = 8
    data["vector"]["campaigns"] = [{"facility": "VEC-1", "earliest_start": "2027-01-04",
                                    "lead_time_days": 120, "units": 40,
                                    "shelf_life_days": 540}]
    return data


def test_demo_shows_what_an_expert_sees(demo: Scenario) -> None:
    alerts = scan(assess(demo, runs=RUNS, seed=3, time_limit=5))
    by_kind = {a.kind: a for a in alerts}
    late = by_kind["tech_transfer_slip"]
    assert late.facilities == ["CDMO-B"]
    assert late.severity in ("high", "critical")
    vector = [a for a in alerts if a.kind in ("vector_expiry", "vector_stockout")
              and ("LV-001" in a.lots or "LV-001" in a.title)]
    assert vector, "the demo's expiring lot LV-001 must be on the radar"
    for alert in alerts:
        assert alert.owner in ("sponsor", "site", "cdmo", "courier")
        assert alert.due is not None
        assert alert.due >= demo.today
        assert alert.action
        assert alert.title


def test_calm_scenario_has_no_high_or_critical_alert() -> None:
    alerts = scan(assess(parse_scenario(_calm()), runs=RUNS, seed=1, time_limit=5))
    assert [a for a in alerts if a.severity in ("high", "critical")] == []


def test_capacity_recommendation_lowers_the_queue() -> None:
    inputs = assess(parse_scenario(_congested()), runs=RUNS, seed=2, time_limit=5)
    alerts = [a for a in scan(inputs) if a.kind == "capacity_shortfall"]
    assert alerts, "a congested trial must show a capacity shortfall"
    effect = try_action(inputs, alerts[0])
    assert effect.improves, effect
    assert effect.after < 0.8 * effect.before


def test_campaign_recommendation_lowers_the_stockout_risk() -> None:
    inputs = assess(parse_scenario(_vector_short()), runs=RUNS, seed=4, time_limit=5)
    alerts = [a for a in scan(inputs) if a.kind == "vector_campaign_deadline"]
    assert alerts, "a trial short of vector must show the campaign deadline"
    effect = try_action(inputs, alerts[0])
    assert effect.improves, effect
    assert effect.after <= effect.before - 0.2


@pytest.mark.parametrize("build", [_congested, _vector_short])
def test_every_recommended_action_is_a_valid_what_if(build: Any) -> None:
    scenario = parse_scenario(build())
    inputs = assess(scenario, runs=200, seed=5, time_limit=3)
    for alert in scan(inputs):
        if alert.what_if:
            base = inputs.without_campaigns() if alert.kind == "vector_campaign_deadline" \
                else scenario
            changed = apply_what_if(base, parse_what_if(alert.what_if))
            assert changed != base


def test_same_problem_keeps_its_alert_id_across_runs(demo: Scenario) -> None:
    first = {a.id for a in scan(assess(demo, runs=200, seed=1, time_limit=3))}
    second = {a.id for a in scan(assess(demo, runs=200, seed=2, time_limit=3))}
    assert len(first & second) >= 0.7 * len(first)

"""What-if: changes applied to the scenario, compared on common random numbers."""

from __future__ import annotations

import numpy as np
import pytest

from chainsight.domain import Scenario, ScenarioInvalid
from chainsight.forecast import simulate
from chainsight.forecast.whatif import (
    apply_what_if,
    compare,
    forecast_sweep,
    parse_what_if,
)


def test_extra_suite_from_a_date_is_held_until_then(multicdmo: Scenario) -> None:
    w = parse_what_if({"suites": [{"facility": "CDMO-US", "from": "2027-03-01"}]})
    changed = apply_what_if(multicdmo, w)
    fac = changed.facility("CDMO-US")
    base = multicdmo.facility("CDMO-US")
    assert fac.suites == base.suites + 1
    assert fac.suites_free(multicdmo.today) == base.suites_free(multicdmo.today)
    day = multicdmo.today.replace(month=3, day=1)
    assert fac.suites_free(day) == base.suites_free(day) + 1


def test_extra_suites_cut_waiting_on_the_same_draws(multicdmo: Scenario) -> None:
    w = parse_what_if({"label": "two more suites",
                       "suites": [{"facility": "CDMO-US", "from": "2027-01-18", "suites": 2}]})
    result = compare(multicdmo, w, 300, 5)
    assert result["difference"]["paired_mean"]["mean_time_to_treatment_days"] < 0
    assert result["base"]["seed"] == result["what_if"]["seed"] == 5
    assert set(result) >= {"base", "what_if", "difference"}


def test_earlier_activation_never_delays_enrolment_on_the_same_draws(demo: Scenario) -> None:
    w = parse_what_if({"sites": [{"site": "S03", "activation": "2027-01-11"}]})
    base = simulate(demo, 300, 8)
    other = simulate(apply_what_if(demo, w), 300, 8)
    # Same draws: an earlier opening moves each run's arrivals earlier or leaves them.
    assert np.all(other.completion <= base.completion)
    assert other.completion.mean() < base.completion.mean()


def test_earlier_campaign_lowers_stockout(demo: Scenario) -> None:
    w = parse_what_if({"campaigns": [{"campaign": 1, "start": "2027-01-04"}]})
    base = simulate(demo, 300, 2)
    other = simulate(apply_what_if(demo, w), 300, 2)
    assert other.expired_units.mean() >= 0
    assert (other.on_hand_weekly[:, 30:] >= base.on_hand_weekly[:, 30:]).all()


def test_certain_success_removes_withdrawals(demo: Scenario) -> None:
    w = parse_what_if({"success_rate": [{"rate": 1.0}]})
    other = simulate(apply_what_if(demo, w), 300, 2)
    assert other.withdrawn.max() == 0
    per_facility = parse_what_if({"success_rate": [{"rate": 0.99, "facility": "CDMO-A"}]})
    assert apply_what_if(demo, per_facility).process_at("CDMO-A").success_rate == 0.99


@pytest.mark.parametrize(("data", "path"), [
    ({"suites": [{"facility": "NOPE", "from": "2027-02-01"}]}, "suites[0].facility"),
    ({"sites": [{"site": "S01", "activation": "2027-02-01"}]}, "sites[0].site"),
    ({"campaigns": [{"campaign": 7, "start": "2027-02-01"}]}, "campaigns[0].campaign"),
    ({"success_rate": [{"rate": 0.9, "facility": "X"}]}, "success_rate[0].facility"),
])
def test_bad_changes_name_their_field(demo: Scenario, data: dict[str, object],
                                      path: str) -> None:
    with pytest.raises(ScenarioInvalid) as info:
        apply_what_if(demo, parse_what_if(data))
    assert info.value.problems[0].path == path


def test_unknown_fields_and_bad_values_are_rejected() -> None:
    with pytest.raises(ScenarioInvalid) as info:
        parse_what_if({"suites": [{"facility": "A", "from": "2027-02-01", "extra": 1}],
                       "success_rate": [{"rate": 1.5}]})
    paths = {p.path for p in info.value.problems}
    assert "suites[0].extra" in paths
    assert "success_rate[0].rate" in paths


def test_sweep_in_processes_matches_one_by_one(demo: Scenario) -> None:
    ws = [parse_what_if({"label": "suite", "suites": [{"facility": "CDMO-A",
                                                       "from": "2027-02-01"}]}),
          parse_what_if({"label": "success", "success_rate": [{"rate": 0.99}]})]
    pooled = forecast_sweep(demo, ws, 200, 3, workers=2)
    single = [compare(demo, w, 200, 3) for w in ws]
    assert [r["label"] for r in pooled] == ["suite", "success"]
    for a, b in zip(pooled, single, strict=True):
        assert a["difference"] == b["difference"]
        assert a["what_if"]["weekly"] == b["what_if"]["weekly"]

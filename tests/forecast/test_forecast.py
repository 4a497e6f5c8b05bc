"""The forecast JSON on the reference scenarios, reproducibility and model behaviour."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainsight.domain import Scenario, parse_scenario, scenario_data, schedule_transfer
from chainsight.forecast import forecast, simulate
from chainsight.forecast.model import compile_scenario, transfer_ready_days

RUNS = 400


def _ordered(values: dict[str, Any]) -> bool:
    keys = [k for k in ("p10", "p50", "p90") if k in values]
    vals = [values[k] for k in keys]
    if any(v is None for v in vals):
        # A null (never in horizon) can only be followed by nulls.
        first = next(i for i, v in enumerate(vals) if v is None)
        return all(v is None for v in vals[first:])
    return vals == sorted(vals)


@pytest.fixture(scope="module")
def forecasts(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    out = {}
    for name in ("demo", "multicdmo", "aav"):
        scenario: Scenario = request.getfixturevalue(name)
        out[name] = forecast(scenario, RUNS, 7)
    return out


@pytest.mark.parametrize("name", ["demo", "multicdmo", "aav"])
def test_every_specified_field_is_present_and_sane(
    forecasts: dict[str, dict[str, Any]], name: str, request: pytest.FixtureRequest
) -> None:
    out = forecasts[name]
    scenario: Scenario = request.getfixturevalue(name)
    assert out["format"] == "chainsight-forecast/1"
    assert out["runs"] == RUNS
    assert out["seed"] == 7
    for key in ("enrollment_complete", "last_infusion"):
        assert set(out[key]) == {"p10", "p50", "p90"}
        assert _ordered(out[key])
    assert set(out["vector_stockout_probability"]) == {"by_horizon_end", "first_week_p10"}
    assert 0.0 <= out["vector_stockout_probability"]["by_horizon_end"] <= 1.0
    for key in ("vector_units_expired", "patients_lost_waiting", "time_to_treatment_days"):
        assert set(out[key]) == {"p50", "p90"}
        assert _ordered(out[key])
    total_units = sum(lot.units for lot in scenario.vector.lots) + sum(
        c.units for c in scenario.vector.campaigns)
    assert len(out["weekly"]) == scenario.trial.horizon_days // 7 + 1
    for k, week in enumerate(out["weekly"]):
        assert week["week_start"] == (scenario.today + dt.timedelta(days=7 * k)).isoformat()
        assert set(week) == {"week_start", "enrolled", "infused", "waiting_for_slot",
                             "suite_utilisation", "vector_units_on_hand"}
        for key in ("enrolled", "infused", "vector_units_on_hand"):
            assert set(week[key]) == {"p10", "p50", "p90"}
            assert _ordered(week[key])
        assert set(week["waiting_for_slot"]) == {"p50", "p90"}
        assert _ordered(week["waiting_for_slot"])
        assert set(week["suite_utilisation"]) == {f.id for f in scenario.dp_facilities}
        assert all(0.0 <= u <= 1.0 for u in week["suite_utilisation"].values())
        assert week["vector_units_on_hand"]["p10"] >= 0
        assert week["vector_units_on_hand"]["p90"] <= total_units
    infused = out["patients_infused"]["p90"]
    assert infused <= scenario.trial.target_enrollment
    assert out["patients_lost_waiting"]["p90"] <= scenario.trial.target_enrollment


def test_demo_lot_about_to_expire_shows_a_vector_risk(forecasts: dict[str, Any]) -> None:
    # LV-001 has 3 units, expires in six weeks, and LV-002 arrives only in February.
    out = forecasts["demo"]
    assert (out["vector_stockout_probability"]["by_horizon_end"] > 0.1
            or out["vector_units_expired"]["p90"] > 0)


def test_batch_forecast_reports_doses(forecasts: dict[str, Any]) -> None:
    out = forecasts["aav"]
    assert out["modality"] == "batch"
    assert out["doses_expired"] is not None
    assert out["manufacturing_runs_started"]["p50"] > 0
    assert out["patients_infused"]["p50"] > 0


def test_same_seed_same_bytes_other_seed_other_result(demo: Scenario) -> None:
    a = json.dumps(forecast(demo, 300, 5), indent=2)
    b = json.dumps(forecast(demo, 300, 5), indent=2)
    c = json.dumps(forecast(demo, 300, 6), indent=2)
    assert a == b
    assert a != c


def test_chunking_keeps_runs_reproducible(demo: Scenario) -> None:
    from chainsight.forecast import ForecastConfig

    small = simulate(demo, 300, 9, ForecastConfig(chunk_runs=100))
    again = simulate(demo, 300, 9, ForecastConfig(chunk_runs=100))
    assert np.array_equal(small.completion, again.completion)
    assert np.array_equal(small.ttt_hist, again.ttt_hist)


def test_chunks_in_several_processes_give_the_same_forecast(demo: Scenario) -> None:
    from chainsight.forecast import ForecastConfig, summarise

    config = ForecastConfig(chunk_runs=100)
    serial = summarise(simulate(demo, 300, 4, config))
    pooled = summarise(simulate(demo, 300, 4, config, workers=2))
    assert json.dumps(serial) == json.dumps(pooled)
    with pytest.raises(ValueError, match="workers"):
        simulate(demo, 300, 4, config, workers=0)


def _variant(scenario: Scenario, **changes: Any) -> Scenario:
    data = scenario_data(scenario)
    for path, value in changes.items():
        node = data
        *parents, leaf = path.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return parse_scenario(data)


def test_zero_dropout_loses_nobody(multicdmo: Scenario) -> None:
    s = _variant(multicdmo, trial__protocol__dropout_per_week_waiting=0.0)
    sim = simulate(s, 300, 1)
    assert sim.lost.max() == 0


def test_target_reached_means_no_more_enrolment(demo: Scenario) -> None:
    s = _variant(demo, trial__target_enrollment=6)  # six patients enrolled by today
    out = forecast(s, 200, 1)
    assert out["enrollment_complete"]["p10"] == out["enrollment_complete"]["p90"] == "2027-01-04"
    assert sum(w["enrolled"]["p90"] for w in out["weekly"][1:]) == 0
    assert out["inputs"]["patients_to_enrol"] == 0


def test_enrolment_never_exceeds_the_target(multicdmo: Scenario) -> None:
    sim = simulate(multicdmo, 300, 2)
    total = sim.enrolled_weekly.sum(axis=1) + (sim.compiled.known_enrolled
                                               - sim.compiled.enrolled_today)
    assert total.max() <= multicdmo.trial.target_enrollment


def test_certain_success_withdraws_nobody_and_failure_infuses_nobody(demo: Scenario) -> None:
    good = simulate(_variant(demo, process__success_rate=1.0), 200, 3)
    assert good.withdrawn.max() == 0
    bad = simulate(_variant(demo, process__success_rate=0.0), 200, 3)
    # Only P002, whose DP is already released, can still be infused.
    assert bad.infused.max() <= 1
    assert bad.withdrawn.max() > 0


def test_more_suites_shorten_the_wait(multicdmo: Scenario) -> None:
    data = scenario_data(multicdmo)
    for fac in data["facilities"]:
        if fac["kind"] == "drug_product":
            fac["suites"] *= 3
    roomy = simulate(parse_scenario(data), 300, 4)
    base = simulate(multicdmo, 300, 4)
    assert np.nanmean(roomy.ttt_mean) < np.nanmean(base.ttt_mean)
    assert roomy.waiting_weekly.mean() < base.waiting_weekly.mean()


@settings(max_examples=25, deadline=None)
@given(slips=st.lists(st.integers(0, 60), min_size=5, max_size=5))
def test_vectorised_tech_transfer_matches_the_domain_schedule(slips: list[int]) -> None:
    from chainsight.domain import load_scenario
    from tests.conftest import EXAMPLES

    scenario = load_scenario(EXAMPLES / "cart-phase2-multicdmo.yaml")
    compiled = compile_scenario(scenario)
    j = compiled.facility_ids.index("CDMO-EU")
    transfer = compiled.transfers[j]
    assert transfer is not None
    transfer_obj = scenario.transfer("TT-CDMO-EU")
    order = [m.id for m in transfer_obj.milestones]  # this DAG is a chain: same order
    delays = dict(zip(order, slips, strict=True))
    expected = (schedule_transfer(transfer_obj, scenario.today, delays).ready
                - scenario.today).days
    assert transfer_ready_days(transfer, np.array([slips]))[0] == expected

"""Each detector fires on a situation built to trigger it, and stays quiet on one that must not."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from chainsight.domain import Scenario, parse_scenario
from chainsight.risks import RadarInputs, scan, severity_of
from chainsight.risks.alerts import alert_id, impact_level
from chainsight.risks.detectors import (
    capacity,
    protocol,
    shipment,
    site_activation,
    tech_transfer,
)
from chainsight.risks.detectors import vector as vector_detectors
from tests.domain.factory import scenario_data


def _scenario(**changes: Any) -> Scenario:
    data = scenario_data()
    for mutate in changes.values():
        mutate(data)
    return parse_scenario(data)


def _week(start: str, p50: float, p90: float, use: dict[str, float]) -> dict[str, Any]:
    return {"week_start": start, "enrolled": {"p10": 0, "p50": 1, "p90": 2},
            "infused": {"p10": 0, "p50": 0, "p90": 1},
            "waiting_for_slot": {"p50": p50, "p90": p90},
            "suite_utilisation": use,
            "vector_units_on_hand": {"p10": 1, "p50": 2, "p90": 3}}


def _forecast(weeks: list[dict[str, Any]] | None = None, stockout: float = 0.0,
              first_week: str | None = None) -> dict[str, Any]:
    return {"format": "chainsight-forecast/1", "runs": 100, "seed": 1,
            "weekly": weeks or [],
            "vector_stockout_probability": {"by_horizon_end": stockout,
                                            "first_week_p10": first_week},
            "vector_units_expired": {"p50": 0, "p90": 0},
            "patients_lost_waiting": {"p50": 0, "p90": 0}}


def _row(patient: str, **fields: Any) -> dict[str, Any]:
    row = {"patient": patient, "site": "S01", "enrolled": "2027-01-02",
           "apheresis": "2027-01-11", "facility": "CDMO-A",
           "manufacturing_start": "2027-01-12", "manufacturing_end": "2027-01-22",
           "vector_lot": "LV-001", "release": "2027-02-05", "dp_arrival": "2027-02-07",
           "infusion": "2027-02-08", "batch": None, "deviations": [], "status": "planned"}
    row.update(fields)
    return row


def _plan(rows: list[dict[str, Any]], lots: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"format": "chainsight-plan/1", "patients": rows, "batches": [],
            "vector_lots": lots or [], "unplanned": []}


# -- severity ---------------------------------------------------------------------------

def test_severity_grows_with_probability_and_impact() -> None:
    assert severity_of(0.9, 4) == "critical"
    assert severity_of(1.0, 2) == "high"
    assert severity_of(0.3, 2) == "warning"
    assert severity_of(0.1, 1) == "info"
    order = ["info", "warning", "high", "critical"]
    for impact in (1, 2, 3, 4):
        levels = [order.index(severity_of(p / 10, impact)) for p in range(11)]
        assert levels == sorted(levels)


def test_severity_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="probability"):
        severity_of(1.2, 2)
    with pytest.raises(ValueError, match="impact"):
        severity_of(0.5, 5)


def test_alert_identity_is_stable_and_specific() -> None:
    assert alert_id("vector_expiry", "LV-1") == alert_id("vector_expiry", "LV-1")
    assert alert_id("vector_expiry", "LV-1") != alert_id("vector_expiry", "LV-2")
    assert impact_level(0) == 1
    assert impact_level(7) == 4


# -- capacity_shortfall -----------------------------------------------------------------

def test_capacity_shortfall_triggers_on_queue_at_a_saturated_facility() -> None:
    scenario = _scenario()
    weeks = [_week("2027-03-01", 0, 0, {"CDMO-A": 0.5}),
             _week("2027-03-08", 2, 4, {"CDMO-A": 1.0}),
             _week("2027-03-15", 1, 3, {"CDMO-A": 0.95})]
    alerts = capacity.detect(RadarInputs(scenario, forecast=_forecast(weeks)))
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.kind == "capacity_shortfall"
    assert alert.facilities == ["CDMO-A"]
    assert alert.evidence["weeks"] == ["2027-03-08", "2027-03-15"]
    assert "Reserve 4 more suites at CDMO-A" in alert.action
    assert alert.due == dt.date(2027, 3, 8) - dt.timedelta(days=28)
    assert alert.what_if == {"label": "4 more suite(s) at CDMO-A from 2027-03-08",
                             "suites": [{"facility": "CDMO-A", "suites": 4,
                                         "from": "2027-03-08"}]}
    assert alert.severity in ("high", "critical")


def test_capacity_shortfall_quiet_without_queue() -> None:
    weeks = [_week("2027-03-08", 0, 0, {"CDMO-A": 1.0})]
    assert capacity.detect(RadarInputs(_scenario(), forecast=_forecast(weeks))) == []
    assert capacity.detect(RadarInputs(_scenario())) == []


# -- vector_stockout and vector_campaign_deadline ----------------------------------------

def _supply(weeks: list[tuple[str, int, int, int]]) -> list[dict[str, Any]]:
    """Weeks with vector units on hand at P10 / P50 / P90."""
    rows = []
    for start, p10, p50, p90 in weeks:
        week = _week(start, 0, 0, {})
        week["vector_units_on_hand"] = {"p10": p10, "p50": p50, "p90": p90}
        rows.append(week)
    return rows


def test_stockout_before_a_known_release_is_a_gap() -> None:
    scenario = _scenario(more=lambda d: d["vector"]["lots"].append(
        {"id": "LV-002", "units": 40, "released": "2027-03-01", "expires": "2028-01-01"}))
    forecast = _forecast(stockout=0.6, first_week="2027-02-01")
    alerts = vector_detectors.detect_stockout(RadarInputs(scenario, forecast=forecast))
    assert [a.kind for a in alerts] == ["vector_stockout"]
    assert alerts[0].probability == 0.6
    assert alerts[0].evidence["gap_until_lot"] == "LV-002"
    assert "before lot LV-002 is released on 2027-03-01" in alerts[0].title


def test_campaign_deadline_from_when_the_supply_runs_out() -> None:
    scenario = _scenario()
    supply = _forecast(_supply([("2027-09-27", 2, 4, 6), ("2027-10-04", 0, 3, 5),
                                ("2027-10-11", 0, 0, 4)]), stockout=0.6,
                       first_week="2027-10-04")
    inputs = RadarInputs(scenario, forecast=supply, supply_forecast=supply)
    probability, week = vector_detectors.supply_exhaustion(inputs)
    assert week == dt.date(2027, 10, 4)
    assert probability == 0.5  # the median crosses too, the P90 does not
    deadline = vector_detectors.detect_campaign_deadline(inputs)
    assert len(deadline) == 1
    # lead time 180 days before the early stock-out week
    assert deadline[0].due == dt.date(2027, 10, 4) - dt.timedelta(days=180)
    assert deadline[0].what_if is not None
    assert deadline[0].what_if["campaigns"] == [{
        "facility": "VEC-1", "start": "2027-04-07", "lead_time_days": 180, "units": 60,
        "shelf_life_days": 540}]


def test_campaign_deadline_in_the_past_is_said_so() -> None:
    supply = _forecast(_supply([("2027-03-01", 0, 0, 0)]), stockout=0.9,
                       first_week="2027-03-01")
    inputs = RadarInputs(_scenario(), forecast=supply, supply_forecast=supply)
    alert = vector_detectors.detect_campaign_deadline(inputs)[0]
    assert "passed" in alert.title
    assert alert.due == dt.date(2027, 1, 4)  # today: act now
    assert alert.probability == 0.9


def test_stockout_quiet_when_unlikely() -> None:
    forecast = _forecast(stockout=0.01, first_week=None)
    inputs = RadarInputs(_scenario(), forecast=forecast)
    assert vector_detectors.detect_stockout(inputs) == []
    assert vector_detectors.detect_campaign_deadline(inputs) == []


# -- vector_expiry ----------------------------------------------------------------------

def test_expiry_triggers_with_readout_to_chase_and_patients_to_move() -> None:
    scenario = _scenario(more=lambda d: d["vector"]["lots"].append(
        {"id": "LV-002", "units": 40, "released": "2027-01-01", "expires": "2028-01-01"}))
    plan = _plan([_row("P002", vector_lot="LV-002", manufacturing_start="2027-01-12")],
                 lots=[{"lot": "LV-001", "units_used": 0, "units_expiring_unused": 5},
                       {"lot": "LV-002", "units_used": 1, "units_expiring_unused": 0}])
    alerts = vector_detectors.detect_expiry(RadarInputs(scenario, plan=plan))
    assert [a.lots for a in alerts] == [["LV-001"]]
    alert = alerts[0]
    assert "5 of 5 units" in alert.title
    assert "readout due 2027-02-01" in alert.action
    assert "P002" in alert.action
    assert alert.patients == ["P002"]
    assert alert.due == dt.date(2027, 2, 1)
    assert alert.probability == pytest.approx(0.2)  # saved if the extension comes (0.8)


def test_expiry_quiet_for_a_lot_fully_used_and_far_from_expiry() -> None:
    scenario = _scenario(far=lambda d: d["vector"]["lots"][0].update(expires="2027-12-01",
                                                                      extension=None))
    plan = _plan([], lots=[{"lot": "LV-001", "units_used": 5, "units_expiring_unused": 0}])
    assert vector_detectors.detect_expiry(RadarInputs(scenario, plan=plan)) == []


# -- tech_transfer_slip -----------------------------------------------------------------

def test_tech_transfer_behind_plan_triggers_with_critical_path() -> None:
    alerts = tech_transfer.detect(RadarInputs(_scenario()))
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.facilities == ["CDMO-B"]
    assert alert.owner == "cdmo"
    # docs should have finished 2026-11-01 (kick-off 2026-09-01 + 1 + 60); it has not started
    assert alert.evidence["days_behind_plan"] > 0
    assert [m["milestone"] for m in alert.evidence["critical_path"]] == ["docs", "eng", "gmp"]
    assert alert.severity in ("high", "critical")


def test_tech_transfer_patients_hit_come_from_the_plan() -> None:
    data = scenario_data()
    for m in data["tech_transfer"][0]["milestones"]:
        m["planned_start"] = None
    data["tech_transfer"][0]["milestones"][0]["planned_start"] = "2027-01-04"
    data["tech_transfer"][0]["milestones"][0].pop("done")
    data["tech_transfer"][0]["milestones"][2]["slip_risk_days"] = 30
    scenario = parse_scenario(data)
    ready = dt.date(2027, 1, 4) + dt.timedelta(days=1 + 60 + 40 + 14)
    plan = _plan([_row("P002", facility="CDMO-B",
                       manufacturing_start=(ready + dt.timedelta(days=10)).isoformat())])
    alert = tech_transfer.detect(RadarInputs(scenario, plan=plan))[0]
    assert alert.evidence["days_behind_plan"] == 0
    assert alert.probability == tech_transfer.SLIP_PRIOR
    assert alert.patients == ["P002"]


def test_tech_transfer_on_track_without_slip_risk_is_quiet() -> None:
    data = scenario_data()
    for m in data["tech_transfer"][0]["milestones"]:
        m.pop("planned_start", None)
        m.pop("done", None)
    data["tech_transfer"][0]["milestones"][0]["planned_start"] = "2027-01-04"
    assert tech_transfer.detect(RadarInputs(parse_scenario(data))) == []


# -- site_activation_delay --------------------------------------------------------------

def test_site_past_planned_activation_triggers() -> None:
    scenario = _scenario(late=lambda d: d["sites"][1]["activation"].update(planned="2026-12-01"))
    alerts = site_activation.detect(RadarInputs(scenario))
    assert [a.sites for a in alerts] == [["S02"]]
    assert alerts[0].evidence["days_late"] == 34
    assert alerts[0].what_if is not None
    assert alerts[0].what_if["sites"] == [{"site": "S02", "activation": "2027-01-04"}]


def test_site_not_yet_due_is_quiet() -> None:
    assert site_activation.detect(RadarInputs(_scenario())) == []


# -- protocol_window --------------------------------------------------------------------

def test_protocol_window_triggers_on_planned_deviation() -> None:
    deviation = {"window": "apheresis_latest_days", "days": 4, "window_end": "2027-01-23"}
    plan = _plan([_row("P002", deviations=[deviation])])
    alerts = protocol.detect(RadarInputs(_scenario(), plan=plan))
    assert [a.patients for a in alerts] == [["P002"]]
    assert alerts[0].due == dt.date(2027, 1, 23)
    assert alerts[0].owner == "site"
    assert alerts[0].severity == "high"
    one_day = _plan([_row("P002", deviations=[deviation | {"days": 1}])])
    assert protocol.detect(RadarInputs(_scenario(), plan=one_day))[0].severity == "warning"


def test_protocol_window_quiet_without_deviation() -> None:
    assert protocol.detect(RadarInputs(_scenario(), plan=_plan([_row("P002")]))) == []


# -- shipment_stability -----------------------------------------------------------------

def test_fresh_material_missing_every_start_triggers() -> None:
    # S02 collects on Wed; CDMO-B starts on Mon only; the lane takes 1 day, material holds 2.
    alerts = shipment.detect(RadarInputs(_scenario()))
    s02 = [a for a in alerts if a.sites == ["S02"]]
    assert len(s02) == 1
    assert s02[0].evidence["weekdays_lost"] == ["Wed"]
    assert "1 of 1 apheresis days lost" in s02[0].title


def test_dry_shipper_lane_too_long_triggers() -> None:
    scenario = _scenario(slow=lambda d: d["lanes"][1].update(days=12))
    alerts = [a for a in shipment.detect(RadarInputs(scenario)) if "dry shipper" in a.title]
    assert len(alerts) == 1
    assert alerts[0].owner == "courier"


def test_shipments_quiet_when_every_day_reaches_a_start() -> None:
    def fix(d: dict[str, Any]) -> None:
        d["facilities"][1]["start_weekdays"] = ["Mon", "Tue", "Wed", "Thu", "Fri"]
        d["facilities"][0]["start_weekdays"] = ["Mon", "Tue", "Wed", "Thu", "Fri"]
    assert shipment.detect(RadarInputs(_scenario(fix=fix))) == []


def test_cryopreserved_material_has_no_fresh_window() -> None:
    scenario = _scenario(cryo=lambda d: d["trial"]["protocol"].update(material="cryopreserved"))
    assert shipment.detect(RadarInputs(scenario)) == []


# -- the whole radar --------------------------------------------------------------------

def test_scan_ranks_most_severe_first(demo: Scenario) -> None:
    alerts = scan(RadarInputs(demo))
    ranks = [a.rank for a in alerts]
    assert ranks == sorted(ranks)
    kinds = {a.kind for a in alerts}
    assert "tech_transfer_slip" in kinds  # the demo's late second CDMO
    assert "vector_expiry" in kinds  # the demo's expiring lot

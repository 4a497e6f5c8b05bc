"""Re-planning: each event kind, the freeze window, minimal change, clear errors."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from chainsight.cli.main import app
from chainsight.domain import Scenario
from chainsight.planning import Plan, plan
from chainsight.planning.replan import EventInvalid, replan, replan_detail
from tests.planning.checker import check_plan
from tests.planning.conftest import assert_feasible
from tests.planning.factory import base, build, day

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_plan(demo: Scenario) -> Plan:
    return plan(demo, time_limit=5)


def _kept_inside_window(before: Plan, after: Plan, frozen: list[str]) -> None:
    for pid in frozen:
        a, b = before.patient(pid), after.patient(pid)
        assert (a.apheresis, a.manufacturing_start, a.facility, a.vector_lot, a.infusion) == \
            (b.apheresis, b.manufacturing_start, b.facility, b.vector_lot, b.infusion)


EVENTS = [
    {"kind": "suites_out_of_service", "facility": "CDMO-A", "start": "2027-01-04",
     "end": "2027-01-20", "suites": 1},
    {"kind": "run_failed", "patient": "P003"},
    {"kind": "apheresis_rescheduled", "patient": "P006", "not_before": "2027-02-01"},
    {"kind": "shipment_delayed", "patient": "P004", "days": 5},
    {"kind": "extension_granted", "lot": "LV-001"},
    {"kind": "extension_refused", "lot": "LV-001"},
    {"kind": "lot_quarantined", "lot": "LV-001"},
    {"kind": "patient_enrolled", "patient": "P011", "site": "S01", "enrolled": "2027-01-06",
     "priority": 2.0},
    {"kind": "patient_withdrawn", "patient": "P005"},
]


@pytest.mark.parametrize("event", EVENTS, ids=[e["kind"] for e in EVENTS])
def test_every_event_kind_replans_feasibly(demo: Scenario, demo_plan: Plan,
                                           event: dict) -> None:
    new_scenario, result = replan_detail(demo, demo_plan, event, time_limit=2)
    assert_feasible(new_scenario, result.plan)
    _kept_inside_window(demo_plan, result.plan, result.frozen)
    assert result.plan.solver.seconds < 5


def test_run_failed_needs_a_new_apheresis(demo: Scenario, demo_plan: Plan) -> None:
    new_scenario, after, changes = replan(demo, demo_plan, {"kind": "run_failed",
                                                            "patient": "P003"})
    assert new_scenario.patient("P003").outcome == "failed"
    p3 = after.patient("P003")
    assert p3.apheresis >= demo.today
    assert any(c.patient == "P003" and c.field == "apheresis" for c in changes)


def test_shipment_delay_moves_only_that_infusion(demo: Scenario, demo_plan: Plan) -> None:
    _, after, changes = replan(demo, demo_plan, {"kind": "shipment_delayed",
                                                 "patient": "P004", "days": 5})
    before = demo_plan.patient("P004")
    assert after.patient("P004").infusion >= before.dp_arrival + dt.timedelta(days=5)
    assert {c.patient for c in changes} == {"P004"}


def test_withdrawal_and_enrolment_are_reported(demo: Scenario, demo_plan: Plan) -> None:
    _, after, changes = replan(demo, demo_plan, {"kind": "patient_withdrawn",
                                                 "patient": "P005"})
    assert ("P005", "status", "planned", None) in [
        (c.patient, c.field, c.before, c.after) for c in changes]
    _, after, changes = replan(demo, demo_plan, {
        "kind": "patient_enrolled", "patient": "P011", "site": "S01",
        "enrolled": "2027-01-06"})
    assert any(c.patient == "P011" and c.after == "planned" for c in changes)
    assert after.patient("P011").infusion is not None


def test_freeze_window_holds_even_when_moving_would_pay() -> None:
    # Two patients, one suite: a new high-priority patient would like P01's slot, but
    # P01's booking is inside the freeze window.
    data = base(patients=1, suites=1)
    scenario = build(data)
    before = plan(scenario, time_limit=2)
    event = {"kind": "patient_enrolled", "patient": "P99", "site": "S1",
             "enrolled": day(0), "priority": 5.0}
    _, frozen = replan_detail(scenario, before, event, freeze_days=14)
    assert frozen.frozen == ["P01"]
    assert frozen.plan.patient("P01").infusion == before.patient("P01").infusion
    _, free = replan_detail(scenario, before, event, freeze_days=0)
    assert free.frozen == []
    assert free.plan.patient("P99").infusion < free.plan.patient("P01").infusion


def test_rescheduled_apheresis_gives_the_slot_to_who_gains(demo: Scenario,
                                                           demo_plan: Plan) -> None:
    new_scenario, result = replan_detail(
        demo, demo_plan, {"kind": "apheresis_rescheduled", "patient": "P006",
                          "not_before": "2027-03-01"}, freeze_days=0)
    assert result.plan.patient("P006").apheresis >= dt.date(2027, 3, 1)
    assert "P006" in result.broken
    assert_feasible(new_scenario, result.plan)


def test_quiet_event_changes_little(demo: Scenario, demo_plan: Plan) -> None:
    _, result = replan_detail(demo, demo_plan, {"kind": "extension_granted", "lot": "LV-001"})
    assert len(result.changes) <= 3


@pytest.mark.parametrize(("event", "field"), [
    ({"kind": "shipment_delayed", "patient": "P004"}, "event.days"),
    ({"kind": "shipment_delayed", "patient": "P004", "days": 0}, "event.days"),
    ({"kind": "teleport"}, "event.kind"),
    ({"kind": "lot_quarantined", "lot": "LV-009"}, "event.lot"),
    ({"kind": "run_failed", "patient": "P006"}, "event.patient"),
    ({"kind": "suites_out_of_service", "facility": "CDMO-A", "start": "2027-02-30",
      "end": "2027-03-01", "suites": 1}, "event.start"),
])
def test_bad_events_name_the_field(demo: Scenario, demo_plan: Plan, event: dict,
                                   field: str) -> None:
    with pytest.raises(EventInvalid, match=field.replace(".", r"\.")):
        replan(demo, demo_plan, event)


def test_replan_cli_json_and_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    event = tmp_path / "event.yaml"
    event.write_text("kind: patient_withdrawn\npatient: P005\n")
    result = runner.invoke(app, ["replan", "examples/demo-cart-phase1.yaml", "--event",
                                 str(event), "--json", "--time-limit", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["plan"]["format"] == "chainsight-plan/1"
    assert any(c["patient"] == "P005" for c in data["changes"])
    assert check_plan(build_withdrawn(), data["plan"]) == []
    bad = runner.invoke(app, ["replan", "examples/demo-cart-phase1.yaml", "--event",
                              '{"kind": "shipment_delayed", "patient": "P004"}'])
    assert bad.exit_code == 2
    assert "event.days" in bad.output
    assert "Traceback" not in bad.output


def build_withdrawn() -> Scenario:
    from chainsight.domain import load_scenario, parse_scenario, scenario_data

    data = scenario_data(load_scenario("examples/demo-cart-phase1.yaml"))
    next(p for p in data["patients"] if p["id"] == "P005")["outcome"] = "withdrawn"
    return parse_scenario(data)


def _batch_of(p: Plan, patient: str) -> tuple:
    entry = p.patient(patient)
    batch = next(b for b in p.batches if b.batch == entry.batch)
    return batch.facility, batch.manufacturing_start, batch.vector_lot


BATCH_EVENTS = [
    {"kind": "patient_enrolled", "patient": "P099", "site": "S01", "enrolled": "2027-03-30",
     "priority": 3.0, "doses": 1},
    {"kind": "suites_out_of_service", "facility": "CDMO-US", "start": "2027-05-01",
     "end": "2027-06-15", "suites": 1},
    {"kind": "patient_withdrawn", "patient": "P010"},
]


@pytest.mark.parametrize("event", BATCH_EVENTS, ids=[e["kind"] for e in BATCH_EVENTS])
def test_batch_replan_keeps_the_batches_and_dosings_inside_the_freeze_window(
        aav: Scenario, event: dict) -> None:
    before = plan(aav, time_limit=5)
    window_end = aav.today + dt.timedelta(days=14)
    started = [(b.facility, b.manufacturing_start, b.vector_lot) for b in before.batches
               if b.manufacturing_start < window_end]
    assert started, "the reference plan starts a batch inside the window"
    new_scenario, result = replan_detail(aav, before, event, freeze_days=14, time_limit=2)
    assert check_plan(new_scenario, result.plan.to_json()) == []
    after = {(b.facility, b.manufacturing_start, b.vector_lot) for b in result.plan.batches}
    assert set(started) <= after
    dosed_early = [e.patient for e in before.patients
                   if e.infusion is not None and e.infusion < window_end]
    for pid in dosed_early:
        if pid == event.get("patient") and event["kind"] == "patient_withdrawn":
            continue
        assert pid in result.frozen
        assert result.plan.patient(pid).infusion == before.patient(pid).infusion
        assert _batch_of(result.plan, pid) == _batch_of(before, pid)


def test_batch_freeze_window_holds_even_when_moving_would_pay() -> None:
    # One suite, four-dose batches: an urgent patient needing a whole batch would gain
    # from taking P01's batch, but that batch and P01's dosing are inside the window.
    data = base(modality="batch", patients=1, suites=1)
    data["patients"][0]["doses"] = 4
    scenario = build(data)
    before = plan(scenario, time_limit=2)
    assert [b.manufacturing_start for b in before.batches] == [scenario.today]
    event = {"kind": "patient_enrolled", "patient": "P99", "site": "S1",
             "enrolled": day(0), "priority": 5.0, "doses": 4}
    _, frozen = replan_detail(scenario, before, event, freeze_days=14)
    assert frozen.frozen == ["P01"]
    assert frozen.plan.patient("P01").infusion == before.patient("P01").infusion
    assert _batch_of(frozen.plan, "P01") == _batch_of(before, "P01")
    assert frozen.plan.patient("P99").infusion > frozen.plan.patient("P01").infusion
    _, free = replan_detail(scenario, before, event, freeze_days=0)
    assert free.frozen == []
    assert free.plan.patient("P99").infusion < free.plan.patient("P01").infusion


def test_replan_short_of_vector_does_not_take_a_planned_patients_treatment(
        multicdmo: Scenario) -> None:
    # Ten patients already lack vector; an urgent new patient would score better than a
    # planned one, but a re-plan moves dates, it does not reassign who is treated.
    before = plan(multicdmo, time_limit=5)
    assert before.unplanned
    event = {"kind": "patient_enrolled", "patient": "P999", "site": "S01",
             "enrolled": multicdmo.today.isoformat(), "priority": 3.0}
    new_scenario, result = replan_detail(multicdmo, before, event, time_limit=2)
    assert check_plan(new_scenario, result.plan.to_json()) == []
    planned_before = {e.patient for e in before.patients}
    assert planned_before <= {e.patient for e in result.plan.patients}
    assert "P999" in {u.patient for u in result.plan.unplanned}

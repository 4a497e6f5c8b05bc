"""Recording events in the store: a whole journey, idempotency, refusals and what they leave."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chainsight.domain import dump_scenario
from chainsight.domain.events import EventInvalid
from chainsight.domain.journey import EventRefused
from chainsight.record import repository as repo
from chainsight.record.models import AlertRow, AuditRow, EventRow
from chainsight.record.service import IdempotencyConflict, TrialNotStored, event_list
from chainsight.store.repository import get_scenario
from tests.domain.journey_events import TRIAL, custody, event, journey
from tests.record.conftest import coi_of, submit, with_coi


def _count(factory: sessionmaker[Session], model: Any) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _play_journey(factory: sessionmaker[Session]) -> list[str]:
    first, *rest = journey()
    states = [submit(factory, first).state or ""]
    coi = coi_of(factory, "P004")
    for data in with_coi(rest, coi):
        states.append(submit(factory, data).state or "")
    return states


def test_a_whole_journey_is_recorded_and_the_scenario_follows(
    factory: sessionmaker[Session],
) -> None:
    states = _play_journey(factory)
    assert states == ["apheresis_scheduled", "collected", "in_transit_to_cdmo", "at_cdmo",
                      "manufacturing", "released", "dp_in_transit", "dp_received", "infused"]
    with factory() as session:
        scenario = get_scenario(session, TRIAL)
        assert scenario is not None
        recorded = event_list(session, TRIAL, "P004")
        hand_overs = repo.custody_chain(session, TRIAL, "P004")
    patient = scenario.patient("P004")
    assert (patient.apheresis, patient.manufacturing_start, patient.infusion) == (
        dt.date(2027, 1, 5), dt.date(2027, 1, 6), dt.date(2027, 2, 1))
    assert patient.outcome == "infused"
    assert scenario.lot("LV-001").units == 2
    assert scenario.today == dt.date(2027, 2, 1)
    assert [e["sequence"] for e in recorded] == list(range(1, 10))
    assert [(h.from_party, h.to_party) for h in hand_overs] == [
        ("S01", "courier"), ("courier", "CDMO-A"), ("CDMO-A", "courier"), ("courier", "S01")]
    assert all(h.coi == coi_of(factory, "P004") for h in hand_overs)
    # what `export` writes is the stored scenario: the infusion is in it
    assert "infusion: '2027-02-01'" in dump_scenario(scenario)


def test_the_plan_follows_the_record(factory: sessionmaker[Session]) -> None:
    planning = pytest.importorskip("chainsight.planning")
    if not hasattr(planning, "plan"):
        pytest.skip("the planner has no plan() yet")
    first, *rest = journey()
    submit(factory, first)
    coi = coi_of(factory, "P004")
    for data in with_coi(rest[:4], coi):  # up to the run start
        submit(factory, data)

    def planned() -> dict[str, Any]:
        with factory() as session:
            scenario = get_scenario(session, TRIAL)
        return planning.plan(scenario, policy="fcfs").to_json()  # type: ignore[no-any-return]

    during = planned()
    p004 = next(p for p in during["patients"] if p["patient"] == "P004")
    assert (p004["apheresis"], p004["manufacturing_start"], p004["vector_lot"]) == (
        "2027-01-05", "2027-01-06", "LV-001")
    assert p004["release"] == "2027-01-30"
    for data in with_coi(rest[4:], coi):  # released, shipped, received, infused
        submit(factory, data)
    after = planned()
    assert after["today"] == "2027-02-01"
    assert "P004" not in {p["patient"] for p in after["patients"]
                          if p["status"] != "infused"}


def test_sending_twice_with_the_same_key_writes_once(factory: sessionmaker[Session]) -> None:
    data = event("apheresis_scheduled", "2027-01-04", day="2027-01-05")
    first = submit(factory, data, key="site-42")
    counts = (_count(factory, EventRow), _count(factory, AuditRow))
    again = submit(factory, data, key="site-42", user="bob")
    assert again.duplicate
    assert again.sequence == first.sequence
    assert (again.state, again.coi) == (first.state, first.coi)
    assert (_count(factory, EventRow), _count(factory, AuditRow)) == counts
    changed = {**data, "day": "2027-01-06"}
    with pytest.raises(IdempotencyConflict, match="site-42"):
        submit(factory, changed, key="site-42")


def test_a_coi_mismatch_is_refused_kept_as_an_alert_and_changes_nothing(
    factory: sessionmaker[Session],
) -> None:
    submit(factory, event("apheresis_scheduled", "2027-01-04", day="2027-01-05"))
    wrong = coi_of(factory, "P006")
    before = _count(factory, EventRow)
    with pytest.raises(EventRefused) as caught:
        submit(factory, event("apheresis_done", "2027-01-05", coi=wrong), user="carol")
    assert caught.value.code == "coi_mismatch"
    assert caught.value.field == "coi"
    assert _count(factory, EventRow) == before
    with factory() as session:
        alerts = repo.alerts(session, TRIAL)
        scenario = get_scenario(session, TRIAL)
    assert [(a.kind, a.code, a.patient, a.raised_by) for a in alerts] == [
        ("refused", "coi_mismatch", "P004", "carol")]
    assert scenario is not None
    assert scenario.patient("P004").apheresis is None


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (event("infused", "2027-01-05", coi="{coi}"), "wrong_state"),
        (event("apheresis_done", "2027-03-05", coi="{coi}"), "future"),
        (event("apheresis_scheduled", "2027-01-04", day="2027-01-09"), "no_capacity"),
    ],
)
def test_refusals_through_the_store(factory: sessionmaker[Session], data: dict[str, Any],
                                    code: str) -> None:
    if data.get("coi") == "{coi}":
        submit(factory, event("apheresis_scheduled", "2027-01-04", day="2027-01-05"))
        data = {**data, "coi": coi_of(factory, "P004")}
    with pytest.raises(EventRefused) as caught:
        submit(factory, data)
    assert caught.value.code == code
    assert _count(factory, AlertRow) == 1


def test_invalid_data_and_unknown_trials(factory: sessionmaker[Session]) -> None:
    with pytest.raises(EventInvalid) as caught:
        submit(factory, {"kind": "infused", "trial": TRIAL, "occurred_on": "2027-01-05"})
    assert {p.path for p in caught.value.problems} == {"patient", "coi"}
    with pytest.raises(TrialNotStored, match="NOPE"):
        submit(factory, {**event("apheresis_scheduled", "2027-01-04", day="2027-01-05"),
                         "trial": "NOPE"})


def test_an_excursion_flags_the_material_for_qa(factory: sessionmaker[Session]) -> None:
    submit(factory, event("apheresis_scheduled", "2027-01-04", day="2027-01-05"))
    coi = coi_of(factory, "P004")
    submit(factory, event("apheresis_done", "2027-01-05", coi=coi))
    result = submit(factory, event("material_shipped", "2027-01-05", coi=coi,
                                   facility="CDMO-A",
                                   custody=custody("2027-01-05", "S01", "courier", ok=False)))
    assert "awaiting QA decision" in result.alerts[0]
    with factory() as session:
        [hand_over] = repo.custody_chain(session, TRIAL, "P004")
        alerts = repo.alerts(session, TRIAL)
    assert (hand_over.temperature_ok, hand_over.qa_status) == (False, "pending")
    assert [a.kind for a in alerts] == ["excursion"]


def test_enrolling_a_new_patient_issues_a_coi(factory: sessionmaker[Session]) -> None:
    submit(factory, {"kind": "site_activated", "trial": TRIAL, "occurred_on": "2027-01-04",
                     "site": "S03"})
    result = submit(factory, event("patient_enrolled", "2027-01-05", patient="P011",
                                   site="S03"))
    assert result.state == "enrolled"
    assert result.coi == coi_of(factory, "P011")
    with factory() as session:
        scenario = get_scenario(session, TRIAL)
    assert scenario is not None
    assert scenario.patient("P011").site == "S03"

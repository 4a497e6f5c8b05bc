"""The patient journey state machine on the demo trial: what it accepts and every refusal."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from chainsight.domain import Scenario
from chainsight.domain.events import EventInvalid, parse_event
from chainsight.domain.journey import (
    EventRefused,
    JourneyState,
    Ledger,
    apply_event,
    ledger_from_scenario,
)
from tests.domain.journey_events import (
    COI,
    NOW,
    OTHER_COI,
    TRIAL,
    custody,
    event,
    journey,
)


@pytest.fixture
def ledger(demo: Scenario) -> Ledger:
    """The demo trial with P004 and P006 holding chain-of-identity ids."""
    return ledger_from_scenario(demo, {"P004": COI, "P006": OTHER_COI})


def play(ledger: Ledger, *events: dict[str, Any], now: dt.datetime = NOW) -> Ledger:
    for data in events:
        ledger = apply_event(ledger, parse_event(data), now=now).ledger
    return ledger


def refused(ledger: Ledger, *events: dict[str, Any], now: dt.datetime = NOW) -> EventRefused:
    *before, last = events
    ledger = play(ledger, *before, now=now)
    with pytest.raises(EventRefused) as caught:
        apply_event(ledger, parse_event(last), now=now)
    return caught.value


def to_cdmo(day: str, facility: str = "CDMO-A", arrive: str | None = None
            ) -> list[dict[str, Any]]:
    """P004 collected on ``day`` and received at ``facility`` (the next day by default)."""
    arrive = arrive or (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    return [
        event("apheresis_done", day, coi=COI),
        event("material_shipped", day, coi=COI, facility=facility,
              custody=custody(day, "S01", "courier")),
        event("material_received", arrive, coi=COI, facility=facility,
              custody=custody(arrive, "courier", facility)),
    ]


def test_initial_states_follow_the_scenario(ledger: Ledger) -> None:
    states = {pid: j.state for pid, j in ledger.journeys.items()}
    assert states["P001"] is JourneyState.INFUSED
    assert states["P002"] is JourneyState.RELEASED
    assert states["P003"] is JourneyState.MANUFACTURING
    assert ledger.journey("P003").state_on(dt.date(2027, 1, 4)) is JourneyState.QC
    assert states["P004"] is JourneyState.ENROLLED
    assert states["P007"] is JourneyState.EXPECTED


def test_whole_journey_updates_the_scenario(ledger: Ledger) -> None:
    seen = []
    for data in journey():
        ledger = play(ledger, data)
        seen.append(ledger.journey("P004").state.value)
    assert seen == ["apheresis_scheduled", "collected", "in_transit_to_cdmo", "at_cdmo",
                    "manufacturing", "released", "dp_in_transit", "dp_received", "infused"]
    patient = ledger.scenario.patient("P004")
    assert patient.apheresis == dt.date(2027, 1, 5)
    assert patient.manufacturing_start == dt.date(2027, 1, 6)
    assert (patient.facility, patient.vector_lot) == ("CDMO-A", "LV-001")
    assert (patient.outcome, patient.infusion) == ("infused", dt.date(2027, 2, 1))
    assert ledger.scenario.lot("LV-001").units == 2
    assert ledger.scenario.today == dt.date(2027, 2, 1)


def test_trial_events_update_the_scenario(ledger: Ledger) -> None:
    ledger = play(
        ledger,
        {"kind": "extension_granted", "trial": TRIAL, "occurred_on": "2027-01-04",
         "lot": "LV-001"},
        {"kind": "reservation_added", "trial": TRIAL, "occurred_on": "2027-01-04",
         "facility": "CDMO-A", "suites": 1, "start": "2027-05-01", "end": "2027-05-31",
         "label": "shutdown"},
        {"kind": "milestone_done", "trial": TRIAL, "occurred_on": "2027-01-20",
         "transfer": "TT-B", "milestone": "eng"},
        {"kind": "site_activated", "trial": TRIAL, "occurred_on": "2027-02-15", "site": "S03"},
        {"kind": "lot_released", "trial": TRIAL, "occurred_on": "2027-02-16", "lot": "LV-003",
         "units": 50, "expires": "2028-06-30", "facility": "VEC-1"},
        {"kind": "patient_enrolled", "trial": TRIAL, "occurred_on": "2027-02-16",
         "patient": "P011", "site": "S03"},
    )
    scenario = ledger.scenario
    assert scenario.lot("LV-001").extension is not None
    assert scenario.lot("LV-001").extension.status == "granted"
    assert scenario.facility("CDMO-A").reservations[-1].label == "shutdown"
    assert scenario.transfer("TT-B").milestones[2].done == dt.date(2027, 1, 20)
    assert scenario.site("S03").activation.actual == dt.date(2027, 2, 15)
    assert scenario.lot("LV-003").units == 50
    assert scenario.patient("P011").enrolled == dt.date(2027, 2, 16)
    assert ledger.journey("P011").state is JourneyState.ENROLLED


def test_expected_patient_enrols(ledger: Ledger) -> None:
    ledger = play(ledger, event("patient_enrolled", "2027-01-08", patient="P007", site="S02"))
    assert ledger.scenario.patient("P007").enrolled == dt.date(2027, 1, 8)
    assert ledger.journey("P007").state is JourneyState.ENROLLED


def test_failed_run_needs_a_new_apheresis(ledger: Ledger) -> None:
    ledger = play(ledger, *to_cdmo("2027-01-05"),
                  event("run_started", "2027-01-06", coi=COI, facility="CDMO-A",
                        vector_lot="LV-001"),
                  event("run_failed", "2027-01-10", coi=COI, reason="transduction failed"))
    assert ledger.journey("P004").state is JourneyState.NEEDS_REAPHERESIS
    assert ledger.scenario.patient("P004").outcome == "failed"
    ledger = play(ledger, event("apheresis_done", "2027-01-12", coi=COI))
    patient = ledger.scenario.patient("P004")
    assert (patient.apheresis, patient.manufacturing_start, patient.outcome) == (
        dt.date(2027, 1, 12), None, None)


def test_excursion_flags_the_material(ledger: Ledger) -> None:
    ledger = play(ledger, event("apheresis_done", "2027-01-05", coi=COI))
    applied = apply_event(ledger, parse_event(event(
        "material_shipped", "2027-01-05", coi=COI, facility="CDMO-A",
        custody=custody("2027-01-05", "S01", "courier", ok=False))), now=NOW)
    assert applied.custody is not None
    assert not applied.custody.temperature_ok
    assert "awaiting QA decision" in applied.alerts[0]
    assert applied.ledger.journey("P004").qa_flags


def test_quarantine_withholds_units_until_released(ledger: Ledger) -> None:
    ledger = play(ledger, {"kind": "lot_quarantined", "trial": TRIAL,
                           "occurred_on": "2027-01-04", "lot": "LV-001", "reason": "OOS"})
    assert ledger.scenario.lot("LV-001").units == 0
    ledger = play(ledger, {"kind": "lot_released", "trial": TRIAL, "occurred_on": "2027-01-05",
                           "lot": "LV-001"})
    assert ledger.scenario.lot("LV-001").units == 3


LOT = {"trial": TRIAL, "occurred_on": "2027-01-04", "lot": "LV-001"}


@pytest.mark.parametrize(
    ("events", "field", "code", "words"),
    [
        pytest.param([{**event("infused", "2027-01-05", coi=COI), "trial": "OTHER"}],
                     "trial", "unknown_reference", "OTHER", id="other-trial"),
        pytest.param([event("apheresis_done", "2027-03-02", coi=COI)],
                     "occurred_on", "future", "future", id="future"),
        pytest.param([event("apheresis_done", "2027-01-05", coi=COI),
                      event("material_shipped", "2027-01-04", coi=COI, facility="CDMO-A",
                            custody=custody("2027-01-04", "S01", "c"))],
                     "occurred_on", "out_of_order", "before the previous event",
                     id="before-previous"),
        pytest.param([event("apheresis_done", "2027-01-05", coi=OTHER_COI)],
                     "coi", "coi_mismatch", "not the chain-of-identity id", id="coi-mismatch"),
        pytest.param([event("apheresis_done", "2027-01-05", coi=COI, patient="P005")],
                     "coi", "coi_missing", "no chain-of-identity id", id="coi-missing"),
        pytest.param([*to_cdmo("2027-01-05"), event("infused", "2027-01-07", coi=COI)],
                     "kind", "wrong_state", "no infusion before the drug product is received",
                     id="infusion-before-dp"),
        pytest.param([event("run_started", "2027-01-05", coi=COI, facility="CDMO-A",
                            vector_lot="LV-001")],
                     "kind", "wrong_state", "material received at the CDMO",
                     id="run-before-material"),
        pytest.param([*to_cdmo("2027-02-15"),
                      event("run_started", "2027-02-16", coi=COI, facility="CDMO-A",
                            vector_lot="LV-001")],
                     "vector_lot", "lot_unusable", "expired on 2027-02-15 (its extension is "
                     "still pending)", id="expired-lot"),
        pytest.param([*to_cdmo("2027-01-11"),
                      event("run_started", "2027-01-12", coi=COI, facility="CDMO-A",
                            vector_lot="LV-002")],
                     "vector_lot", "lot_unusable", "not released before 2027-02-01",
                     id="unreleased-lot"),
        pytest.param([{**LOT, "kind": "lot_quarantined", "reason": "sterility"},
                      *to_cdmo("2027-01-05"),
                      event("run_started", "2027-01-06", coi=COI, facility="CDMO-A",
                            vector_lot="LV-001")],
                     "vector_lot", "lot_unusable", "quarantined", id="quarantined-lot"),
        pytest.param([*to_cdmo("2027-01-05", "CDMO-B", "2027-01-07"),
                      event("run_started", "2027-01-11", coi=COI, facility="CDMO-B",
                            vector_lot="LV-001")],
                     "facility", "not_ready", "not ready for this trial", id="before-ready"),
        pytest.param([*to_cdmo("2027-01-05"),
                      event("run_started", "2027-01-06", coi=COI, facility="CDMO-B",
                            vector_lot="LV-001")],
                     "facility", "unknown_reference", "the material is at CDMO-A",
                     id="wrong-facility"),
        pytest.param([*to_cdmo("2027-01-06"),
                      event("run_started", "2027-01-08", coi=COI, facility="CDMO-A",
                            vector_lot="LV-001")],
                     "occurred_on", "no_capacity", "does not start runs on Fri",
                     id="not-a-start-day"),
        pytest.param([*to_cdmo("2027-01-04", arrive="2027-01-05"),
                      event("run_started", "2027-01-07", coi=COI, facility="CDMO-A",
                            vector_lot="LV-001")],
                     "occurred_on", "protocol", "must start manufacturing by 2027-01-06",
                     id="fresh-too-old"),
        pytest.param([*to_cdmo("2027-01-05"),
                      event("run_started", "2027-01-06", coi=COI, facility="CDMO-A",
                            vector_lot="LV-001"),
                      event("qc_released", "2027-01-15", coi=COI)],
                     "kind", "wrong_state", "QC release comes after the run has ended",
                     id="release-during-run"),
        pytest.param([event("apheresis_scheduled", "2027-01-04", day="2027-01-08")],
                     "day", "no_capacity", "does not do apheresis on Fri", id="apheresis-weekday"),
        pytest.param([event("apheresis_scheduled", "2027-01-04", day="2027-01-07"),
                      event("apheresis_scheduled", "2027-01-04", day="2027-01-07",
                            patient="P006")],
                     "day", "conflict", "is full (1 of 1 booked)", id="apheresis-full"),
        pytest.param([event("apheresis_scheduled", "2027-01-04", day="2027-01-05",
                            patient="P006")],
                     "day", "protocol", "earliest apheresis (2027-01-07)",
                     id="apheresis-too-early"),
        pytest.param([event("patient_enrolled", "2027-01-04", patient="P011", site="S03")],
                     "site", "site_not_active", "not activated", id="site-not-active"),
        pytest.param([event("patient_enrolled", "2027-01-04", site="S01")],
                     "patient", "wrong_state", "already enrolled", id="enrolled-twice"),
        pytest.param([event("patient_enrolled", "2027-01-04", patient="P011", site="S01",
                            coi=COI)],
                     "coi", "coi_mismatch", "already identifies patient P004", id="coi-reused"),
        pytest.param([event("apheresis_done", "2027-01-05", coi=COI, patient="P999")],
                     "patient", "unknown_reference", "no patient 'P999'", id="unknown-patient"),
        pytest.param([{**LOT, "kind": "extension_granted"}, {**LOT, "kind": "extension_refused"}],
                     "lot", "wrong_state", "already granted", id="extension-decided"),
        pytest.param([{**LOT, "kind": "extension_granted", "lot": "LV-002"}],
                     "lot", "wrong_state", "no shelf-life extension", id="no-extension"),
        pytest.param([{**LOT, "kind": "lot_released", "lot": "LV-009"}],
                     "units", "unknown_reference", "is new", id="new-lot-without-units"),
        pytest.param([{"kind": "milestone_done", "trial": TRIAL, "occurred_on": "2027-01-04",
                       "transfer": "TT-B", "milestone": "ppq"}],
                     "milestone", "wrong_state", "comes after 'eng'", id="milestone-early"),
        pytest.param([{"kind": "site_activated", "trial": TRIAL, "occurred_on": "2027-01-04",
                       "site": "S01"}],
                     "site", "wrong_state", "already activated", id="site-twice"),
        pytest.param([{"kind": "reservation_added", "trial": TRIAL, "occurred_on": "2027-01-04",
                       "facility": "CDMO-A", "suites": 3, "start": "2027-05-01",
                       "end": "2027-05-02"}],
                     "suites", "no_capacity", "has 2", id="reservation-too-big"),
    ],
)
def test_refusals(ledger: Ledger, events: list[dict[str, Any]], field: str, code: str,
                  words: str) -> None:
    error = refused(ledger, *events)
    assert (error.field, error.code) == (field, code)
    assert words in error.message


def test_no_free_suite(ledger: Ledger) -> None:
    # One of CDMO-A's two suites is taken for January; P004's run holds the other.
    busy = play(ledger, {"kind": "reservation_added", "trial": TRIAL, "occurred_on": "2027-01-04",
                         "facility": "CDMO-A", "suites": 1, "start": "2027-01-01",
                         "end": "2027-01-31"},
                *to_cdmo("2027-01-05"),
                event("run_started", "2027-01-06", coi=COI, facility="CDMO-A",
                      vector_lot="LV-001"),
                event("apheresis_done", "2027-01-11", coi=OTHER_COI, patient="P006"),
                event("material_shipped", "2027-01-11", coi=OTHER_COI, facility="CDMO-A",
                      patient="P006", custody=custody("2027-01-11", "S01", "c")))
    busy = play(busy, event("material_received", "2027-01-12", coi=OTHER_COI, patient="P006",
                            facility="CDMO-A", custody=custody("2027-01-12", "c", "CDMO-A")))
    with pytest.raises(EventRefused, match="no free suite at CDMO-A on 2027-01-12") as caught:
        play(busy, event("run_started", "2027-01-12", coi=OTHER_COI, patient="P006",
                         facility="CDMO-A", vector_lot="LV-001"))
    assert caught.value.code == "conflict"


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"kind": "withdrawn", "trial": TRIAL, "occurred_on": "2027-01-04", "patient": "P004"},
         ""),
        ({"kind": "teleported", "trial": TRIAL}, "kind"),
        ({"trial": TRIAL}, "kind"),
        ({"kind": "infused", "trial": TRIAL, "occurred_on": "2027-02-30", "patient": "P004",
          "coi": COI}, "occurred_on"),
        ({"kind": "infused", "trial": TRIAL, "occurred_on": "2027-02-01", "patient": "P004",
          "coi": COI[:-1] + "0"}, "coi"),
        ({"kind": "dp_shipped", "trial": TRIAL, "occurred_on": "2027-02-01", "patient": "P004",
          "coi": COI, "custody": {"from": "a", "to": "b", "by": "c", "where": "d",
                                  "at": "2027-02-01T10:00:00"}}, "custody.at"),
        ({"kind": "dp_shipped", "trial": TRIAL, "occurred_on": "2027-02-01", "patient": "P004",
          "coi": COI, "custody": {"from": "a", "to": "b", "by": "c", "where": "d",
                                  "at": "2027-02-01T10:00:00Z", "temperature_ok": False}},
         "custody"),
        ({"kind": "infused", "trial": TRIAL, "occurred_on": "2027-02-01", "patient": "P004",
          "coi": COI, "colour": "blue"}, "colour"),
    ],
)
def test_invalid_events_name_the_field(data: dict[str, Any], path: str) -> None:
    with pytest.raises(EventInvalid) as caught:
        parse_event(data)
    assert caught.value.problems[0].path == path

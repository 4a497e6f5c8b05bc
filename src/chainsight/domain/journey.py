"""The patient journey as a state machine, and what an event does to a scenario.

:func:`apply_event` decides whether an event may happen given everything recorded so
far (a :class:`Ledger`: the scenario plus what the scenario format cannot say, such as
a booked apheresis, material in transit or a quarantined lot) and returns the updated
ledger. A refusal is an :class:`EventRefused` that names the field at fault and says why.
The updated scenario is checked again as a whole, so the plan and forecast always start
from a scenario that could have been loaded from a file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import Field

from chainsight.domain import events as ev
from chainsight.domain.common import Strict, weekday_name
from chainsight.domain.errors import ScenarioInvalid
from chainsight.domain.loading import scenario_data
from chainsight.domain.patient import Patient
from chainsight.domain.readiness import facility_ready_day
from chainsight.domain.scenario import Scenario
from chainsight.domain.validation import parse_scenario

_DAY = dt.timedelta(days=1)


class JourneyState(StrEnum):
    """Where a patient is in the journey from enrolment to infusion."""

    EXPECTED = "expected"  # in the scenario as a forecast enrolment, not enrolled yet
    ENROLLED = "enrolled"
    APHERESIS_SCHEDULED = "apheresis_scheduled"
    COLLECTED = "collected"
    IN_TRANSIT_TO_CDMO = "in_transit_to_cdmo"
    AT_CDMO = "at_cdmo"
    MANUFACTURING = "manufacturing"
    QC = "qc"
    RELEASED = "released"
    DP_IN_TRANSIT = "dp_in_transit"
    DP_RECEIVED = "dp_received"
    INFUSED = "infused"
    NEEDS_REAPHERESIS = "needs_reapheresis"
    WITHDRAWN = "withdrawn"


S = JourneyState
CLOSED = frozenset({S.INFUSED, S.WITHDRAWN})

# Which states each patient event may come from; the event leads to the state on the right.
TRANSITIONS: dict[str, tuple[frozenset[JourneyState], JourneyState]] = {
    "patient_enrolled": (frozenset({S.EXPECTED}), S.ENROLLED),
    "apheresis_scheduled": (
        frozenset({S.ENROLLED, S.APHERESIS_SCHEDULED, S.NEEDS_REAPHERESIS}),
        S.APHERESIS_SCHEDULED,
    ),
    "apheresis_done": (
        frozenset({S.ENROLLED, S.APHERESIS_SCHEDULED, S.NEEDS_REAPHERESIS}), S.COLLECTED
    ),
    "material_shipped": (frozenset({S.COLLECTED}), S.IN_TRANSIT_TO_CDMO),
    "material_received": (frozenset({S.IN_TRANSIT_TO_CDMO}), S.AT_CDMO),
    "run_started": (frozenset({S.AT_CDMO}), S.MANUFACTURING),
    "run_failed": (frozenset({S.MANUFACTURING, S.QC}), S.NEEDS_REAPHERESIS),
    "qc_released": (frozenset({S.QC}), S.RELEASED),
    "qc_out_of_spec": (frozenset({S.QC}), S.NEEDS_REAPHERESIS),
    "dp_shipped": (frozenset({S.RELEASED}), S.DP_IN_TRANSIT),
    "dp_received": (frozenset({S.DP_IN_TRANSIT}), S.DP_RECEIVED),
    "infused": (frozenset({S.DP_RECEIVED}), S.INFUSED),
    "withdrawn": (frozenset(set(S) - CLOSED - {S.EXPECTED}), S.WITHDRAWN),
}

# Why an event cannot come from a state, where a plain "not from this state" says too little.
_WHY_NOT = {
    "infused": "no infusion before the drug product is received at the site",
    "qc_released": "QC release comes after the run has ended",
    "qc_out_of_spec": "a QC result comes after the run has ended",
    "run_started": "a run starts only on material received at the CDMO",
    "dp_shipped": "the drug product ships only once QC has released it",
}


class EventRefused(ValueError):
    """An event that may not happen: ``field`` is at fault, ``code`` classifies the refusal."""

    def __init__(self, field: str, message: str, code: str = "refused") -> None:
        self.field = field
        self.message = message
        self.code = code
        super().__init__(f"{field}: {message}" if field else message)


class Journey(Strict):
    """What the record knows about one patient beyond the scenario's history fields."""

    patient: str
    state: JourneyState
    coi: str | None = None
    last_event_on: dt.date | None = None
    apheresis_booked: dt.date | None = None
    facility: str | None = None
    run_ends: dt.date | None = None
    released_on: dt.date | None = None
    dp_received_on: dt.date | None = None
    qa_flags: tuple[str, ...] = ()

    def state_on(self, day: dt.date) -> JourneyState:
        """The state on ``day``: a run whose suite days are over is in QC."""
        if self.state is S.MANUFACTURING and self.run_ends is not None and day >= self.run_ends:
            return S.QC
        return self.state


class Ledger(Strict):
    """A scenario together with the journeys, quarantines and last-event days of the record."""

    scenario: Scenario
    journeys: dict[str, Journey]
    quarantined: dict[str, int] = Field(default_factory=dict)
    last_on: dict[str, dt.date] = Field(default_factory=dict)

    def journey(self, patient_id: str) -> Journey:
        """The journey of one patient (KeyError if the patient is unknown)."""
        return self.journeys[patient_id]


@dataclass(frozen=True)
class Applied:
    """The outcome of an accepted event: the new ledger and what else must be recorded."""

    ledger: Ledger
    custody: ev.Custody | None = None
    alerts: list[str] = field(default_factory=list)


def journey_from_patient(patient: Patient, scenario: Scenario, coi: str | None = None) -> Journey:
    """The journey a patient is on, judged from the scenario's history fields alone."""
    start = patient.manufacturing_start
    run_ends = release = None
    if start is not None and patient.facility is not None:
        process = scenario.process_at(patient.facility)
        run_ends = start + process.manufacturing_days * _DAY
        release = run_ends + process.qc_release_days * _DAY
    if patient.outcome == "infused":
        state = S.INFUSED
    elif patient.outcome == "withdrawn":
        state = S.WITHDRAWN
    elif patient.outcome == "failed":
        state = S.NEEDS_REAPHERESIS
    elif patient.outcome == "released":
        state = S.RELEASED
    elif start is not None:
        state = S.MANUFACTURING
    elif patient.apheresis is not None:
        state = S.COLLECTED
    elif patient.enrolled > scenario.today:
        state = S.EXPECTED
    else:
        state = S.ENROLLED
    known = [d for d in (patient.enrolled, patient.apheresis, start, patient.infusion)
             if d is not None and d <= scenario.today]
    return Journey(
        patient=patient.id,
        state=state,
        coi=coi,
        last_event_on=max(known) if known else None,
        facility=patient.facility,
        run_ends=run_ends,
        released_on=release if state is S.RELEASED else None,
    )


def ledger_from_scenario(scenario: Scenario, cois: dict[str, str] | None = None) -> Ledger:
    """The ledger of a scenario nothing has been recorded on yet; ``cois`` by patient id."""
    cois = cois or {}
    return Ledger(
        scenario=scenario,
        journeys={p.id: journey_from_patient(p, scenario, cois.get(p.id))
                  for p in scenario.patients},
    )


def apply_event(ledger: Ledger, event: ev.EventBase, *, now: dt.datetime) -> Applied:
    """Apply one event to the ledger, or raise EventRefused saying why it cannot happen.

    ``now`` is the record's clock (UTC): nothing may be recorded as happening after it.
    """
    scenario = ledger.scenario
    if event.trial != scenario.trial.id:
        raise EventRefused("trial", f"the event is for trial {event.trial!r}, this record is "
                                    f"trial {scenario.trial.id!r}", "unknown_reference")
    clock = now.astimezone(dt.UTC)
    if event.occurred_on > clock.date() or (
        event.occurred_at is not None and event.occurred_at > clock
    ):
        raise EventRefused("occurred_on", f"{event.occurred_on} is in the future of the "
                                          f"record's clock ({clock.date()})", "future")
    custody = getattr(event, "custody", None)
    if isinstance(custody, ev.Custody) and custody.at > clock:
        raise EventRefused("custody.at", f"{custody.at.isoformat()} is in the future of the "
                                         f"record's clock ({clock.isoformat()})", "future")
    _check_order(ledger, event)
    handler = _HANDLERS[type(event)]
    work = _Work(ledger, event)
    handler(work, event)
    return work.finish()


def _check_order(ledger: Ledger, event: ev.EventBase) -> None:
    kind, ident = event.subject
    if kind == "patient":
        journey = ledger.journeys.get(ident)
        last = journey.last_event_on if journey else None
    else:
        last = ledger.last_on.get(f"{kind}:{ident}")
    if last is not None and event.occurred_on < last:
        raise EventRefused("occurred_on", f"{event.occurred_on} is before the previous event "
                                          f"of {kind} {ident} ({last})", "out_of_order")


class _Work:
    """The ledger being changed by one event, as plain scenario data until it is checked."""

    def __init__(self, ledger: Ledger, event: ev.EventBase) -> None:
        self.ledger = ledger
        self.scenario = ledger.scenario
        self.event = event
        self.data: dict[str, Any] = scenario_data(ledger.scenario)
        self.journeys = dict(ledger.journeys)
        self.quarantined = dict(ledger.quarantined)
        self.last_on = dict(ledger.last_on)
        self.custody: ev.Custody | None = None
        self.alerts: list[str] = []

    # -- look-ups that refuse with the field at fault --------------------------------------

    def journey(self, patient_id: str) -> Journey:
        journey = self.journeys.get(patient_id)
        if journey is None:
            raise EventRefused("patient", f"no patient {patient_id!r} in trial "
                                          f"{self.scenario.trial.id}", "unknown_reference")
        return journey

    def patient_row(self, patient_id: str) -> dict[str, Any]:
        for row in self.data["patients"]:
            if row["id"] == patient_id:
                return dict(row)
        raise EventRefused("patient", f"no patient {patient_id!r}", "unknown_reference")

    def set_patient(self, patient_id: str, **changes: Any) -> None:
        rows = self.data["patients"]
        for index, row in enumerate(rows):
            if row["id"] == patient_id:
                rows[index] = {**row, **{k: _plain(v) for k, v in changes.items()}}
                return
        rows.append({"id": patient_id, **{k: _plain(v) for k, v in changes.items()}})

    def row(self, section: list[dict[str, Any]], ident: str, what: str, field_name: str
            ) -> dict[str, Any]:
        for row in section:
            if row["id"] == ident:
                return row
        raise EventRefused(field_name, f"no {what} {ident!r} in trial {self.scenario.trial.id}",
                           "unknown_reference")

    def enter(self, journey: Journey, kind: str, **changes: Any) -> Journey:
        """Move the journey by a patient event after checking the state allows it."""
        allowed, target = TRANSITIONS[kind]
        current = journey.state_on(self.event.occurred_on)
        if current not in allowed:
            why = _WHY_NOT.get(kind, f"{kind} cannot follow {current.value}")
            raise EventRefused("kind", f"patient {journey.patient} is {current.value}: {why}",
                               "wrong_state")
        updated = journey.model_copy(update={
            "state": target, "last_event_on": self.event.occurred_on, **changes,
        })
        self.journeys[journey.patient] = updated
        return updated

    def check_coi(self, journey: Journey, coi: str | None) -> None:
        if coi is None:
            return
        if journey.coi is None:
            raise EventRefused("coi", f"patient {journey.patient} has no chain-of-identity id "
                                      "yet: assign one before recording material events",
                               "coi_missing")
        if coi != journey.coi:
            raise EventRefused("coi", f"{coi} is not the chain-of-identity id of patient "
                                      f"{journey.patient}'s material", "coi_mismatch")

    def finish(self) -> Applied:
        event = self.event
        trial = self.data["trial"]
        # Recording a fact moves the planning day to it: everything up to it is history now.
        if event.occurred_on > self.scenario.today:
            trial["today"] = event.occurred_on.isoformat()
        kind, ident = event.subject
        if kind != "patient":
            self.last_on[f"{kind}:{ident}"] = event.occurred_on
        try:
            scenario = parse_scenario(self.data)
        except ScenarioInvalid as error:
            problem = error.problems[0]
            raise EventRefused(problem.path,
                               f"the scenario would no longer hold: {problem.message}",
                               "inconsistent") from None
        ledger = Ledger(scenario=scenario, journeys=self.journeys,
                        quarantined=self.quarantined, last_on=self.last_on)
        return Applied(ledger, self.custody, self.alerts)

    def take_custody(self, custody: ev.Custody, what: str) -> tuple[str, ...]:
        self.custody = custody
        if custody.temperature_ok:
            return ()
        detail = custody.excursion.description if custody.excursion else "temperature excursion"
        flag = f"{what}: temperature excursion on {custody.at_utc:%Y-%m-%d %H:%M} UTC " \
               f"({detail}): awaiting QA decision"
        self.alerts.append(flag)
        return (flag,)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


# -- patient events --------------------------------------------------------------------------


def _enrolled(work: _Work, event: ev.PatientEnrolled) -> None:
    site = work.row(work.data["sites"], event.site, "site", "site")
    actual = site["activation"]["actual"]
    if actual is None or dt.date.fromisoformat(actual) > event.occurred_on:
        raise EventRefused("site", f"site {event.site} is not activated on {event.occurred_on}"
                                   + (f" (activated {actual})" if actual else
                                      " (record site_activated first)"), "site_not_active")
    if event.coi is not None:
        for other in work.journeys.values():
            if other.coi == event.coi and other.patient != event.patient:
                raise EventRefused("coi", f"{event.coi} already identifies patient "
                                          f"{other.patient}", "coi_mismatch")
    journey = work.journeys.get(event.patient)
    if journey is None:
        journey = Journey(patient=event.patient, state=S.EXPECTED)
    elif journey.state is not S.EXPECTED:
        raise EventRefused("patient", f"patient {event.patient} is already enrolled "
                                      f"({journey.state.value})", "wrong_state")
    coi = event.coi if event.coi is not None else journey.coi
    work.journeys[event.patient] = journey
    work.enter(journey, event.kind, coi=coi)
    work.set_patient(event.patient, site=event.site, enrolled=event.occurred_on,
                     priority=event.priority)


def _apheresis_capacity(work: _Work, patient_id: str, site_id: str, day: dt.date,
                        field_name: str) -> None:
    site = work.scenario.site(site_id)
    if site.apheresis is None:
        raise EventRefused(field_name, f"site {site_id} does no apheresis", "no_capacity")
    if not site.apheresis.allows(day):
        raise EventRefused(field_name, f"site {site_id} does not do apheresis on "
                                       f"{weekday_name(day)} {day} (days: "
                                       f"{', '.join(site.apheresis.weekdays)})", "no_capacity")
    taken = {p.id for p in work.scenario.patients
             if p.site == site_id and p.apheresis == day and p.id != patient_id}
    taken |= {j.patient for j in work.journeys.values()
              if j.state is S.APHERESIS_SCHEDULED and j.apheresis_booked == day
              and j.patient != patient_id and work.scenario.patient(j.patient).site == site_id}
    if len(taken) >= site.apheresis.per_day:
        raise EventRefused(field_name, f"apheresis at site {site_id} on {day} is full "
                                       f"({len(taken)} of {site.apheresis.per_day} booked)",
                           "conflict")


def _apheresis_scheduled(work: _Work, event: ev.ApheresisScheduled) -> None:
    journey = work.journey(event.patient)
    patient = work.scenario.patient(event.patient)
    if event.day < event.occurred_on:
        raise EventRefused("day", f"{event.day} is before the booking was made "
                                  f"({event.occurred_on})", "out_of_order")
    earliest = patient.enrolled + work.scenario.trial.protocol.apheresis_earliest_days * _DAY
    if event.day < earliest:
        raise EventRefused("day", f"{event.day} is before the protocol's earliest apheresis "
                                  f"({earliest})", "protocol")
    _apheresis_capacity(work, event.patient, patient.site, event.day, "day")
    work.enter(journey, event.kind, apheresis_booked=event.day)


def _apheresis_done(work: _Work, event: ev.ApheresisDone) -> None:
    journey = work.journey(event.patient)
    work.check_coi(journey, event.coi)
    patient = work.scenario.patient(event.patient)
    earliest = patient.enrolled + work.scenario.trial.protocol.apheresis_earliest_days * _DAY
    if event.occurred_on < earliest:
        raise EventRefused("occurred_on", f"{event.occurred_on} is before the protocol's "
                                          f"earliest apheresis ({earliest})", "protocol")
    _apheresis_capacity(work, event.patient, patient.site, event.occurred_on, "occurred_on")
    again = journey.state is S.NEEDS_REAPHERESIS
    work.enter(journey, event.kind, apheresis_booked=None, facility=None, run_ends=None,
               released_on=None, dp_received_on=None, qa_flags=())
    changes: dict[str, Any] = {"apheresis": event.occurred_on}
    if again:
        # The scenario keeps one journey per patient: a new collection starts it over.
        changes |= {"facility": None, "manufacturing_start": None, "vector_lot": None,
                    "outcome": None}
    work.set_patient(event.patient, **changes)


def _material_shipped(work: _Work, event: ev.MaterialShipped) -> None:
    journey = work.journey(event.patient)
    work.check_coi(journey, event.coi)
    facility = work.row(work.data["facilities"], event.facility, "facility", "facility")
    if facility["kind"] != "drug_product":
        raise EventRefused("facility", f"{event.facility} makes {facility['kind']}, not drug "
                                       "product", "unknown_reference")
    site = work.scenario.patient(event.patient).site
    if work.scenario.lane_days(site, event.facility) is None:
        raise EventRefused("facility", f"no courier lane from {site} to {event.facility}",
                           "no_lane")
    flags = work.take_custody(event.custody, f"apheresis material of {event.patient}")
    work.enter(journey, event.kind, facility=event.facility,
               qa_flags=journey.qa_flags + flags)


def _material_received(work: _Work, event: ev.MaterialReceived) -> None:
    journey = work.journey(event.patient)
    work.check_coi(journey, event.coi)
    if journey.facility is not None and event.facility != journey.facility:
        raise EventRefused("facility", f"the material was shipped to {journey.facility}, not "
                                       f"{event.facility}", "unknown_reference")
    flags = work.take_custody(event.custody, f"apheresis material of {event.patient}")
    work.enter(journey, event.kind, qa_flags=journey.qa_flags + flags)


def _suites_in_use(scenario: Scenario, facility_id: str, day: dt.date, skip: str) -> int:
    used = 0
    for p in scenario.patients:
        if p.facility != facility_id or p.manufacturing_start is None or p.id == skip:
            continue
        days = scenario.process_at(facility_id).manufacturing_days
        if p.manufacturing_start <= day < p.manufacturing_start + days * _DAY:
            used += 1
    return used


def _run_started(work: _Work, event: ev.RunStarted) -> None:
    journey = work.journey(event.patient)
    work.check_coi(journey, event.coi)
    scenario = work.scenario
    day = event.occurred_on
    if journey.facility is not None and event.facility != journey.facility:
        raise EventRefused("facility", f"the material is at {journey.facility}, not "
                                       f"{event.facility}", "unknown_reference")
    facility = work.row(work.data["facilities"], event.facility, "facility", "facility")
    ready = facility_ready_day(scenario, event.facility)
    if ready is None or day < ready:
        raise EventRefused("facility", f"{event.facility} is not ready for this trial on {day}"
                                       + (f" (ready {ready})" if ready else ""), "not_ready")
    if weekday_name(day) not in facility["start_weekdays"]:
        raise EventRefused("occurred_on", f"{event.facility} does not start runs on "
                                          f"{weekday_name(day)} (days: "
                                          f"{', '.join(facility['start_weekdays'])})",
                           "no_capacity")
    patient = scenario.patient(event.patient)
    protocol = scenario.trial.protocol
    if protocol.material == "fresh" and patient.apheresis is not None:
        latest = patient.apheresis + protocol.fresh_max_days_to_start * _DAY
        if day > latest:
            raise EventRefused("occurred_on", f"fresh material collected {patient.apheresis} "
                                              f"must start manufacturing by {latest}",
                               "protocol")
    if event.vector_lot in work.quarantined:
        raise EventRefused("vector_lot", f"lot {event.vector_lot} is quarantined",
                           "lot_unusable")
    try:
        lot = scenario.lot(event.vector_lot)
    except KeyError:
        raise EventRefused("vector_lot", f"no vector lot {event.vector_lot!r}",
                           "unknown_reference") from None
    if day < lot.released:
        raise EventRefused("vector_lot", f"lot {lot.id} is not released before "
                                         f"{lot.released}", "lot_unusable")
    if day > lot.effective_expiry:
        pending = lot.extension is not None and lot.extension.status == "pending"
        raise EventRefused("vector_lot", f"lot {lot.id} expired on {lot.effective_expiry}"
                                         + (" (its extension is still pending)" if pending
                                            else ""), "lot_unusable")
    process = scenario.process_at(event.facility)
    if lot.units < process.vector_units_per_batch:
        raise EventRefused("vector_lot", f"lot {lot.id} has {lot.units} units left, a run "
                                         f"needs {process.vector_units_per_batch}",
                           "lot_unusable")
    fac = scenario.facility(event.facility)
    for offset in range(process.manufacturing_days):
        suite_day = day + offset * _DAY
        used = _suites_in_use(scenario, event.facility, suite_day, event.patient)
        if used >= fac.suites_free(suite_day):
            raise EventRefused("occurred_on", f"no free suite at {event.facility} on "
                                              f"{suite_day} ({used} of "
                                              f"{fac.suites_free(suite_day)} in use)",
                               "conflict")
    for row in work.data["vector"]["lots"]:
        if row["id"] == lot.id:
            row["units"] = lot.units - process.vector_units_per_batch
    work.enter(journey, event.kind, facility=event.facility,
               run_ends=day + process.manufacturing_days * _DAY)
    work.set_patient(event.patient, facility=event.facility, manufacturing_start=day,
                     vector_lot=lot.id, outcome=None)


def _run_failed(work: _Work, event: ev.RunFailed | ev.QcOutOfSpec) -> None:
    journey = work.journey(event.patient)
    work.check_coi(journey, event.coi)
    work.enter(journey, event.kind)
    work.set_patient(event.patient, outcome="failed")
    work.alerts.append(f"patient {event.patient}: {event.kind.replace('_', ' ')} "
                       f"({event.reason}): a new apheresis and slot are needed")


def _qc_released(work: _Work, event: ev.QcReleased) -> None:
    journey = work.journey(event.patient)
    work.check_coi(journey, event.coi)
    work.enter(journey, event.kind, released_on=event.occurred_on)
    work.set_patient(event.patient, outcome="released")


def _dp_shipped(work: _Work, event: ev.DpShipped) -> None:
    journey = work.journey(event.patient)
    work.check_coi(journey, event.coi)
    site = work.scenario.patient(event.patient).site
    facility = journey.facility or work.scenario.patient(event.patient).facility
    if facility is not None and work.scenario.lane_days(facility, site) is None:
        raise EventRefused("patient", f"no courier lane from {facility} to {site}", "no_lane")
    flags = work.take_custody(event.custody, f"drug product of {event.patient}")
    work.enter(journey, event.kind, qa_flags=journey.qa_flags + flags)


def _dp_received(work: _Work, event: ev.DpReceived) -> None:
    journey = work.journey(event.patient)
    work.check_coi(journey, event.coi)
    flags = work.take_custody(event.custody, f"drug product of {event.patient}")
    work.enter(journey, event.kind, dp_received_on=event.occurred_on,
               qa_flags=journey.qa_flags + flags)


def _infused(work: _Work, event: ev.Infused) -> None:
    journey = work.journey(event.patient)
    work.check_coi(journey, event.coi)
    if journey.state_on(event.occurred_on) is S.DP_RECEIVED:
        scenario = work.scenario
        patient = scenario.patient(event.patient)
        site = scenario.site(patient.site)
        day = event.occurred_on
        if not site.infusion.allows(day):
            raise EventRefused("occurred_on", f"site {site.id} does not infuse on "
                                              f"{weekday_name(day)} {day}", "no_capacity")
        same_day = sum(1 for p in scenario.patients
                       if p.site == site.id and p.infusion == day and p.id != patient.id)
        if same_day >= site.infusion.per_day:
            raise EventRefused("occurred_on", f"infusions at site {site.id} on {day} are full "
                                              f"({same_day} of {site.infusion.per_day})",
                               "conflict")
        facility = journey.facility or patient.facility
        if journey.released_on is not None and facility is not None:
            last = journey.released_on + scenario.process_at(
                facility).dp_shelf_life_days * _DAY
            if day > last:
                raise EventRefused("occurred_on", f"the drug product expired on {last}",
                                   "expired")
    work.enter(journey, event.kind)
    work.set_patient(event.patient, infusion=event.occurred_on, outcome="infused")


def _withdrawn(work: _Work, event: ev.Withdrawn) -> None:
    journey = work.journey(event.patient)
    work.check_coi(journey, event.coi)
    work.enter(journey, event.kind, apheresis_booked=None)
    work.set_patient(event.patient, outcome="withdrawn", infusion=None)


# -- lots, capacity, readiness, sites ---------------------------------------------------------


def _lot_row(work: _Work, lot_id: str) -> dict[str, Any]:
    return work.row(work.data["vector"]["lots"], lot_id, "vector lot", "lot")


def _lot_released(work: _Work, event: ev.LotReleased) -> None:
    lots = work.data["vector"]["lots"]
    existing = [row for row in lots if row["id"] == event.lot]
    if not existing:
        if event.units is None or event.expires is None:
            raise EventRefused("units" if event.units is None else "expires",
                               f"lot {event.lot} is new: give its units and expires",
                               "unknown_reference")
        lots.append({"id": event.lot, "facility": event.facility, "units": event.units,
                     "released": event.occurred_on.isoformat(),
                     "expires": event.expires.isoformat(), "extension": None})
        return
    row = existing[0]
    if event.lot in work.quarantined:
        # QA released a lot it had put on hold: its withheld units are usable again.
        row["units"] = work.quarantined.pop(event.lot) if event.units is None else event.units
    else:
        released = dt.date.fromisoformat(row["released"])
        if released <= work.scenario.today and released != event.occurred_on:
            raise EventRefused("lot", f"lot {event.lot} was already released on {released}",
                               "wrong_state")
        row["released"] = event.occurred_on.isoformat()
        if event.units is not None:
            row["units"] = event.units
    if event.expires is not None:
        row["expires"] = event.expires.isoformat()


def _extension(work: _Work, event: ev.ExtensionGranted | ev.ExtensionRefused) -> None:
    row = _lot_row(work, event.lot)
    extension = row.get("extension")
    if extension is None:
        raise EventRefused("lot", f"lot {event.lot} has no shelf-life extension to decide",
                           "wrong_state")
    if extension["status"] != "pending":
        raise EventRefused("lot", f"the extension of lot {event.lot} was already "
                                  f"{extension['status']}", "wrong_state")
    granted = isinstance(event, ev.ExtensionGranted)
    row["extension"] = {**extension, "status": "granted" if granted else "refused"}
    if isinstance(event, ev.ExtensionGranted) and event.expires is not None:
        row["extension"]["expires"] = event.expires.isoformat()


def _lot_quarantined(work: _Work, event: ev.LotQuarantined) -> None:
    row = _lot_row(work, event.lot)
    if event.lot in work.quarantined:
        raise EventRefused("lot", f"lot {event.lot} is already quarantined", "wrong_state")
    # The plan must not count on a lot on hold: its units are withheld until QA releases it.
    work.quarantined[event.lot] = row["units"]
    row["units"] = 0
    work.alerts.append(f"lot {event.lot} quarantined ({event.reason}): "
                       f"{work.quarantined[event.lot]} units withheld")


def _reservation_added(work: _Work, event: ev.ReservationAdded) -> None:
    facility = work.row(work.data["facilities"], event.facility, "facility", "facility")
    if event.suites > facility["suites"]:
        raise EventRefused("suites", f"{event.suites} suites reserved but {event.facility} has "
                                     f"{facility['suites']}", "no_capacity")
    facility["reservations"].append({"suites": event.suites, "start": event.start.isoformat(),
                                     "end": event.end.isoformat(), "label": event.label})


def _milestone_done(work: _Work, event: ev.MilestoneDone) -> None:
    transfer = work.row(work.data["tech_transfer"], event.transfer, "tech transfer", "transfer")
    milestone = work.row(transfer["milestones"], event.milestone, "milestone", "milestone")
    if milestone.get("done") is not None:
        raise EventRefused("milestone", f"milestone {event.milestone} was already done on "
                                        f"{milestone['done']}", "wrong_state")
    for before in milestone.get("after", []):
        prior = work.row(transfer["milestones"], before, "milestone", "milestone")
        if prior.get("done") is None:
            raise EventRefused("milestone", f"{event.milestone} comes after {before!r}, "
                                            "which is not done", "wrong_state")
    milestone["done"] = event.occurred_on.isoformat()


def _site_activated(work: _Work, event: ev.SiteActivated) -> None:
    site = work.row(work.data["sites"], event.site, "site", "site")
    if site["activation"]["actual"] is not None:
        raise EventRefused("site", f"site {event.site} was already activated on "
                                   f"{site['activation']['actual']}", "wrong_state")
    site["activation"]["actual"] = event.occurred_on.isoformat()


_HANDLERS: dict[type[ev.EventBase], Callable[[_Work, Any], None]] = {
    ev.PatientEnrolled: _enrolled,
    ev.ApheresisScheduled: _apheresis_scheduled,
    ev.ApheresisDone: _apheresis_done,
    ev.MaterialShipped: _material_shipped,
    ev.MaterialReceived: _material_received,
    ev.RunStarted: _run_started,
    ev.RunFailed: _run_failed,
    ev.QcReleased: _qc_released,
    ev.QcOutOfSpec: _run_failed,
    ev.DpShipped: _dp_shipped,
    ev.DpReceived: _dp_received,
    ev.Infused: _infused,
    ev.Withdrawn: _withdrawn,
    ev.LotReleased: _lot_released,
    ev.ExtensionGranted: _extension,
    ev.ExtensionRefused: _extension,
    ev.LotQuarantined: _lot_quarantined,
    ev.ReservationAdded: _reservation_added,
    ev.MilestoneDone: _milestone_done,
    ev.SiteActivated: _site_activated,
}

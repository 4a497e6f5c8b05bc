"""Recording what happened: events applied with the state they change, in one unit of work.

Keyword-only functions on the caller's session; nothing here commits (the command
boundary, :mod:`chainsight.record.commands`, does). Every write is audited by the
mapper hooks of :mod:`chainsight.record.audit`, with the who and why set here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chainsight.domain import Scenario
from chainsight.domain import events as ev
from chainsight.domain.identity import check_facility_code, next_coi, parse_coi
from chainsight.domain.journey import (
    EventRefused,
    Journey,
    Ledger,
    apply_event,
    journey_from_patient,
)
from chainsight.record import repository as repo
from chainsight.record.audit import canonical, set_context, take_lock
from chainsight.record.models import (
    AlertRow,
    BookingRow,
    CoiRow,
    CustodyRow,
    EventRow,
    JourneyRow,
    LedgerRow,
)
from chainsight.store.repository import get_scenario, save_scenario

FACILITY_CODE_ENV = "CHAINSIGHT_COI_FACILITY_CODE"
DEFAULT_FACILITY_CODE = "A0000"


class RecordError(Exception):
    """Base of the record's errors; ``str(error)`` is a complete message for a user."""


class TrialNotStored(RecordError):
    """The trial has no stored scenario to record on."""


class IdempotencyConflict(RecordError):
    """The idempotency key was used before for a different event."""


class BookingConflict(RecordError):
    """Someone else took the capacity at the same moment: try again, or pick another day."""


@dataclass(frozen=True)
class Recorded:
    """What recording an event did (the same answer when the event is sent again)."""

    trial: str
    sequence: int
    kind: str
    patient: str | None
    state: str | None
    coi: str | None
    alerts: list[str] = field(default_factory=list)
    duplicate: bool = False

    def as_dict(self) -> dict[str, Any]:
        """As plain data (what ``chainsight record --json`` prints)."""
        return asdict(self)


def configured_facility_code() -> str:
    """The facility code COI ids are issued under: ``$CHAINSIGHT_COI_FACILITY_CODE`` or
    ``A0000`` (codes come from the licensing body; ChainSight takes them as configuration)."""
    return check_facility_code(os.environ.get(FACILITY_CODE_ENV, "").strip()
                               or DEFAULT_FACILITY_CODE)


# ---------------------------------------------------------------- chain of identity


def issue_coi(session: Session, *, trial: str, user: str, now: dt.datetime,
              facility_code: str | None = None, patient: str | None = None) -> str:
    """Issue the next COI id (unique across trials) for ``trial``, optionally to a patient."""
    code = check_facility_code(facility_code or configured_facility_code())
    year = now.year % 100
    # Sequences are shared by every trial of a facility and year: one issuer at a time.
    take_lock(session.connection(), f"coi:{code}{year:02d}")
    prefix = f"CH{code}{year:02d}"
    coi = str(next_coi(code, year, repo.issued_cois(session, prefix)))
    set_context(session, actor=user, reason=f"COI {coi} issued for trial {trial}"
                + (f" patient {patient}" if patient else ""))
    session.add(CoiRow(coi=coi, trial=trial, patient=patient, issued_by=user, issued_at=now))
    session.flush()
    return coi


def _bind_coi(session: Session, *, coi: str, trial: str, patient: str, user: str,
              now: dt.datetime) -> None:
    row = repo.coi_row(session, coi)
    if row is None:
        # Issued elsewhere (a label printed by the collection site): registered on first use.
        session.add(CoiRow(coi=coi, trial=trial, patient=patient, issued_by=user,
                           issued_at=now))
    elif row.trial != trial or (row.patient is not None and row.patient != patient):
        owner = f"trial {row.trial}" + (f" patient {row.patient}" if row.patient else "")
        raise EventRefused("coi", f"{coi} was issued for {owner}", "coi_mismatch")
    else:
        row.patient = patient


# ---------------------------------------------------------------- the ledger in the store


def load_ledger(session: Session, scenario: Scenario, *, user: str, now: dt.datetime
                ) -> Ledger:
    """The trial's ledger: the stored scenario with the record's journeys and lots.

    The first time anything is recorded for a trial, every patient already in it gets a
    COI id, so that no material event can ever go without one.
    """
    trial = scenario.trial.id
    row = repo.ledger_row(session, trial)
    if row is None:
        row = LedgerRow(trial=trial, facility_code=configured_facility_code(),
                        quarantined="{}", last_on="{}")
        set_context(session, actor=user, reason=f"record opened for trial {trial}")
        session.add(row)
        session.flush()
    stored = repo.journey_rows(session, trial)
    journeys: dict[str, Journey] = {}
    for patient in scenario.patients:
        if patient.id in stored:
            journeys[patient.id] = repo.journey_of(stored[patient.id])
            continue
        coi = issue_coi(session, trial=trial, user=user, now=now,
                        facility_code=row.facility_code, patient=patient.id)
        journey = journey_from_patient(patient, scenario, coi)
        session.add(JourneyRow(trial=trial, patient=patient.id, coi=coi,
                               state=journey.state.value, data=canonical(_journey_data(journey))))
        journeys[patient.id] = journey
    session.flush()
    return Ledger(
        scenario=scenario, journeys=journeys,
        quarantined=json.loads(row.quarantined),
        last_on={k: dt.date.fromisoformat(v) for k, v in json.loads(row.last_on).items()},
    )


def _journey_data(journey: Journey) -> dict[str, Any]:
    return journey.model_dump(mode="json")


def _save_ledger(session: Session, before: Ledger, after: Ledger) -> None:
    trial = after.scenario.trial.id
    stored = repo.journey_rows(session, trial)
    for patient, journey in after.journeys.items():
        if before.journeys.get(patient) == journey and patient in stored:
            continue
        data = canonical(_journey_data(journey))
        row = stored.get(patient)
        if row is None:
            session.add(JourneyRow(trial=trial, patient=patient, coi=journey.coi,
                                   state=journey.state.value, data=data))
        else:
            row.coi, row.state, row.data = journey.coi, journey.state.value, data
    ledger = repo.ledger_row(session, trial)
    assert ledger is not None, "load_ledger creates the row"
    ledger.quarantined = canonical(after.quarantined)
    ledger.last_on = canonical({k: v.isoformat() for k, v in after.last_on.items()})


# ---------------------------------------------------------------- bookings


def _book(session: Session, *, trial: str, kind: str, resource: str, day: dt.date,
          capacity: int, patient: str) -> None:
    taken = {b.slot for b in repo.bookings(session, trial, kind, resource, day)}
    free = [slot for slot in range(capacity) if slot not in taken]
    if not free:
        raise BookingConflict(f"{kind} at {resource} on {day} is fully booked")
    session.add(BookingRow(trial=trial, resource_kind=kind, resource=resource, day=day,
                           slot=free[0], patient=patient))


def _release_bookings(session: Session, trial: str, kind: str, patient: str) -> None:
    for booking in repo.patient_bookings(session, trial, kind, patient):
        session.delete(booking)
    session.flush()


def _take_capacity(session: Session, ledger: Ledger, event: ev.EventBase) -> None:
    """Booking rows for capacity the event takes: the unique (resource, day, slot) is the
    database's guard that two writers can never both get the last slot."""
    scenario = ledger.scenario
    trial = scenario.trial.id
    if isinstance(event, ev.ApheresisScheduled | ev.ApheresisDone | ev.Withdrawn):
        _release_bookings(session, trial, "apheresis", event.patient)
    if isinstance(event, ev.ApheresisScheduled | ev.ApheresisDone):
        site = scenario.site(scenario.patient(event.patient).site)
        day = event.day if isinstance(event, ev.ApheresisScheduled) else event.occurred_on
        capacity = site.apheresis.per_day if site.apheresis else 0
        _book(session, trial=trial, kind="apheresis", resource=site.id, day=day,
              capacity=capacity, patient=event.patient)
    elif isinstance(event, ev.RunStarted):
        facility = scenario.facility(event.facility)
        days = scenario.process_at(event.facility).manufacturing_days
        for offset in range(days):
            day = event.occurred_on + dt.timedelta(days=offset)
            _book(session, trial=trial, kind="suite", resource=facility.id, day=day,
                  capacity=facility.suites_free(day), patient=event.patient)


# ---------------------------------------------------------------- events


def request_hash(data: ev.EventBase) -> str:
    """A fingerprint of an event as sent, to tell a true resend from a reused key."""
    return hashlib.sha256(canonical(ev.event_data(data)).encode("utf-8")).hexdigest()


_ALERT_KIND = {"run_failed": "failure", "qc_out_of_spec": "failure",
               "lot_quarantined": "quarantine"}
_MATERIAL = {"material_shipped": "apheresis_material", "material_received": "apheresis_material",
             "dp_shipped": "drug_product", "dp_received": "drug_product"}


def record_event(session: Session, data: Any, *, user: str, now: dt.datetime,
                 idempotency_key: str | None = None) -> Recorded:
    """Check an event against the trial's journeys and apply it with everything it changes.

    Raises EventInvalid (bad data, by field), EventRefused (may not happen, with why),
    TrialNotStored, IdempotencyConflict or BookingConflict. Sent again with the same
    idempotency key, it returns the first answer and writes nothing.
    """
    event = ev.parse_event(data)
    trial = event.trial
    repo.lock_trial(session, trial)
    fingerprint = request_hash(event)
    if idempotency_key is not None:
        earlier = repo.event_by_key(session, trial, idempotency_key)
        if earlier is not None:
            answer = json.loads(earlier.result)
            answer.pop("duplicate", None)
            if answer.pop("request", None) != fingerprint:
                raise IdempotencyConflict(
                    f"idempotency key {idempotency_key!r} was used for event "
                    f"#{earlier.sequence} ({earlier.kind}), which differs from this one")
            return Recorded(**answer, duplicate=True)
    scenario = get_scenario(session, trial)
    if scenario is None:
        raise TrialNotStored(f"trial {trial!r} is not stored: import its scenario first")
    sequence = repo.next_sequence(session, trial)
    ledger = load_ledger(session, scenario, user=user, now=now)
    if isinstance(event, ev.PatientEnrolled):
        if event.coi is None:
            existing = ledger.journeys.get(event.patient)
            issued = existing.coi if existing and existing.coi else issue_coi(
                session, trial=trial, user=user, now=now, patient=event.patient)
            event = event.model_copy(update={"coi": issued})
        assert event.coi is not None
        _bind_coi(session, coi=event.coi, trial=trial, patient=event.patient, user=user,
                  now=now)
    applied = apply_event(ledger, event, now=now)
    why = f"event #{sequence} {event.kind}" + (f": {event.reason}" if event.reason else "")
    set_context(session, actor=user, reason=why)
    try:
        _take_capacity(session, applied.ledger, event)
        session.flush()
    except IntegrityError:
        raise BookingConflict(
            f"{event.kind}: the slot was taken by someone else at the same moment; "
            "reload and choose again") from None
    save_scenario(session, applied.ledger.scenario, replace=True)
    _save_ledger(session, ledger, applied.ledger)
    patient = event.patient_id
    journey = applied.ledger.journeys.get(patient) if patient else None
    coi: str | None = getattr(event, "coi", None) or (journey.coi if journey else None)
    result = Recorded(trial=trial, sequence=sequence, kind=event.kind, patient=patient,
                      state=journey.state.value if journey else None, coi=coi,
                      alerts=list(applied.alerts))
    row = EventRow(trial=trial, sequence=sequence, kind=event.kind, patient=patient, coi=coi,
                   occurred_on=event.occurred_on, payload=canonical(ev.event_data(event)),
                   idempotency_key=idempotency_key, recorded_by=user, recorded_at=now,
                   result=canonical({**result.as_dict(), "request": fingerprint}))
    session.add(row)
    session.flush()
    if applied.custody is not None and patient is not None and coi is not None:
        c = applied.custody
        session.add(CustodyRow(
            event_id=row.id, trial=trial, patient=patient, coi=coi,
            material=_MATERIAL.get(event.kind, "material"), from_party=c.from_,
            to_party=c.to, signed_by=c.by, place=c.where, handed_at=c.at_utc,
            temperature_ok=c.temperature_ok,
            excursion=canonical(c.excursion.model_dump()) if c.excursion else None,
            qa_status="not_needed" if c.temperature_ok else "pending"))
    for message in applied.alerts:
        session.add(AlertRow(trial=trial, patient=patient,
                             kind=_ALERT_KIND.get(event.kind, "excursion"), code=event.kind,
                             field=None, message=message, payload=None, raised_by=user,
                             raised_at=now))
    session.flush()
    return result


def note_refusal(session: Session, data: Any, error: EventRefused, *, user: str,
                 now: dt.datetime) -> None:
    """Keep a refused attempt as an alert (a COI mismatch above all must be seen)."""
    raw = data if isinstance(data, dict) else {}
    trial = str(raw.get("trial") or "?")
    patient = raw.get("patient") if isinstance(raw.get("patient"), str) else None
    set_context(session, actor=user, reason=f"refused {raw.get('kind', 'event')}: "
                                            f"{error.code}")
    session.add(AlertRow(trial=trial, patient=patient, kind="refused", code=error.code,
                         field=error.field or None, message=str(error),
                         payload=canonical(raw), raised_by=user, raised_at=now))
    session.flush()


def event_list(session: Session, trial: str, patient: str | None = None
               ) -> list[dict[str, Any]]:
    """The trial's recorded events as plain data, in order."""
    return [
        {"sequence": row.sequence, "kind": row.kind, "occurred_on": row.occurred_on.isoformat(),
         "patient": row.patient, "coi": row.coi, "recorded_by": row.recorded_by,
         "recorded_at": row.recorded_at.isoformat(), "idempotency_key": row.idempotency_key,
         "event": json.loads(row.payload)}
        for row in repo.events(session, trial, patient)
    ]


def check_coi_text(text: str) -> str:
    """The COI id if valid; IdentityInvalid (with the part and reason) if not."""
    return str(parse_coi(text))

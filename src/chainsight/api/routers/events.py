"""Events of a trial: the record's list, and recording one (with ``Idempotency-Key``)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import Body, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from chainsight.api import webhooks
from chainsight.api.auth.principal import Principal
from chainsight.api.dependencies import CurrentUser, Db, ServicesDep, Trial, mark_changed
from chainsight.api.idempotency import Idempotency, KeyHeader, request_fingerprint
from chainsight.api.problems import ApiProblem, FieldError, not_found
from chainsight.api.routers import api_router
from chainsight.api.schemas import EventOut, RecordedOut, ShipmentOut
from chainsight.api.scoping import (
    TrialContext,
    authorize_event,
    event_view,
    identifies_patients,
    resolve_patient,
    sees_shipment,
)
from chainsight.domain.journey import EventRefused
from chainsight.record import repository as record_repo
from chainsight.record import service as record
from chainsight.record.models import EventRow

router = api_router("events")

EventBody = Annotated[dict[str, Any], Body(
    description="one event (its `kind` says which fields it has); the trial is the path's. "
                "CDMO and courier users name the patient by `coi`, not `patient`.")]


def event_item(row: EventRow) -> dict[str, Any]:
    """A stored event in the shape the API lists it."""
    return {"sequence": row.sequence, "kind": row.kind,
            "occurred_on": row.occurred_on.isoformat(), "patient": row.patient,
            "coi": row.coi, "recorded_by": row.recorded_by,
            "recorded_at": row.recorded_at.isoformat(), "idempotency_key": row.idempotency_key,
            "event": json.loads(row.payload)}


@router.get("/trials/{trial_id}/events", response_model=list[EventOut])
def list_events(
    ctx: Trial, principal: CurrentUser, session: Db,
    patient: Annotated[str | None, Query(min_length=1, max_length=64,
                                         description="a patient id or COI id")] = None,
    kind: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    after: Annotated[int, Query(ge=0, le=2**31 - 1,
                                description="only events after this sequence")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """The trial's recorded events the caller may see, oldest first."""
    patient_id = None
    if patient is not None:
        patient_id = resolve_patient(principal, ctx, patient)
        if patient_id is None:
            raise not_found(f"patient {patient}")
    found: list[dict[str, Any]] = []
    for row in record_repo.events(session, ctx.trial, patient_id):
        if row.sequence <= after or (kind is not None and row.kind != kind):
            continue
        view = event_view(principal, ctx, event_item(row))
        if view is not None:
            found.append(view)
            if len(found) >= limit:
                break
    return found


def _refused(session: Session, services: ServicesDep, event: dict[str, Any],
             error: EventRefused, principal: Principal, now: dt.datetime) -> None:
    # The attempt is rolled back, then kept as an incident in a unit of its own: a refused
    # event (a chain-of-identity mismatch above all) must be seen by whoever watches.
    session.rollback()
    record.note_refusal(session, event, error, user=principal.actor, now=now)
    session.commit()
    services.changed()


def _fan_out(session: Session, ctx: TrialContext, sequence: int) -> None:
    row = session.scalar(select(EventRow).where(EventRow.trial == ctx.trial,
                                                EventRow.sequence == sequence))
    if row is None:
        return
    item = event_item(row)
    webhooks.enqueue(session, ctx=ctx, topic="event", item=f"{ctx.trial}#{sequence}",
                     view=lambda p, c: event_view(p, c, item))


def record_one(session: Session, services: ServicesDep, ctx: TrialContext,
               principal: Principal, body: dict[str, Any], key: str | None) -> RecordedOut:
    """Record an event the principal may record, through the record's service, and queue
    it for the webhooks that may see it. Raises problems for every refusal."""
    event = authorize_event(principal, ctx, body)
    now = services.clock()
    # End the reads so far: the record's trial lock must open the unit of work (on
    # SQLite it begins the write transaction; a read snapshot taken before it could not
    # be upgraded once another writer has committed).
    session.commit()
    try:
        recorded = record.record_event(session, event, user=principal.actor, now=now,
                                       idempotency_key=key)
    except EventRefused as error:
        _refused(session, services, event, error, principal, now)
        raise
    except record.IdempotencyConflict as error:
        raise ApiProblem(422, "Idempotency key reused", str(error),
                         kind="idempotency-key-reused",
                         errors=[FieldError(field="header.Idempotency-Key",
                                            message="already used for a different event")]
                         ) from None
    except record.BookingConflict as error:
        raise ApiProblem(409, "Booking conflict", str(error), kind="booking-conflict") from None
    except record.TrialNotStored as error:
        raise not_found(str(error)) from None
    if not recorded.duplicate:
        _fan_out(session, ctx, recorded.sequence)
        mark_changed(session)
    return RecordedOut(
        trial=recorded.trial, sequence=recorded.sequence, kind=recorded.kind,
        patient=recorded.patient if identifies_patients(principal) else None,
        state=recorded.state, coi=recorded.coi, alerts=list(recorded.alerts),
        duplicate=recorded.duplicate)


@router.post("/trials/{trial_id}/events", status_code=201, response_model=RecordedOut,
             responses={200: {"description": "replayed answer of an earlier request",
                              "model": RecordedOut}})
def record_event(ctx: Trial, body: EventBody, request: Request, principal: CurrentUser,
                 session: Db, services: ServicesDep, idempotency_key: KeyHeader = None) -> Any:
    """Record one event through the record: checked against the patient's journey and the
    capacity it takes; 409 if it may not happen, with the field at fault."""
    idem = Idempotency(session, principal, idempotency_key, "POST", request.url.path,
                       request_fingerprint("POST", request.url.path, body))
    earlier = idem.earlier()
    if earlier is not None:
        return earlier
    result = record_one(session, services, ctx, principal, body, idempotency_key)
    idem.remember(201, result)
    return JSONResponse(result.model_dump(mode="json"), status_code=201)


@router.get("/trials/{trial_id}/shipments", response_model=list[ShipmentOut])
def list_shipments(ctx: Trial, principal: CurrentUser, session: Db) -> list[ShipmentOut]:
    """Hand-overs in the chain of custody the caller may see (a courier: those it is a
    party to)."""
    found = []
    for row in record_repo.custody_chain(session, ctx.trial):
        if not sees_shipment(principal, ctx, row.patient, (row.from_party, row.to_party)):
            continue
        found.append(ShipmentOut(
            coi=row.coi, patient=row.patient if identifies_patients(principal) else None,
            material=row.material, from_party=row.from_party, to_party=row.to_party,
            signed_by=row.signed_by, place=row.place, handed_at=row.handed_at,
            temperature_ok=row.temperature_ok,
            excursion=json.loads(row.excursion) if row.excursion else None,
            qa_status=row.qa_status))
    return found

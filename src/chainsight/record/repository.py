"""Every query of the operational record. Functions take the caller's session, never commit."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chainsight.domain.journey import Journey
from chainsight.record.audit import take_lock
from chainsight.record.models import (
    AlertRow,
    AuditRow,
    BookingRow,
    CoiRow,
    CustodyRow,
    EventRow,
    JourneyRow,
    LedgerRow,
)
from chainsight.store.session import SQLITE_BEGIN


def lock_trial(session: Session, trial_id: str) -> None:
    """Queue behind any other writer of the trial until this unit of work ends.

    It must be the unit's first write: on SQLite, reads before it may come from an older
    snapshot than the one the write lock guarantees.
    """
    # On SQLite the unit also begins IMMEDIATE, so it holds the write lock from its start.
    take_lock(session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"}),
              f"trial:{trial_id}")


def event_by_key(session: Session, trial_id: str, key: str) -> EventRow | None:
    """The event recorded in the trial under this idempotency key, if any."""
    return session.scalar(select(EventRow).where(EventRow.trial == trial_id,
                                                 EventRow.idempotency_key == key))


def next_sequence(session: Session, trial_id: str) -> int:
    """The sequence number the trial's next event gets (1 for the first)."""
    highest = session.scalar(select(func.max(EventRow.sequence))
                             .where(EventRow.trial == trial_id))
    return (highest or 0) + 1


def events(session: Session, trial_id: str, patient: str | None = None) -> Sequence[EventRow]:
    """The trial's events in recorded order, only one patient's where ``patient`` is given."""
    query = select(EventRow).where(EventRow.trial == trial_id)
    if patient is not None:
        query = query.where(EventRow.patient == patient)
    return session.scalars(query.order_by(EventRow.sequence)).all()


def ledger_row(session: Session, trial_id: str) -> LedgerRow | None:
    """The record's per-trial state, or None if nothing was recorded for the trial yet."""
    return session.scalar(select(LedgerRow).where(LedgerRow.trial == trial_id))


def journey_rows(session: Session, trial_id: str) -> dict[str, JourneyRow]:
    """The stored journeys of a trial by patient id."""
    rows = session.scalars(select(JourneyRow).where(JourneyRow.trial == trial_id)).all()
    return {row.patient: row for row in rows}


def journey_of(row: JourneyRow) -> Journey:
    """The domain journey a row stores."""
    return Journey.model_validate(json.loads(row.data))


def issued_cois(session: Session, prefix: str) -> list[str]:
    """Every COI id issued that starts with ``prefix`` (``CH`` + facility code + year)."""
    return list(session.scalars(select(CoiRow.coi).where(CoiRow.coi.startswith(prefix))))


def coi_row(session: Session, coi: str) -> CoiRow | None:
    """The issue record of a COI id, if it was issued here."""
    return session.scalar(select(CoiRow).where(CoiRow.coi == coi))


def cois_of_trial(session: Session, trial_id: str) -> Sequence[CoiRow]:
    """The COI ids issued for a trial, in issue order."""
    return session.scalars(select(CoiRow).where(CoiRow.trial == trial_id)
                           .order_by(CoiRow.id)).all()


def bookings(session: Session, trial_id: str, kind: str, resource: str, day: dt.date
             ) -> Sequence[BookingRow]:
    """Capacity units taken on one resource and day."""
    return session.scalars(select(BookingRow).where(
        BookingRow.trial == trial_id, BookingRow.resource_kind == kind,
        BookingRow.resource == resource, BookingRow.day == day)).all()


def patient_bookings(session: Session, trial_id: str, kind: str, patient: str
                     ) -> Sequence[BookingRow]:
    """The capacity units one patient holds of a kind."""
    return session.scalars(select(BookingRow).where(
        BookingRow.trial == trial_id, BookingRow.resource_kind == kind,
        BookingRow.patient == patient)).all()


def custody_chain(session: Session, trial_id: str, patient: str | None = None
                  ) -> Sequence[CustodyRow]:
    """Hand-overs of a trial (one patient's where given), in the order they were recorded."""
    query = select(CustodyRow).where(CustodyRow.trial == trial_id)
    if patient is not None:
        query = query.where(CustodyRow.patient == patient)
    return session.scalars(query.order_by(CustodyRow.id)).all()


def alerts(session: Session, trial_id: str) -> Sequence[AlertRow]:
    """The trial's alerts, oldest first."""
    return session.scalars(select(AlertRow).where(AlertRow.trial == trial_id)
                           .order_by(AlertRow.id)).all()


def audit_entries(session: Session, *, trial: str | None = None, patient: str | None = None,
                  actor: str | None = None, since: str | None = None, until: str | None = None,
                  limit: int | None = None) -> Sequence[AuditRow]:
    """Audit entries matching every filter given, in chain order.

    ``since`` and ``until`` are ISO dates or times compared with the UTC text of ``at``;
    a bare ``until`` date includes that whole day.
    """
    query = select(AuditRow)
    if trial is not None:
        query = query.where(AuditRow.trial == trial)
    if patient is not None:
        query = query.where(AuditRow.patient == patient)
    if actor is not None:
        query = query.where(AuditRow.actor == actor)
    if since is not None:
        query = query.where(AuditRow.at >= since)
    if until is not None:
        query = query.where(AuditRow.at <= (until + "T99" if len(until) == 10 else until))
    query = query.order_by(AuditRow.seq)
    if limit is not None:
        query = query.limit(limit)
    return session.scalars(query).all()

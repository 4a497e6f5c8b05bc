"""Tables of the operational record, on the store's declarative base.

Events are the source of truth: ``record_events`` is append-only (database triggers
refuse UPDATE and DELETE), and so are the chain of custody, the alerts and the audit
trail. Journeys, ledgers and bookings are the current state the events lead to; they
change with every event and every change of them is audited.

Trials and patients are named by their scenario ids (``code``), not by the store's
surrogate keys: a record must outlive a re-import of its trial.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from chainsight.store.models import Base

CODE = String(64)
COI = String(16)
WHO = String(200)
KIND = String(32)


class EventRow(Base):
    """One accepted event, in the order it was recorded in its trial (``sequence`` 1, 2...)."""

    __tablename__ = "record_events"
    __table_args__ = (
        UniqueConstraint("trial", "sequence"),
        UniqueConstraint("trial", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial: Mapped[str] = mapped_column(CODE)
    sequence: Mapped[int]
    kind: Mapped[str] = mapped_column(KIND)
    patient: Mapped[str | None] = mapped_column(CODE, index=True)
    coi: Mapped[str | None] = mapped_column(COI)
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON of the event
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(WHO)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    result: Mapped[str] = mapped_column(Text)  # canonical JSON returned to the caller


class JourneyRow(Base):
    """Where one patient's journey stands, and the chain-of-identity id of their material."""

    __tablename__ = "record_journeys"
    __table_args__ = (UniqueConstraint("trial", "patient"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial: Mapped[str] = mapped_column(CODE)
    patient: Mapped[str] = mapped_column(CODE)
    coi: Mapped[str | None] = mapped_column(COI, unique=True)
    state: Mapped[str] = mapped_column(KIND)
    data: Mapped[str] = mapped_column(Text)  # the domain Journey as canonical JSON


class LedgerRow(Base):
    """What the record keeps per trial beyond journeys: quarantined lots, last-event days."""

    __tablename__ = "record_ledgers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial: Mapped[str] = mapped_column(CODE, unique=True)
    facility_code: Mapped[str] = mapped_column(String(5))
    quarantined: Mapped[str] = mapped_column(Text)  # JSON {lot: withheld units}
    last_on: Mapped[str] = mapped_column(Text)  # JSON {"lot:LV-001": "2027-01-04"}


class CoiRow(Base):
    """A chain-of-identity id issued once: unique everywhere, then assigned to one patient."""

    __tablename__ = "record_coi"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    coi: Mapped[str] = mapped_column(COI, unique=True)
    trial: Mapped[str] = mapped_column(CODE, index=True)
    patient: Mapped[str | None] = mapped_column(CODE)
    issued_by: Mapped[str] = mapped_column(WHO)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class CustodyRow(Base):
    """One hand-over in the chain of custody; an excursion leaves it pending a QA decision."""

    __tablename__ = "record_custody"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("record_events.id"), index=True)
    trial: Mapped[str] = mapped_column(CODE)
    patient: Mapped[str] = mapped_column(CODE, index=True)
    coi: Mapped[str] = mapped_column(COI)
    material: Mapped[str] = mapped_column(KIND)  # apheresis_material | drug_product
    from_party: Mapped[str] = mapped_column(Text)
    to_party: Mapped[str] = mapped_column(Text)
    signed_by: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(Text)
    handed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    temperature_ok: Mapped[bool] = mapped_column(Boolean)
    excursion: Mapped[str | None] = mapped_column(Text)  # JSON
    qa_status: Mapped[str] = mapped_column(KIND)  # not_needed | pending


class AlertRow(Base):
    """Something the radar must show: a refused event (a COI mismatch above all), an
    excursion awaiting QA, a failed run, a quarantined lot."""

    __tablename__ = "record_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial: Mapped[str] = mapped_column(CODE, index=True)
    patient: Mapped[str | None] = mapped_column(CODE)
    kind: Mapped[str] = mapped_column(KIND)  # refused | excursion | failure | quarantine
    code: Mapped[str] = mapped_column(KIND)
    field: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    payload: Mapped[str | None] = mapped_column(Text)
    raised_by: Mapped[str] = mapped_column(WHO)
    raised_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class BookingRow(Base):
    """One unit of day capacity taken: an apheresis slot at a site or a suite-day at a CDMO.

    The unique (trial, resource, day, slot) is the database's own guard that a slot is
    never given twice, whatever happens above it.
    """

    __tablename__ = "record_bookings"
    __table_args__ = (UniqueConstraint("trial", "resource_kind", "resource", "day", "slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial: Mapped[str] = mapped_column(CODE)
    resource_kind: Mapped[str] = mapped_column(KIND)  # apheresis | suite
    resource: Mapped[str] = mapped_column(CODE)
    day: Mapped[dt.date] = mapped_column(Date)
    slot: Mapped[int]
    patient: Mapped[str] = mapped_column(CODE)


class LockRow(Base):
    """Named mutexes: taking one is a write, so concurrent writers of a trial queue up
    (a row lock on PostgreSQL, the database write lock on SQLite). No business data."""

    __tablename__ = "record_locks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    taken: Mapped[int] = mapped_column(Integer, default=0)


class AuditRow(Base):
    """One entry of the audit trail: who changed what (old and new values), when, and why.

    Append-only in the database; ``hash`` = sha256 of the canonical JSON of the entry
    with ``prev_hash``, so that changing or removing any entry breaks the chain.
    """

    __tablename__ = "record_audit"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32), index=True)  # UTC, ISO 8601, as hashed
    actor: Mapped[str] = mapped_column(WHO, index=True)
    reason: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(8))  # insert | update | delete
    table_name: Mapped[str] = mapped_column(String(64))
    row_key: Mapped[str] = mapped_column(String(200))
    trial: Mapped[str | None] = mapped_column(CODE, index=True)
    patient: Mapped[str | None] = mapped_column(CODE, index=True)
    old: Mapped[str | None] = mapped_column(Text)  # canonical JSON of the changed columns
    new: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHeadRow(Base):
    """The end of the audit chain (one row): its last seq and hash. Writers lock it, so the
    chain never forks, and verify compares it with the last entry to see a removed tail."""

    __tablename__ = "record_audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))

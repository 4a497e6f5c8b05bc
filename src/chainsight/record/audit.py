"""The audit trail: every change of stored data, who made it, when (UTC), what, and why.

How it is hooked: SQLAlchemy mapper events (``after_insert``, ``after_update``,
``after_delete``) on the store's declarative ``Base``, so every row any ORM flush writes
is audited, whoever wrote it: the store's ``save_scenario`` (imports) and the record's
events alike, including rows deleted as orphans by a cascade. Each entry is written with
Core on the flush's own connection, so it commits or rolls back with the change itself.
Who and why come from the session (:func:`set_context`).

The trail is a hash chain: each entry's ``hash`` is sha256 over the canonical JSON of the
entry and the previous entry's hash. Writers take the ``audit`` lock first so the chain
never forks; the database refuses UPDATE and DELETE of entries (triggers, see the
migration), and :func:`verify_chain` finds the first entry that does not hold.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, event, insert, inspect, select, text, update
from sqlalchemy.orm import Mapper, Session, object_session

from chainsight.record.models import AuditHeadRow, AuditRow, LockRow
from chainsight.store.models import Base

GENESIS = "0" * 64
ACTOR_KEY = "chainsight.actor"
REASON_KEY = "chainsight.reason"
USER_ENV = "CHAINSIGHT_USER"

_NOT_AUDITED = frozenset({AuditRow.__tablename__, AuditHeadRow.__tablename__,
                          LockRow.__tablename__})

# Where a store row's trial is found, for rows that do not carry it themselves.
_TRIAL_OF = {
    "trials": "SELECT code FROM trials WHERE id = :id",
    "reservations": "SELECT t.code FROM reservations r JOIN facilities f ON f.id = r.facility_id "
                    "JOIN trials t ON t.id = f.trial_id WHERE r.id = :id",
    "milestones": "SELECT t.code FROM milestones m JOIN tech_transfers x ON x.id = "
                  "m.tech_transfer_id JOIN trials t ON t.id = x.trial_id WHERE m.id = :id",
    "milestone_dependencies": "SELECT t.code FROM milestone_dependencies d JOIN milestones m "
                              "ON m.id = d.milestone_id JOIN tech_transfers x ON x.id = "
                              "m.tech_transfer_id JOIN trials t ON t.id = x.trial_id "
                              "WHERE d.id = :id",
}


def default_actor() -> str:
    """Who is working when nobody said: ``$CHAINSIGHT_USER``, else the operating-system login."""
    configured = os.environ.get(USER_ENV, "").strip()
    if configured:
        return configured
    try:
        return f"os:{getpass.getuser()}"
    except (OSError, KeyError):
        return "os:unknown"


def set_context(session: Session, *, actor: str, reason: str) -> None:
    """Say who makes the session's coming changes and why: both go into every audit entry."""
    session.info[ACTOR_KEY] = actor
    session.info[REASON_KEY] = reason


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, dates as ISO text; what is hashed is this."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def utc_now_text() -> str:
    """Now in UTC as the audit trail writes it (microseconds, ``Z``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


HASHED = ("seq", "at", "actor", "reason", "action", "table_name", "row_key", "trial",
          "patient", "old", "new")


def entry_hash(entry: Mapping[str, Any], prev_hash: str) -> str:
    """sha256 over the canonical JSON of the entry's hashed fields and the previous hash."""
    body = {name: entry[name] for name in HASHED} | {"prev_hash": prev_hash}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def take_lock(connection: Connection, name: str) -> None:
    """Take the named lock until the transaction ends; a concurrent writer waits for it.

    An upsert is a write: on PostgreSQL it locks the row, on SQLite it takes the
    database's write lock, so reads after it see every earlier committed change.
    """
    connection.execute(
        text("INSERT INTO record_locks (name, taken) VALUES (:name, 1) "
             "ON CONFLICT (name) DO UPDATE SET taken = record_locks.taken + 1"),
        {"name": name},
    )


_audited_engines: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def _has_trail(connection: Connection) -> bool:
    # A database migrated without the record's revision has nowhere to write: the store
    # always migrates to the newest revision, so this only spares foreign test set-ups.
    engine = connection.engine
    known = _audited_engines.get(engine)
    if known is None:
        known = inspect(connection).has_table(AuditRow.__tablename__)
        if known:
            _audited_engines[engine] = True
    return known


def write_entry(connection: Connection, *, actor: str, reason: str, action: str,
                table_name: str, row_key: str, trial: str | None, patient: str | None,
                old: dict[str, Any] | None, new: dict[str, Any] | None) -> int:
    """Append one entry to the chain on ``connection`` and return its seq."""
    take_lock(connection, "audit")
    head = connection.execute(select(AuditHeadRow.seq, AuditHeadRow.hash).where(
        AuditHeadRow.id == 1)).one_or_none()
    if head is None:
        connection.execute(insert(AuditHeadRow).values(id=1, seq=0, hash=GENESIS))
        last_seq, last_hash = 0, GENESIS
    else:
        last_seq, last_hash = head
    entry: dict[str, Any] = {
        "seq": last_seq + 1, "at": utc_now_text(), "actor": actor, "reason": reason,
        "action": action, "table_name": table_name, "row_key": row_key, "trial": trial,
        "patient": patient,
        "old": canonical(old) if old is not None else None,
        "new": canonical(new) if new is not None else None,
    }
    entry["prev_hash"] = last_hash
    entry["hash"] = entry_hash(entry, last_hash)
    connection.execute(insert(AuditRow).values(**entry))
    connection.execute(update(AuditHeadRow).where(AuditHeadRow.id == 1)
                       .values(seq=entry["seq"], hash=entry["hash"]))
    return int(entry["seq"])


def _columns(mapper: Mapper[Any], target: Any) -> dict[str, Any]:
    return {attr.key: getattr(target, attr.key) for attr in mapper.column_attrs}


def _changes(mapper: Mapper[Any], target: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(target)
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for attr in mapper.column_attrs:
        history = state.attrs[attr.key].history
        if history.has_changes():
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if before != after:
                old[attr.key] = before
                new[attr.key] = after
    return old, new


def _row_key(mapper: Mapper[Any], target: Any) -> str:
    keys = mapper.primary_key_from_instance(target)
    return ",".join(str(k) for k in keys)


def _trial_and_patient(connection: Connection, table: str, target: Any
                       ) -> tuple[str | None, str | None]:
    if table == "trials":
        return getattr(target, "code", None), None
    trial = getattr(target, "trial", None)
    if isinstance(trial, str):  # the record's own tables name the trial
        patient = getattr(target, "patient", None)
        return trial, patient if isinstance(patient, str) else None
    patient = getattr(target, "code", None) if table == "patients" else None
    trial_id = getattr(target, "trial_id", None)
    if trial_id is not None:
        code = connection.execute(text("SELECT code FROM trials WHERE id = :id"),
                                  {"id": trial_id}).scalar()
        return code, patient
    query = _TRIAL_OF.get(table)
    if query is not None:
        return connection.execute(text(query), {"id": getattr(target, "id", None)}).scalar(), None
    return None, None


def _who(target: Any) -> tuple[str, str]:
    session = object_session(target)
    info = session.info if session is not None else {}
    return (str(info.get(ACTOR_KEY) or default_actor()),
            str(info.get(REASON_KEY) or "no reason given"))


def _audit(action: str, mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    table = mapper.persist_selectable.name  # type: ignore[attr-defined]
    if table in _NOT_AUDITED or not _has_trail(connection):
        return
    if action == "update":
        old, new = _changes(mapper, target)
        if not new:
            return
        values_old: dict[str, Any] | None = old
        values_new: dict[str, Any] | None = new
    elif action == "insert":
        values_old, values_new = None, _columns(mapper, target)
    else:
        values_old, values_new = _columns(mapper, target), None
    actor, reason = _who(target)
    trial, patient = _trial_and_patient(connection, table, target)
    write_entry(connection, actor=actor, reason=reason, action=action, table_name=table,
                row_key=_row_key(mapper, target), trial=trial, patient=patient,
                old=values_old, new=values_new)


@event.listens_for(Session, "before_flush")
def _lock_before_writing(session: Session, _context: Any, _instances: Any) -> None:
    # Take the audit lock before the flush writes any row, so every writer takes its locks
    # in one order (trial, audit, rows) and two writers can never wait on each other.
    if session.new or session.dirty or session.deleted:
        connection = session.connection()
        if _has_trail(connection):
            take_lock(connection, "audit")


@event.listens_for(Base, "after_insert", propagate=True)
def _after_insert(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    _audit("insert", mapper, connection, target)


@event.listens_for(Base, "after_update", propagate=True)
def _after_update(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    _audit("update", mapper, connection, target)


@event.listens_for(Base, "after_delete", propagate=True)
def _after_delete(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    _audit("delete", mapper, connection, target)


# ---------------------------------------------------------------- reading and verifying


@dataclass(frozen=True)
class ChainReport:
    """The outcome of checking the audit chain: ``broken_seq`` is the first bad entry."""

    entries: int
    ok: bool
    broken_seq: int | None = None
    reason: str = ""


def _entries(session: Session, batch: int = 1000) -> Iterator[AuditRow]:
    after = 0
    while True:
        rows = session.scalars(select(AuditRow).where(AuditRow.seq > after)
                               .order_by(AuditRow.seq).limit(batch)).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def verify_chain(session: Session) -> ChainReport:
    """Check every entry's hash and link, and that the head names the last entry."""
    expected_seq = 1
    last_hash = GENESIS
    count = 0
    for row in _entries(session):
        count += 1
        fields = {name: getattr(row, name) for name in HASHED}
        if row.seq != expected_seq:
            return ChainReport(count, False, expected_seq,
                               f"entry {expected_seq} is missing (next entry is {row.seq})")
        if row.prev_hash != last_hash:
            return ChainReport(count, False, row.seq,
                               f"entry {row.seq} does not link to entry {row.seq - 1} "
                               "(prev_hash differs)")
        if entry_hash(fields, row.prev_hash) != row.hash:
            return ChainReport(count, False, row.seq,
                               f"entry {row.seq} ({row.action} {row.table_name} "
                               f"{row.row_key}) was altered: its hash does not match its content")
        last_hash = row.hash
        expected_seq += 1
    head = session.execute(select(AuditHeadRow.seq, AuditHeadRow.hash)).one_or_none()
    head_seq, head_hash = head if head is not None else (0, GENESIS)
    if head_seq != count or head_hash != last_hash:
        return ChainReport(count, False, count + 1 if head_seq > count else head_seq,
                           f"the chain ends at entry {count} but its head names entry "
                           f"{head_seq}: entries were removed from the end")
    return ChainReport(count, True)


def entry_dict(row: AuditRow) -> dict[str, Any]:
    """An entry as plain data (old and new values decoded)."""
    return {
        "seq": row.seq, "at": row.at, "actor": row.actor, "reason": row.reason,
        "action": row.action, "table": row.table_name, "row": row.row_key,
        "trial": row.trial, "patient": row.patient,
        "old": json.loads(row.old) if row.old else None,
        "new": json.loads(row.new) if row.new else None,
        "hash": row.hash,
    }

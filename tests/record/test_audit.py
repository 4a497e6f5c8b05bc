"""The audit trail: who, when, what and why for every change; append-only in the database;
any tampering found by verify, naming the entry."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from chainsight.record import repository as repo
from chainsight.record.audit import entry_hash, verify_chain
from chainsight.record.models import AuditRow
from tests.domain.journey_events import TRIAL, custody, event
from tests.record.conftest import coi_of, submit


@pytest.fixture
def recorded(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """The demo trial with three of P004's events recorded, by alice, bob, alice."""
    submit(factory, event("apheresis_scheduled", "2027-01-04", day="2027-01-05"))
    coi = coi_of(factory, "P004")
    submit(factory, event("apheresis_done", "2027-01-05", coi=coi,
                          reason="collected as booked"), user="bob")
    submit(factory, event("material_shipped", "2027-01-05", coi=coi, facility="CDMO-A",
                          custody=custody("2027-01-05", "S01", "courier")))
    return factory


def _last_seq(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return repo.audit_entries(session)[-1].seq


def test_imports_and_events_are_audited_with_who_and_why(
    recorded: sessionmaker[Session],
) -> None:
    with recorded() as session:
        imported = repo.audit_entries(session, actor="importer")
        by_bob = repo.audit_entries(session, actor="bob")
        p004 = repo.audit_entries(session, trial=TRIAL, patient="P004")
        assert verify_chain(session).ok
    assert imported
    assert {e.reason for e in imported} == {"demo trial imported"}
    assert {e.table_name for e in imported} >= {"trials", "sites", "patients", "vector_lots"}
    assert all(e.trial == TRIAL for e in imported)
    patient_update = next(e for e in by_bob if e.table_name == "patients")
    assert patient_update.action == "update"
    assert patient_update.reason == "event #2 apheresis_done: collected as booked"
    assert patient_update.old == '{"apheresis":null}'
    assert patient_update.new == '{"apheresis":"2027-01-05"}'
    assert patient_update.at.endswith("Z")
    assert {e.patient for e in p004} == {"P004"}
    assert {"record_events", "record_journeys", "patients"} <= {e.table_name for e in p004}


def test_show_filters_by_time(recorded: sessionmaker[Session]) -> None:
    with recorded() as session:
        everything = repo.audit_entries(session)
        middle = everything[len(everything) // 2].at
        since = repo.audit_entries(session, since=middle)
        until = repo.audit_entries(session, until=middle)
        day = repo.audit_entries(session, since=middle[:10], until=middle[:10])
    assert since[0].at >= middle
    assert until[-1].at <= middle
    assert len(since) + len(until) >= len(everything)
    assert len(day) == len(everything)


@pytest.mark.parametrize(
    "statement",
    ["UPDATE record_audit SET actor = 'mallory' WHERE seq = 1",
     "DELETE FROM record_audit WHERE seq = 1",
     "UPDATE record_events SET kind = 'infused'",
     "DELETE FROM record_events",
     "DELETE FROM record_custody",
     "UPDATE record_audit_head SET seq = 1",
     "DELETE FROM record_audit_head"],
)
def test_the_database_refuses_rewriting_history(recorded: sessionmaker[Session],
                                                statement: str) -> None:
    with pytest.raises(DBAPIError, match=r"append-only|only moves|cannot be removed"), \
            recorded() as session, session.begin():
        session.execute(text(statement))
    with recorded() as session:
        assert verify_chain(session).ok


def _bypass(connection: Connection) -> None:
    # What an attacker with database rights could do: switch the guards off.
    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE record_audit DISABLE TRIGGER USER"))
        connection.execute(text("ALTER TABLE record_audit_head DISABLE TRIGGER USER"))
    else:
        for trigger in ("record_audit_no_update", "record_audit_no_delete",
                        "record_audit_head_forward"):
            connection.execute(text(f"DROP TRIGGER {trigger}"))


def _tamper(factory: sessionmaker[Session], statement: str, **params: object) -> None:
    with factory() as session, session.begin():
        connection = session.connection()
        _bypass(connection)
        connection.execute(text(statement), params)


Tamper = Callable[[sessionmaker[Session], int], int]


def _edit_new(factory: sessionmaker[Session], seq: int) -> int:
    _tamper(factory, "UPDATE record_audit SET new = '{\"apheresis\":\"2027-01-06\"}' "
                     "WHERE seq = :seq", seq=seq)
    return seq


def _edit_actor(factory: sessionmaker[Session], seq: int) -> int:
    _tamper(factory, "UPDATE record_audit SET actor = 'mallory' WHERE seq = :seq", seq=seq)
    return seq


def _edit_time(factory: sessionmaker[Session], seq: int) -> int:
    _tamper(factory, "UPDATE record_audit SET at = '2020-01-01T00:00:00.000000Z' "
                     "WHERE seq = :seq", seq=seq)
    return seq


def _remove(factory: sessionmaker[Session], seq: int) -> int:
    _tamper(factory, "DELETE FROM record_audit WHERE seq = :seq", seq=seq)
    return seq


def _rehash(factory: sessionmaker[Session], seq: int) -> int:
    # A careful forger recomputes the altered entry's own hash: the next link breaks.
    with factory() as session:
        row = session.get(AuditRow, seq)
        assert row is not None
        fields = {name: getattr(row, name) for name in (
            "seq", "at", "actor", "reason", "action", "table_name", "row_key", "trial",
            "patient", "old", "new")} | {"actor": "mallory"}
        forged = entry_hash(fields, row.prev_hash)
    _tamper(factory, "UPDATE record_audit SET actor = 'mallory', hash = :h WHERE seq = :seq",
            h=forged, seq=seq)
    return seq + 1


@pytest.mark.parametrize("tamper", [_edit_new, _edit_actor, _edit_time, _remove, _rehash],
                         ids=["new-values", "actor", "time", "removed", "rehashed"])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_tampering_is_detected_and_named(recorded: sessionmaker[Session], tamper: Tamper,
                                         where: str) -> None:
    last = _last_seq(recorded)
    seq = {"first": 1, "middle": last // 2, "last": last}[where]
    if tamper is _rehash and where == "last":
        seq = last - 1
    broken = tamper(recorded, seq)
    with recorded() as session:
        report = verify_chain(session)
    assert not report.ok
    assert report.broken_seq == broken
    assert str(broken) in report.reason


def test_removing_the_tail_is_detected(recorded: sessionmaker[Session]) -> None:
    last = _last_seq(recorded)
    _tamper(recorded, "DELETE FROM record_audit WHERE seq >= :seq", seq=last - 2)
    with recorded() as session:
        report = verify_chain(session)
    assert not report.ok
    assert report.broken_seq == last - 2
    assert "removed from the end" in report.reason

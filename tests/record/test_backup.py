"""Backup and restore: every table round-trips and the audit chain still verifies."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from chainsight.record import backup as backups
from chainsight.record import repository as repo
from chainsight.record.audit import verify_chain
from chainsight.record.service import event_list
from chainsight.store.repository import get_scenario
from chainsight.store.session import migrate
from tests.domain.journey_events import TRIAL, event, journey
from tests.record.conftest import coi_of, submit, with_coi


def _engine(factory: sessionmaker[Session]) -> Engine:
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine)
    return engine


def test_round_trip_into_an_empty_database(factory: sessionmaker[Session]) -> None:
    first, *rest = journey()
    submit(factory, first)
    for data in with_coi(rest[:5], coi_of(factory, "P004")):
        submit(factory, data)
    with factory() as session:
        data = json.loads(json.dumps(backups.backup(session.connection())))
        scenario = get_scenario(session, TRIAL)
        recorded = event_list(session, TRIAL)
        entries = len(repo.audit_entries(session))
    engine = _engine(factory)
    backups.wipe(engine)
    migrate(engine)
    with engine.begin() as connection:
        assert backups.is_empty(connection)
        count = backups.restore(connection, data, actor="restorer")
    assert count == sum(len(rows) for rows in data["tables"].values())
    with factory() as session:
        report = verify_chain(session)
        assert get_scenario(session, TRIAL) == scenario
        assert event_list(session, TRIAL) == recorded
        last = repo.audit_entries(session)[-1]
    assert report.ok, report.reason
    assert report.entries == entries + 1
    assert (last.action, last.actor) == ("restore", "restorer")
    # the restored store carries on: new events, new ids, the chain still holds
    submit(factory, with_coi(rest[5:6], coi_of(factory, "P004"))[0])
    with factory() as session:
        assert verify_chain(session).ok


def test_restore_refuses_a_database_with_data(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        data = backups.backup(session.connection())
    with pytest.raises(backups.BackupError, match="not empty"), \
            _engine(factory).begin() as connection:
        backups.restore(connection, data)


@pytest.mark.parametrize(
    ("change", "words"),
    [({"format": "other"}, "format"), ({"revision": "0000"}, "revision"),
     ({"tables": {"nope": []}}, "unknown table")],
)
def test_restore_refuses_what_is_not_a_backup_of_this_schema(
    factory: sessionmaker[Session], change: dict[str, object], words: str
) -> None:
    submit(factory, event("apheresis_scheduled", "2027-01-04", day="2027-01-05"))
    with factory() as session:
        data = backups.backup(session.connection()) | change
    with pytest.raises(backups.BackupError, match=words), \
            _engine(factory).begin() as connection:
        backups.restore(connection, data)

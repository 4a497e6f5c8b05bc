"""Fixtures of the record's tests: the demo trial stored in a fresh database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

import chainsight.record  # noqa: F401  (installs the audit hooks)
from chainsight.domain import Scenario
from chainsight.record import repository as repo
from chainsight.record.audit import set_context
from chainsight.record.commands import submit_event
from chainsight.record.service import Recorded
from chainsight.store.repository import save_scenario
from chainsight.store.session import close_stores, open_store
from tests.domain.journey_events import NOW


@pytest.fixture
def factory(database_url: str, demo: Scenario) -> Iterator[sessionmaker[Session]]:
    """A migrated store holding the demo trial, imported by 'importer'."""
    made = open_store(database_url)
    with made() as session, session.begin():
        set_context(session, actor="importer", reason="demo trial imported")
        save_scenario(session, demo)
    yield made
    close_stores()


def submit(factory: sessionmaker[Session], data: dict[str, Any], *, user: str = "alice",
           now: dt.datetime = NOW, key: str | None = None) -> Recorded:
    """Record one event as ``user`` and commit."""
    return submit_event(factory, data, user=user, now=now, idempotency_key=key)


def coi_of(factory: sessionmaker[Session], patient: str, trial: str = "CART-DEMO") -> str:
    """The COI id the record gave a patient."""
    with factory() as session:
        rows = {row.patient: row.coi for row in repo.cois_of_trial(session, trial)}
    return rows[patient]


def with_coi(events: list[dict[str, Any]], coi: str) -> list[dict[str, Any]]:
    """The events with their ``coi`` set to ``coi`` (where they carry one)."""
    return [{**e, "coi": coi} if "coi" in e else e for e in events]

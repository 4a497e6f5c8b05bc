"""The command boundary of the record: each function is one unit of work that commits.

The command line (and later the API) calls these; the services below them never commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from chainsight.domain.journey import EventRefused
from chainsight.record import service
from chainsight.record.service import Recorded


def submit_event(factory: sessionmaker[Session], data: Any, *, user: str, now: dt.datetime,
                 idempotency_key: str | None = None) -> Recorded:
    """Record one event and commit; a refused event is rolled back, then kept as an alert
    in a unit of its own, and the refusal raised again."""
    try:
        with factory() as session, session.begin():
            return service.record_event(session, data, user=user, now=now,
                                        idempotency_key=idempotency_key)
    except EventRefused as error:
        with factory() as session, session.begin():
            service.note_refusal(session, data, error, user=user, now=now)
        raise


def new_coi(factory: sessionmaker[Session], *, trial: str, user: str, now: dt.datetime,
            facility_code: str | None = None) -> str:
    """Issue and keep the next COI id for a trial."""
    with factory() as session, session.begin():
        return service.issue_coi(session, trial=trial, user=user, now=now,
                                 facility_code=facility_code)

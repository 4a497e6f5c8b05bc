"""Two people taking the same last slot at the same moment: exactly one gets it.

Each writer runs in its own thread with its own connection and transaction; a barrier
releases them together so that their transactions really overlap.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chainsight.domain import Scenario
from chainsight.domain.journey import EventRefused
from chainsight.record import repository as repo
from chainsight.record.audit import set_context, verify_chain
from chainsight.record.models import BookingRow
from chainsight.record.service import BookingConflict, Recorded
from chainsight.store.repository import get_scenario, save_scenario
from chainsight.store.session import SQLITE_BEGIN
from tests.domain.journey_events import TRIAL, custody, event
from tests.record.conftest import coi_of, submit

Outcome = Recorded | Exception


def _race(factory: sessionmaker[Session], attempts: list[tuple[dict[str, Any], str]]
          ) -> list[Outcome]:
    barrier = threading.Barrier(len(attempts))
    outcomes: list[Outcome | None] = [None] * len(attempts)

    def attempt(index: int, data: dict[str, Any], user: str) -> None:
        barrier.wait()
        try:
            outcomes[index] = submit(factory, data, user=user)
        except Exception as error:
            outcomes[index] = error

    threads = [threading.Thread(target=attempt, args=(i, data, user))
               for i, (data, user) in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(o is not None for o in outcomes), "a writer did not finish"
    return [o for o in outcomes if o is not None]


def _conflict(outcome: Outcome) -> bool:
    if isinstance(outcome, EventRefused):
        return outcome.code == "conflict"
    return isinstance(outcome, BookingConflict)


def _one_winner(outcomes: list[Outcome]) -> Recorded:
    winners = [o for o in outcomes if isinstance(o, Recorded)]
    losers = [o for o in outcomes if not isinstance(o, Recorded)]
    assert len(winners) == 1, outcomes
    assert all(_conflict(o) for o in losers), losers
    return winners[0]


def test_the_last_apheresis_slot_goes_to_exactly_one(factory: sessionmaker[Session]) -> None:
    # S01 collects one patient a day; P004 and P006 both want Thursday 2027-01-07.
    for elsewhere in ("2027-01-11", "2027-01-12"):  # twice: not won by luck of scheduling
        outcomes = _race(factory, [
            (event("apheresis_scheduled", "2027-01-04", day="2027-01-07"), "alice"),
            (event("apheresis_scheduled", "2027-01-04", day="2027-01-07", patient="P006"),
             "bob"),
        ])
        winner = _one_winner(outcomes)
        loser = next(o for o in outcomes if not isinstance(o, Recorded))
        assert "2027-01-07" in str(loser)
        # free the day again for the second round
        submit(factory, event("apheresis_scheduled", "2027-01-04", day=elsewhere,
                              patient=winner.patient or ""))
    with factory() as session:
        booked = repo.bookings(session, TRIAL, "apheresis", "S01", dt.date(2027, 1, 7))
        refused = [a for a in repo.alerts(session, TRIAL) if a.kind == "refused"]
    assert booked == []
    assert len(refused) == 2


def test_the_last_suite_day_goes_to_exactly_one(factory: sessionmaker[Session]) -> None:
    # One of CDMO-A's two suites is taken all January: one run fits, not two.
    submit(factory, {"kind": "reservation_added", "trial": TRIAL, "occurred_on": "2027-01-04",
                     "facility": "CDMO-A", "suites": 1, "start": "2027-01-01",
                     "end": "2027-01-31", "label": "other client"})
    starts = []
    for patient in ("P004", "P006"):
        coi = coi_of(factory, patient)
        for data in (
            event("apheresis_done", "2027-01-11" if patient == "P004" else "2027-01-12",
                  coi=coi, patient=patient),
            event("material_shipped", "2027-01-12", coi=coi, patient=patient,
                  facility="CDMO-A", custody=custody("2027-01-12", patient, "courier")),
            event("material_received", "2027-01-13", coi=coi, patient=patient,
                  facility="CDMO-A", custody=custody("2027-01-13", "courier", "CDMO-A")),
        ):
            submit(factory, data)
        starts.append((event("run_started", "2027-01-13", coi=coi, patient=patient,
                             facility="CDMO-A", vector_lot="LV-001"), f"planner-{patient}"))
    winner = _one_winner(_race(factory, starts))
    with factory() as session:
        scenario = get_scenario(session, TRIAL)
        suite_days = repo.bookings(session, TRIAL, "suite", "CDMO-A", dt.date(2027, 1, 13))
    assert scenario is not None
    started = [p.id for p in scenario.patients if p.manufacturing_start == dt.date(2027, 1, 13)]
    assert started == [winner.patient]
    assert [b.patient for b in suite_days] == [winner.patient]
    assert scenario.lot("LV-001").units == 2


def test_the_database_itself_never_gives_a_slot_twice(factory: sessionmaker[Session]) -> None:
    # Below the services: two transactions inserting the same slot; the unique key decides.
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def book(patient: str) -> None:
        try:
            with factory() as session, session.begin():
                session.add(BookingRow(trial=TRIAL, resource_kind="apheresis", resource="S01",
                                       day=dt.date(2027, 1, 7), slot=0, patient=patient))
                barrier.wait()
                session.flush()
        except IntegrityError as error:
            errors.append(error)

    threads = [threading.Thread(target=book, args=(p,)) for p in ("P004", "P006")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(errors) == 1
    with factory() as session:
        booked = repo.bookings(session, TRIAL, "apheresis", "S01", dt.date(2027, 1, 7))
    assert len(booked) == 1



def test_writers_of_different_trials_keep_one_unbroken_chain(
    factory: sessionmaker[Session], aav: Scenario
) -> None:
    # An import and events of another trial at the same moment: both land, the audit
    # chain does not fork, nobody deadlocks.
    barrier = threading.Barrier(3)
    failures: list[Exception] = []

    def importing() -> None:
        barrier.wait()
        try:
            with factory() as session, session.begin():
                # A writer that reads first must hold SQLite's write lock from the start,
                # or SQLite refuses it ("database is locked") rather than risk a deadlock.
                session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})
                set_context(session, actor="importer", reason="second trial")
                save_scenario(session, aav)
        except Exception as error:
            failures.append(error)

    def recording(data: dict[str, Any]) -> None:
        barrier.wait()
        try:
            submit(factory, data)
        except Exception as error:
            failures.append(error)

    threads = [threading.Thread(target=importing),
               threading.Thread(target=recording, args=(
                   event("apheresis_scheduled", "2027-01-04", day="2027-01-05"),)),
               threading.Thread(target=recording, args=(
                   {"kind": "extension_granted", "trial": TRIAL, "occurred_on": "2027-01-04",
                    "lot": "LV-001"},))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    with factory() as session:
        assert verify_chain(session).ok
        assert get_scenario(session, aav.trial.id) == aav

"""Scenarios in and out of the store: same values back, atomic, ids kept on replace."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from chainsight.domain import Patient, Scenario, ScenarioInvalid, load_scenario
from chainsight.store import models
from chainsight.store.errors import TrialExists
from chainsight.store.models import FacilityRow, PatientRow, SiteRow
from chainsight.store.repository import (
    delete_trial,
    get_scenario,
    list_trials,
    save_scenario,
    trial_exists,
)
from chainsight.store.session import unit_of_work

# The value chain's own tables (later packages add theirs to the same metadata).
TABLES = [
    cls.__table__ for cls in vars(models).values()
    if isinstance(cls, type) and issubclass(cls, models.Base) and hasattr(cls, "__table__")
]


def _row_counts(url: str) -> dict[str, int]:
    with unit_of_work(url) as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in TABLES
        }


def test_lists_keep_their_order(database_url: str, multicdmo: Scenario) -> None:
    reordered = multicdmo.model_copy(update={
        "sites": multicdmo.sites[::-1],
        "patients": multicdmo.patients[::-1],
        "lanes": multicdmo.lanes[::-1],
        "facilities": multicdmo.facilities[::-1],
    })
    with unit_of_work(database_url) as session:
        save_scenario(session, reordered)
    with unit_of_work(database_url) as session:
        back = get_scenario(session, multicdmo.trial.id)
    assert back == reordered
    assert back is not None
    assert [p.id for p in back.patients] == [p.id for p in multicdmo.patients][::-1]


def test_missing_trial_is_none(database_url: str) -> None:
    with unit_of_work(database_url) as session:
        assert get_scenario(session, "NO-SUCH-TRIAL") is None
        assert not trial_exists(session, "NO-SUCH-TRIAL")
        assert list_trials(session) == []


def test_saving_a_stored_trial_again_needs_replace(database_url: str, demo: Scenario) -> None:
    with unit_of_work(database_url) as session:
        save_scenario(session, demo)
    with pytest.raises(TrialExists, match="CART-DEMO"), unit_of_work(database_url) as session:
        save_scenario(session, demo)
    assert _row_counts(database_url)["patients"] == len(demo.patients)


def test_replace_rewrites_and_keeps_the_rows_of_unchanged_ids(
    database_url: str, demo: Scenario
) -> None:
    with unit_of_work(database_url) as session:
        save_scenario(session, demo)
        before = {p.code: p.id for p in session.scalars(select(PatientRow))}
        site_ids = {s.code: s.id for s in session.scalars(select(SiteRow))}
    new_patient = Patient(id="P011", site="S03", enrolled=dt.date(2027, 3, 1))
    changed = demo.model_copy(update={
        "trial": demo.trial.model_copy(update={"name": "Renamed"}),
        # P002 goes, P011 arrives, and the order changes
        "patients": [new_patient, *demo.patients[:1], *demo.patients[2:][::-1]],
        "sites": demo.sites[::-1],
        "lanes": demo.lanes[:-2],
        "tech_transfer": [demo.tech_transfer[0].model_copy(update={
            "milestones": demo.tech_transfer[0].milestones[:-1]
        })],
    })
    with unit_of_work(database_url) as session:
        save_scenario(session, changed, replace=True)
    with unit_of_work(database_url) as session:
        assert get_scenario(session, demo.trial.id) == changed
        after = {p.code: p.id for p in session.scalars(select(PatientRow))}
        assert {s.code: s.id for s in session.scalars(select(SiteRow))} == site_ids
    assert "P002" not in after
    assert all(after[code] == before[code] for code in after if code in before)
    assert after["P011"] not in before.values()
    counts = _row_counts(database_url)
    assert counts["trials"] == 1
    assert counts["patients"] == len(changed.patients)
    assert counts["lanes"] == len(changed.lanes)
    assert counts["milestones"] == len(changed.tech_transfer[0].milestones)
    # and back to the original
    with unit_of_work(database_url) as session:
        save_scenario(session, demo, replace=True)
    with unit_of_work(database_url) as session:
        assert get_scenario(session, demo.trial.id) == demo


def test_replace_can_drop_a_tech_transfer(database_url: str, demo: Scenario) -> None:
    facilities = [
        f.model_copy(update={"tech_transfer": None, "ready": dt.date(2027, 6, 1)})
        if f.tech_transfer else f
        for f in demo.facilities
    ]
    without = demo.model_copy(update={"facilities": facilities, "tech_transfer": []})
    with unit_of_work(database_url) as session:
        save_scenario(session, demo)
    with unit_of_work(database_url) as session:
        save_scenario(session, without, replace=True)
    with unit_of_work(database_url) as session:
        assert get_scenario(session, demo.trial.id) == without
    assert _row_counts(database_url)["tech_transfers"] == 0


def test_a_scenario_failing_its_cross_checks_stores_nothing(
    database_url: str, demo: Scenario
) -> None:
    # Built without parse_scenario: fields are fine, but the patient's site does not exist.
    stray = Patient(id="P099", site="NOWHERE", enrolled=dt.date(2027, 1, 1))
    broken = demo.model_copy(update={"patients": [*demo.patients, stray]})
    with pytest.raises(ScenarioInvalid) as caught, unit_of_work(database_url) as session:
        save_scenario(session, broken)
    assert any(p.path == "patients[10].site" for p in caught.value.problems)
    assert _row_counts(database_url)["trials"] == 0


def test_a_failure_in_the_database_leaves_nothing_half_written(
    database_url: str, demo: Scenario
) -> None:
    # model_construct skips validation, so the database's own check is what refuses it,
    # after the trial, sites and facilities were already flushed in the same transaction.
    bogus = Patient.model_construct(**{**demo.patients[3].model_dump(), "outcome": "cured"})
    broken = demo.model_copy(update={"patients": [*demo.patients[:3], *demo.patients[4:], bogus]})
    with pytest.raises(IntegrityError), unit_of_work(database_url) as session:
        save_scenario(session, broken)
    assert set(_row_counts(database_url).values()) == {0}


def test_one_unit_of_work_commits_all_or_nothing(
    database_url: str, demo: Scenario, aav: Scenario
) -> None:
    def store_three() -> None:
        with unit_of_work(database_url) as session:
            save_scenario(session, aav)
            save_scenario(session, demo)
            save_scenario(session, demo)

    with pytest.raises(TrialExists):
        store_three()
    with unit_of_work(database_url) as session:
        assert list_trials(session) == []


def test_list_trials_counts_patients_and_sites(
    database_url: str, demo: Scenario, aav: Scenario
) -> None:
    with unit_of_work(database_url) as session:
        save_scenario(session, demo)
        save_scenario(session, aav)
    with unit_of_work(database_url) as session:
        listing = list_trials(session)
    assert [(t.id, t.modality, t.today, t.patients, t.sites) for t in listing] == [
        (aav.trial.id, "batch", aav.today, len(aav.patients), len(aav.sites)),
        (demo.trial.id, "autologous", demo.today, len(demo.patients), len(demo.sites)),
    ]


def test_delete_trial_removes_every_row_and_only_that_trial(
    database_url: str, demo: Scenario, aav: Scenario
) -> None:
    with unit_of_work(database_url) as session:
        save_scenario(session, demo)
    alone = _row_counts(database_url)
    with unit_of_work(database_url) as session:
        save_scenario(session, aav)
    with unit_of_work(database_url) as session:
        assert delete_trial(session, aav.trial.id)
        assert not delete_trial(session, aav.trial.id)
    assert _row_counts(database_url) == alone
    with unit_of_work(database_url) as session:
        assert delete_trial(session, demo.trial.id)
    assert set(_row_counts(database_url).values()) == {0}


def test_same_ids_in_two_trials_do_not_collide(database_url: str, demo: Scenario) -> None:
    twin = demo.model_copy(update={"trial": demo.trial.model_copy(update={"id": "CART-TWIN"})})
    with unit_of_work(database_url) as session:
        save_scenario(session, demo)
        save_scenario(session, twin)
    with unit_of_work(database_url) as session:
        assert get_scenario(session, "CART-TWIN") == twin
        assert get_scenario(session, demo.trial.id) == demo
        facility_rows = session.scalars(select(FacilityRow).where(FacilityRow.code == "CDMO-B"))
        assert len({row.tech_transfer_id for row in facility_rows}) == 2


def test_loaded_file_and_stored_copy_agree(database_url: str, reference_file: Path) -> None:
    scenario = load_scenario(reference_file)
    with unit_of_work(database_url) as session:
        save_scenario(session, scenario)
    with unit_of_work(database_url) as session:
        assert get_scenario(session, scenario.trial.id) == load_scenario(reference_file)

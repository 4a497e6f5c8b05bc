"""Scenarios in and out of the store, and the queries on trials.

Functions take the caller's session and never commit: the command or request that
calls them owns the unit of work, so a failure leaves nothing half-written.

Saving over a stored trial keeps the rows of elements whose id is unchanged (same
site code, same patient code...) and updates them in place, so that records that will
point at those rows by their surrogate key survive a re-import.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from chainsight.domain import (
    Campaign,
    Facility,
    Lane,
    Lot,
    Milestone,
    Objective,
    Patient,
    Process,
    ProcessOverride,
    Protocol,
    Reservation,
    Scenario,
    ScenarioInvalid,
    Site,
    TechTransfer,
    check_scenario,
)
from chainsight.store.errors import TrialExists
from chainsight.store.models import (
    Base,
    CampaignRow,
    FacilityRow,
    LaneRow,
    MilestoneDependencyRow,
    MilestoneRow,
    Ordered,
    PatientRow,
    ReservationRow,
    SiteRow,
    TechTransferRow,
    TrialRow,
    VectorLotRow,
)

R = TypeVar("R", bound=Ordered)
D = TypeVar("D")

PROTOCOL_FIELDS = tuple(Protocol.model_fields)
PROCESS_FIELDS = tuple(Process.model_fields)
OVERRIDE_FIELDS = tuple(ProcessOverride.model_fields)
OBJECTIVE_FIELDS = tuple(Objective.model_fields)
OBJECTIVE_PREFIX = "objective_"


@dataclass(frozen=True)
class TrialListing:
    """One line of the list of stored trials."""

    id: str
    name: str
    modality: str
    today: dt.date
    patients: int
    sites: int


# ---------------------------------------------------------------- queries on trials


def find_trial(session: Session, trial_id: str) -> TrialRow | None:
    """The stored row of the trial ``trial_id``, or None."""
    return session.scalar(select(TrialRow).where(TrialRow.code == trial_id))


def trial_exists(session: Session, trial_id: str) -> bool:
    """Whether a trial with id ``trial_id`` is stored."""
    return session.scalar(select(TrialRow.id).where(TrialRow.code == trial_id)) is not None


def list_trials(session: Session) -> list[TrialListing]:
    """Every stored trial with its counts of patients and sites, ordered by id."""
    patients = (
        select(func.count(PatientRow.id))
        .where(PatientRow.trial_id == TrialRow.id)
        .correlate(TrialRow)
        .scalar_subquery()
    )
    sites = (
        select(func.count(SiteRow.id))
        .where(SiteRow.trial_id == TrialRow.id)
        .correlate(TrialRow)
        .scalar_subquery()
    )
    query = select(
        TrialRow.code, TrialRow.name, TrialRow.modality, TrialRow.today, patients, sites
    ).order_by(TrialRow.code)
    return [TrialListing(*row) for row in session.execute(query)]


def delete_trial(session: Session, trial_id: str) -> bool:
    """Remove a stored trial and everything in it; False if there was none."""
    row = _load_trial(session, trial_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def _load_trial(session: Session, trial_id: str) -> TrialRow | None:
    query = (
        select(TrialRow)
        .where(TrialRow.code == trial_id)
        .options(
            selectinload(TrialRow.sites),
            selectinload(TrialRow.facilities).selectinload(FacilityRow.reservations),
            selectinload(TrialRow.lanes),
            selectinload(TrialRow.vector_lots),
            selectinload(TrialRow.campaigns),
            selectinload(TrialRow.tech_transfers)
            .selectinload(TechTransferRow.milestones)
            .selectinload(MilestoneRow.dependencies),
            selectinload(TrialRow.patients),
        )
    )
    return session.scalar(query)


# ---------------------------------------------------------------- scenario -> rows


def save_scenario(session: Session, scenario: Scenario, *, replace: bool = False) -> TrialRow:
    """Store a scenario; with ``replace``, over the stored trial of the same id.

    Raises :class:`TrialExists` if the trial is stored and ``replace`` is false, and
    :class:`ScenarioInvalid` if the scenario fails its cross-checks (a scenario built
    without :func:`parse_scenario` may). The rows are flushed, not committed.
    """
    problems = check_scenario(scenario)
    if problems:
        raise ScenarioInvalid(problems)
    trial_id = scenario.trial.id
    row = _load_trial(session, trial_id)
    if row is not None and not replace:
        raise TrialExists(trial_id)
    if row is None:
        row = TrialRow(code=trial_id)
        session.add(row)
    _write_trial(row, scenario)

    row.sites = _sync(row.sites, scenario.sites, SiteRow, _write_site,
                      item_key=lambda s: s.id, row_key=lambda r: r.code)
    sites = {r.code: r for r in row.sites}
    row.facilities = _sync(row.facilities, scenario.facilities, FacilityRow, _write_facility,
                           item_key=lambda f: f.id, row_key=lambda r: r.code)
    facilities = {r.code: r for r in row.facilities}
    places: dict[str, SiteRow | FacilityRow] = {**sites, **facilities}

    def write_lane(lane_row: LaneRow, lane: Lane) -> None:
        lane_row.days = lane.days
        origin, destination = places[lane.from_], places[lane.to]
        lane_row.from_site = origin if isinstance(origin, SiteRow) else None
        lane_row.from_facility = origin if isinstance(origin, FacilityRow) else None
        lane_row.to_site = destination if isinstance(destination, SiteRow) else None
        lane_row.to_facility = destination if isinstance(destination, FacilityRow) else None

    row.lanes = _sync(row.lanes, scenario.lanes, LaneRow, write_lane,
                      item_key=lambda lane: (lane.from_, lane.to), row_key=_lane_key)

    def write_lot(lot_row: VectorLotRow, lot: Lot) -> None:
        _write_lot(lot_row, lot)
        lot_row.facility = facilities[lot.facility] if lot.facility is not None else None

    row.vector_lots = _sync(row.vector_lots, scenario.vector.lots, VectorLotRow, write_lot,
                            item_key=lambda lot: lot.id, row_key=lambda r: r.code)
    lots = {r.code: r for r in row.vector_lots}

    def write_campaign(campaign_row: CampaignRow, campaign: Campaign) -> None:
        _copy(campaign, campaign_row, ("earliest_start", "lead_time_days", "units",
                                       "shelf_life_days"))
        campaign_row.code = campaign.id
        campaign_row.facility = facilities[campaign.facility]

    row.campaigns = _sync(row.campaigns, scenario.vector.campaigns, CampaignRow, write_campaign,
                          item_key=lambda c: c.id, row_key=lambda r: r.code)

    def write_transfer(transfer_row: TechTransferRow, transfer: TechTransfer) -> None:
        transfer_row.code = transfer.id
        transfer_row.facility = facilities[transfer.facility]
        transfer_row.milestones = _sync(
            transfer_row.milestones, transfer.milestones, MilestoneRow, _write_milestone,
            item_key=lambda m: m.id, row_key=lambda r: r.code,
        )
        milestones = {m.code: m for m in transfer_row.milestones}
        for milestone_row, milestone in zip(
            transfer_row.milestones, transfer.milestones, strict=True
        ):

            def write_dependency(
                dependency: MilestoneDependencyRow, after: str, owner: MilestoneRow = milestone_row
            ) -> None:
                dependency.milestone = owner
                dependency.after = milestones[after]

            milestone_row.dependencies = _sync(
                milestone_row.dependencies, milestone.after, MilestoneDependencyRow,
                write_dependency, item_key=lambda code: code, row_key=lambda d: d.after.code,
            )

    row.tech_transfers = _sync(row.tech_transfers, scenario.tech_transfer, TechTransferRow,
                               write_transfer, item_key=lambda t: t.id, row_key=lambda r: r.code)
    transfers = {r.code: r for r in row.tech_transfers}
    for facility in scenario.facilities:
        facilities[facility.id].tech_transfer = (
            transfers[facility.tech_transfer] if facility.tech_transfer is not None else None
        )

    def write_patient(patient_row: PatientRow, patient: Patient) -> None:
        _copy(patient, patient_row, ("enrolled", "apheresis", "manufacturing_start", "outcome",
                                     "infusion", "priority", "doses"))
        patient_row.code = patient.id
        patient_row.site = sites[patient.site]
        patient_row.facility = facilities[patient.facility] if patient.facility else None
        patient_row.vector_lot = lots[patient.vector_lot] if patient.vector_lot else None

    row.patients = _sync(row.patients, scenario.patients, PatientRow, write_patient,
                         item_key=lambda p: p.id, row_key=lambda r: r.code)
    session.flush()
    return row


def _sync(
    current: Sequence[R],
    items: Sequence[D],
    make: Callable[[], R],
    write: Callable[[R, D], None],
    *,
    item_key: Callable[[D], Hashable | None] | None = None,
    row_key: Callable[[R], Hashable | None] | None = None,
) -> list[R]:
    """The rows for ``items`` in order, each with its ordinal.

    A stored row with the same key as an item (or, without keys, at the same position)
    is reused and rewritten; the other items get new rows. Stored rows left over are
    dropped from the collection and so deleted as orphans by the caller's flush.
    """
    if item_key is None or row_key is None:
        by_key: dict[Hashable, R] = dict(enumerate(current))
    else:
        by_key = {key: r for r in current if (key := row_key(r)) is not None}
    rows: list[R] = []
    for ordinal, item in enumerate(items):
        key = ordinal if item_key is None else item_key(item)
        reused = by_key.pop(key, None) if key is not None else None
        target = reused if reused is not None else make()
        target.ordinal = ordinal
        write(target, item)
        rows.append(target)
    return rows


def _copy(source: BaseModel, target: Base, fields: Sequence[str], prefix: str = "") -> None:
    for name in fields:
        setattr(target, prefix + name, getattr(source, name))


def _write_trial(row: TrialRow, scenario: Scenario) -> None:
    trial = scenario.trial
    _copy(trial, row, ("name", "modality", "today", "horizon_days", "target_enrollment"))
    _copy(trial.protocol, row, PROTOCOL_FIELDS)
    _copy(scenario.process, row, PROCESS_FIELDS)
    _copy(scenario.objective, row, OBJECTIVE_FIELDS, OBJECTIVE_PREFIX)


def _write_site(row: SiteRow, site: Site) -> None:
    row.code = site.id
    _copy(site, row, ("name", "country", "enrollment_rate_per_month"))
    row.activation_planned = site.activation.planned
    row.activation_actual = site.activation.actual
    row.apheresis_weekdays = list(site.apheresis.weekdays) if site.apheresis else None
    row.apheresis_per_day = site.apheresis.per_day if site.apheresis else None
    row.infusion_weekdays = list(site.infusion.weekdays)
    row.infusion_per_day = site.infusion.per_day


def _write_facility(row: FacilityRow, facility: Facility) -> None:
    row.code = facility.id
    _copy(facility, row, ("name", "kind", "country", "suites", "ready"))
    row.start_weekdays = list(facility.start_weekdays)
    _copy(facility.process, row, OVERRIDE_FIELDS)

    def write_reservation(reservation_row: ReservationRow, reservation: Reservation) -> None:
        reservation_row.suites = reservation.suites
        reservation_row.start_day = reservation.start
        reservation_row.end_day = reservation.end
        reservation_row.label = reservation.label

    # Reservations have no id: the n-th stored one is rewritten as the n-th given one.
    row.reservations = _sync(
        row.reservations, facility.reservations, ReservationRow, write_reservation
    )


def _write_lot(row: VectorLotRow, lot: Lot) -> None:
    row.code = lot.id
    _copy(lot, row, ("units", "released", "expires"))
    extension = lot.extension
    row.extension_expires = extension.expires if extension else None
    row.extension_readout = extension.readout if extension else None
    row.extension_probability = extension.probability if extension else None
    row.extension_status = extension.status if extension else None


def _write_milestone(row: MilestoneRow, milestone: Milestone) -> None:
    row.code = milestone.id
    _copy(milestone, row, ("name", "planned_start", "duration_days", "done", "slip_risk_days"))


def _lane_key(row: LaneRow) -> tuple[str, str]:
    origin = row.from_site or row.from_facility
    destination = row.to_site or row.to_facility
    assert origin is not None, f"lane {row.id} has no origin"
    assert destination is not None, f"lane {row.id} has no destination"
    return origin.code, destination.code


# ---------------------------------------------------------------- rows -> scenario


def get_scenario(session: Session, trial_id: str) -> Scenario | None:
    """The stored scenario of the trial ``trial_id`` exactly as it was saved, or None."""
    row = _load_trial(session, trial_id)
    if row is None:
        return None
    return Scenario.model_validate(scenario_dict(row))


def scenario_dict(row: TrialRow) -> dict[str, Any]:
    """A stored trial as scenario data (Python values, field names as in the file format)."""
    facility_codes = {f.id: f.code for f in row.facilities}
    return {
        "trial": {
            **_pick(row, ("name", "modality", "today", "horizon_days", "target_enrollment")),
            "id": row.code,
            "protocol": _pick(row, PROTOCOL_FIELDS),
        },
        "process": _pick(row, PROCESS_FIELDS),
        "sites": [_site_dict(s) for s in row.sites],
        "facilities": [_facility_dict(f) for f in row.facilities],
        "lanes": [
            {"from": code_from, "to": code_to, "days": lane.days}
            for lane in row.lanes
            for code_from, code_to in [_lane_key(lane)]
        ],
        "vector": {
            "lots": [_lot_dict(lot, facility_codes) for lot in row.vector_lots],
            "campaigns": [
                {
                    **_pick(c, ("earliest_start", "lead_time_days", "units", "shelf_life_days")),
                    "id": c.code,
                    "facility": facility_codes[c.facility_id],
                }
                for c in row.campaigns
            ],
        },
        "tech_transfer": [
            {
                "id": t.code,
                "facility": facility_codes[t.facility_id],
                "milestones": [_milestone_dict(m) for m in t.milestones],
            }
            for t in row.tech_transfers
        ],
        "patients": [_patient_dict(p) for p in row.patients],
        "objective": {
            name: getattr(row, OBJECTIVE_PREFIX + name) for name in OBJECTIVE_FIELDS
        },
    }


def _pick(row: Base, fields: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in fields}


def _site_dict(row: SiteRow) -> dict[str, Any]:
    apheresis = None
    if row.apheresis_weekdays is not None:
        apheresis = {"weekdays": row.apheresis_weekdays, "per_day": row.apheresis_per_day}
    return {
        **_pick(row, ("name", "country", "enrollment_rate_per_month")),
        "id": row.code,
        "activation": {"planned": row.activation_planned, "actual": row.activation_actual},
        "apheresis": apheresis,
        "infusion": {"weekdays": row.infusion_weekdays, "per_day": row.infusion_per_day},
    }


def _facility_dict(row: FacilityRow) -> dict[str, Any]:
    return {
        **_pick(row, ("name", "kind", "country", "suites", "start_weekdays", "ready")),
        "id": row.code,
        "tech_transfer": row.tech_transfer.code if row.tech_transfer is not None else None,
        "process": _pick(row, OVERRIDE_FIELDS),
        "reservations": [
            {"suites": r.suites, "start": r.start_day, "end": r.end_day, "label": r.label}
            for r in row.reservations
        ],
    }


def _lot_dict(row: VectorLotRow, facility_codes: dict[int, str]) -> dict[str, Any]:
    extension = None
    if row.extension_expires is not None:
        extension = {
            "expires": row.extension_expires,
            "readout": row.extension_readout,
            "probability": row.extension_probability,
            "status": row.extension_status,
        }
    return {
        **_pick(row, ("units", "released", "expires")),
        "id": row.code,
        "facility": facility_codes[row.facility_id] if row.facility_id is not None else None,
        "extension": extension,
    }


def _milestone_dict(row: MilestoneRow) -> dict[str, Any]:
    return {
        **_pick(row, ("name", "planned_start", "duration_days", "done", "slip_risk_days")),
        "id": row.code,
        "after": [d.after.code for d in row.dependencies],
    }


def _patient_dict(row: PatientRow) -> dict[str, Any]:
    return {
        **_pick(row, ("enrolled", "apheresis", "manufacturing_start", "outcome", "infusion",
                      "priority", "doses")),
        "id": row.code,
        "site": row.site.code,
        "facility": row.facility.code if row.facility is not None else None,
        "vector_lot": row.vector_lot.code if row.vector_lot is not None else None,
    }


__all__ = [
    "TrialListing",
    "delete_trial",
    "find_trial",
    "get_scenario",
    "list_trials",
    "save_scenario",
    "scenario_dict",
    "trial_exists",
]

"""The plan as the format specifies it (``chainsight-plan/1``), built from a schedule.

``Plan.to_json()`` is exactly the plan JSON of SCENARIO_FORMAT.md: every specified field
present, null where it does not apply. Fields the format does not name are additions
(``reason`` and ``explanations`` per patient, ``cost`` and ``provenance``); none changes
the meaning of a specified one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import statistics
from importlib import metadata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from chainsight.domain import Scenario, scenario_data
from chainsight.planning.data import Problem
from chainsight.planning.explain import capacity_of, explain_patient, unplanned_reason
from chainsight.planning.objective import Cost, evaluate
from chainsight.planning.schedule import (
    Schedule,
    arrival_of,
    batch_doses_used,
    deviation_days,
    infusion_window_start,
    lot_units_used,
    release_of,
    run_of,
)

PLAN_FORMAT: Literal["chainsight-plan/1"] = "chainsight-plan/1"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SolverInfo(_Out):
    """Which solver made the plan, how it ended and the objective with its best bound."""

    name: str
    status: str
    seconds: float
    objective: float | None
    bound: float | None
    policy: str = "optimal"
    first_solution_seconds: float | None = None
    fallback: str | None = None
    """Set when the solver's answer was not better and the named plan was kept instead."""
    bound_source: str | None = None
    """Where ``bound`` comes from: ``cp-sat`` or ``time-indexed-lp`` (the stronger)."""


class Deviation(_Out):
    """A soft protocol window exceeded by ``days``."""

    window: Literal["apheresis_latest_days", "infusion_latest_days_after_arrival"]
    days: int
    window_end: dt.date


class PlannedPatient(_Out):
    """One planned patient's chain, and why its dates are what they are."""

    patient: str
    site: str
    enrolled: dt.date
    apheresis: dt.date | None
    facility: str | None
    manufacturing_start: dt.date | None
    manufacturing_end: dt.date | None
    vector_lot: str | None
    release: dt.date | None
    dp_arrival: dt.date | None
    infusion: dt.date | None
    batch: str | None
    deviations: list[Deviation]
    status: str
    reason: str
    explanations: list[str]


class PlannedBatch(_Out):
    """A drug product batch of the batch modality."""

    batch: str
    facility: str
    manufacturing_start: dt.date
    manufacturing_end: dt.date
    release: dt.date
    expires: dt.date
    vector_lot: str | None
    doses: int
    doses_used: int


class LotUse(_Out):
    """Vector units a lot gives to the plan and those it leaves to expire in the horizon."""

    lot: str
    units_used: int
    units_expiring_unused: int


class Unplanned(_Out):
    """A patient the plan cannot treat, with the specific reason."""

    patient: str
    reason: str


class Kpis(_Out):
    """Headline figures of the plan (planned patients only)."""

    time_to_treatment_days: dict[str, float | int | None]
    vein_to_vein_days: dict[str, float | int | None]
    patients_planned: int
    patients_unplanned: int
    weighted_time_to_treatment_days: float
    deviation_days: int
    vector_units_expiring: int
    batches: int
    doses_expiring: int


class Plan(_Out):
    """A plan of the trial: every patient tied to capacity, vector and logistics."""

    format: Literal["chainsight-plan/1"] = PLAN_FORMAT
    trial: str
    today: dt.date
    solver: SolverInfo
    patients: list[PlannedPatient]
    batches: list[PlannedBatch]
    vector_lots: list[LotUse]
    unplanned: list[Unplanned]
    kpis: Kpis
    cost: dict[str, float | int]
    provenance: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON-compatible data in the ``chainsight-plan/1`` format."""
        return self.model_dump(mode="json")

    def patient(self, patient_id: str) -> PlannedPatient:
        """A planned patient's entry (KeyError if it is not planned)."""
        for p in self.patients:
            if p.patient == patient_id:
                return p
        raise KeyError(patient_id)


def scenario_digest(scenario: Scenario) -> str:
    """SHA-256 of the scenario's canonical JSON: the inputs' version a plan records."""
    text = json.dumps(scenario_data(scenario), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def provenance(scenario: Scenario, parameters: dict[str, Any]) -> dict[str, Any]:
    """Inputs' version, parameters and library versions, recorded with every plan."""
    return {
        "scenario_sha256": scenario_digest(scenario),
        "parameters": parameters,
        "versions": {"chainsight": _version("chainsight"), "ortools": _version("ortools"),
                     "python": platform.python_version()},
    }


def _p90(values: list[int]) -> int:
    ordered = sorted(values)
    rank = max(0, -(-9 * len(ordered) // 10) - 1)  # nearest rank: ceil(0.9 n) - 1
    return ordered[rank]


def build_plan(scenario: Scenario, problem: Problem, schedule: Schedule, solver: SolverInfo,
               parameters: dict[str, Any], cost: Cost | None = None) -> Plan:
    """The plan document of a schedule."""
    cost = cost or evaluate(problem, schedule)
    date = problem.to_date
    full = capacity_of(problem, schedule)
    patients: list[PlannedPatient] = []
    ttt: list[int] = []
    v2v: list[int] = []
    weighted = 0.0
    for p in problem.patients:
        booking = schedule.bookings.get(p.id)
        if booking is None:
            continue
        facility, start, lot = run_of(problem, schedule, booking)
        fac = problem.facilities[facility]
        release = release_of(problem, schedule, booking)
        aph_dev, inf_dev = deviation_days(problem, schedule, booking, p)
        deviations = []
        if aph_dev:
            deviations.append(Deviation(window="apheresis_latest_days", days=aph_dev,
                                        window_end=date(problem.apheresis_due(p))))
        if inf_dev:
            end = infusion_window_start(problem, schedule, booking, p) \
                + problem.infusion_latest_days_after_arrival
            deviations.append(Deviation(window="infusion_latest_days_after_arrival",
                                        days=inf_dev, window_end=date(end)))
        reasons = explain_patient(problem, schedule, p.id, full)
        patients.append(PlannedPatient(
            patient=p.id, site=p.site, enrolled=date(p.enrolled),
            apheresis=date(booking.apheresis) if booking.apheresis is not None else None,
            facility=facility, manufacturing_start=date(start),
            manufacturing_end=date(start + fac.manufacturing_days), vector_lot=lot,
            release=date(release), dp_arrival=date(arrival_of(problem, schedule, booking, p)),
            infusion=date(booking.infusion),
            batch=f"B{booking.batch + 1:02d}" if booking.batch is not None else None,
            deviations=deviations, status="planned", reason=reasons[0], explanations=reasons,
        ))
        ttt.append(booking.infusion - p.enrolled)
        weighted += p.priority * (booking.infusion - p.enrolled)
        if booking.apheresis is not None:
            v2v.append(booking.infusion - booking.apheresis)
    patients.sort(key=lambda x: (x.infusion or dt.date.max, x.patient))

    batches: list[PlannedBatch] = []
    doses = batch_doses_used(problem, schedule) if problem.is_batch else []
    for i, b in enumerate(schedule.batches):
        fac = problem.facilities[b.facility]
        release = b.start + fac.release_lag
        batches.append(PlannedBatch(
            batch=f"B{i + 1:02d}", facility=b.facility, manufacturing_start=date(b.start),
            manufacturing_end=date(b.start + fac.manufacturing_days), release=date(release),
            expires=date(release + fac.dp_shelf_life_days), vector_lot=b.lot,
            doses=fac.doses_per_batch, doses_used=doses[i],
        ))

    used = lot_units_used(problem, schedule)
    lots = []
    for scenario_lot in scenario.vector.lots:
        data = problem.lots[scenario_lot.id]
        booked = scenario_lot.units - data.units  # runs booked in the scenario from today on
        expiring = max(0, data.units - used[data.id]) if data.expires_in_horizon else 0
        lots.append(LotUse(lot=data.id, units_used=used[data.id] + booked,
                           units_expiring_unused=expiring))

    unplanned = [Unplanned(patient=p.id, reason=unplanned_reason(problem, schedule, p, full))
                 for p in problem.patients if p.id not in schedule.bookings]
    kpis = Kpis(
        time_to_treatment_days={
            "mean": round(statistics.fmean(ttt), 1) if ttt else None,
            "p90": _p90(ttt) if ttt else None},
        vein_to_vein_days={"median": statistics.median(v2v) if v2v else None},
        patients_planned=len(patients), patients_unplanned=len(unplanned),
        weighted_time_to_treatment_days=round(weighted, 2),
        deviation_days=cost.deviation_days, vector_units_expiring=cost.vector_units_expiring,
        batches=len(batches), doses_expiring=cost.doses_expiring,
    )
    cost_parts: dict[str, float | int] = {
        "total": cost.total, "weighted_time_to_treatment": cost.weighted_time_to_treatment,
        "deviation_days": cost.deviation_days, "vector_units_expiring": cost.vector_units_expiring,
        "batches": cost.batches, "doses_expiring": cost.doses_expiring,
        "unplanned": cost.unplanned, "unplanned_penalty": cost.unplanned_penalty,
    }
    return Plan(trial=problem.trial, today=problem.today, solver=solver, patients=patients,
                batches=batches, vector_lots=lots, unplanned=unplanned, kpis=kpis,
                cost=cost_parts, provenance=provenance(scenario, parameters))

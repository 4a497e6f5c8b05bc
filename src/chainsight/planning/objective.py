"""The plan's objective: one function that judges every schedule, whoever made it.

Costs are integers in hundredths (``SCALE``) so that CP-SAT optimises exactly the number
this module reports; the CP-SAT objective is built from :func:`coefficients` too.
"""

from __future__ import annotations

from dataclasses import dataclass

from chainsight.planning.data import PatientData, Problem
from chainsight.planning.schedule import (
    Schedule,
    batch_doses_used,
    deviation_days,
    lot_units_used,
    release_of,
)

SCALE = 100


@dataclass(frozen=True)
class Coefficients:
    """Integer weights (in 1/SCALE) of each cost term."""

    time_to_treatment: dict[str, int]
    """Per patient-day from enrolment to infusion (priority applied)."""
    deviation: int
    vector_unit_expired: int
    batch: int
    dose_expired: int
    unplanned: dict[str, int]
    """Per patient left unplanned: more than planning it could ever cost."""


def coefficients(problem: Problem) -> Coefficients:
    """The objective's integer weights for a problem."""
    w = problem.weights

    def scaled(value: float) -> int:
        return round(value * SCALE)

    ttt = {p.id: scaled(w["time_to_treatment"] * p.priority) for p in problem.patients}
    dev = scaled(w["protocol_deviation"])
    unplanned = {
        p.id: scaled(2 * max(w["time_to_treatment"], 1.0) * p.priority
                     * (problem.last_day - min(p.enrolled, 0) + 1)
                     + 2 * w["protocol_deviation"] * (problem.last_day + 1))
        + scaled(1000.0)
        for p in problem.patients
    }
    return Coefficients(
        time_to_treatment=ttt, deviation=dev,
        vector_unit_expired=scaled(w["vector_units_expired"]),
        batch=scaled(w["batch_fixed_cost"]), dose_expired=scaled(w["doses_expired"]),
        unplanned=unplanned,
    )


@dataclass(frozen=True)
class Cost:
    """A schedule's objective and its parts (in the scenario's units, not scaled)."""

    total: float
    weighted_time_to_treatment: float
    deviation_days: int
    vector_units_expiring: int
    batches: int
    doses_expiring: int
    unplanned: int
    unplanned_penalty: float
    scaled_total: int


def patient_ttt(p: PatientData, infusion: int) -> int:
    """Days from enrolment to infusion."""
    return infusion - p.enrolled


def evaluate(problem: Problem, schedule: Schedule) -> Cost:
    """The objective of a schedule: the one yardstick for FCFS, CP-SAT and re-plans."""
    c = coefficients(problem)
    ttt = dev_days = penalty = 0
    unplanned = 0
    for p in problem.patients:
        booking = schedule.bookings.get(p.id)
        if booking is None:
            unplanned += 1
            penalty += c.unplanned[p.id]
            continue
        ttt += c.time_to_treatment[p.id] * patient_ttt(p, booking.infusion)
        aph, inf = deviation_days(problem, schedule, booking, p)
        dev_days += aph + inf
    used = lot_units_used(problem, schedule)
    expiring = sum(max(0, lot.units - used[lot.id])
                   for lot in problem.lots.values() if lot.expires_in_horizon)
    doses_expiring = 0
    if problem.is_batch:
        doses = batch_doses_used(problem, schedule)
        for i, b in enumerate(schedule.batches):
            fac = problem.facilities[b.facility]
            expires = b.start + fac.release_lag + fac.dp_shelf_life_days
            if expires <= problem.horizon:
                doses_expiring += max(0, fac.doses_per_batch - doses[i])
    scaled_total = (ttt + c.deviation * dev_days + penalty
                    + c.vector_unit_expired * expiring + c.batch * len(schedule.batches)
                    + c.dose_expired * doses_expiring)
    return Cost(
        total=scaled_total / SCALE, weighted_time_to_treatment=ttt / SCALE,
        deviation_days=dev_days, vector_units_expiring=expiring,
        batches=len(schedule.batches), doses_expiring=doses_expiring, unplanned=unplanned,
        unplanned_penalty=penalty / SCALE, scaled_total=scaled_total,
    )


__all__ = ["SCALE", "Coefficients", "Cost", "coefficients", "evaluate", "release_of"]

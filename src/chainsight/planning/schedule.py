"""A solver-neutral schedule in day offsets: what every planner returns.

FCFS, CP-SAT and re-planning all produce a :class:`Schedule`; the objective, the
explanations and the plan JSON are computed from it, so that every policy is judged
by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chainsight.planning.data import PatientData, Problem


@dataclass(frozen=True)
class Booking:
    """One planned patient: the chain's days (offsets) and choices."""

    patient: str
    apheresis: int | None
    facility: str | None
    start: int | None
    lot: str | None
    infusion: int
    batch: int | None = None


@dataclass(frozen=True)
class BatchRun:
    """One drug product batch (batch modality): where, when, from which lot."""

    facility: str
    start: int
    lot: str | None


@dataclass
class Schedule:
    """Bookings of planned patients and the batches they draw on; the rest is unplanned."""

    bookings: dict[str, Booking] = field(default_factory=dict)
    batches: list[BatchRun] = field(default_factory=list)

    def planned(self, patient_id: str) -> bool:
        """Whether the patient has a booking."""
        return patient_id in self.bookings


def run_of(problem: Problem, schedule: Schedule, booking: Booking) -> tuple[str, int, str | None]:
    """Facility, manufacturing start and lot of the run or batch that treats a booking."""
    if booking.batch is not None:
        b = schedule.batches[booking.batch]
        return b.facility, b.start, b.lot
    assert booking.facility is not None
    assert booking.start is not None
    return booking.facility, booking.start, booking.lot


def release_of(problem: Problem, schedule: Schedule, booking: Booking) -> int:
    """Release day of the product a booking is treated with (rule 6)."""
    facility, start, _ = run_of(problem, schedule, booking)
    return start + problem.facilities[facility].release_lag


def arrival_of(problem: Problem, schedule: Schedule, booking: Booking, p: PatientData) -> int:
    """DP arrival at the patient's site: release + lane (rule 6)."""
    facility, _, _ = run_of(problem, schedule, booking)
    lane = problem.lane(facility, p.site)
    assert lane is not None
    return release_of(problem, schedule, booking) + lane


def expiry_of(problem: Problem, schedule: Schedule, booking: Booking) -> int:
    """Last infusion day the product allows (rule 7)."""
    facility, _, _ = run_of(problem, schedule, booking)
    return release_of(problem, schedule, booking) + problem.facilities[facility].dp_shelf_life_days


def infusion_window_start(
    problem: Problem, schedule: Schedule, booking: Booking, p: PatientData
) -> int:
    """Day from which the soft infusion window counts.

    Autologous: the DP arrival. Batch: the arrival or the enrolment, whichever is later,
    since a batch made before a patient enrolled was not waiting for that patient.
    """
    arrival = arrival_of(problem, schedule, booking, p)
    return max(arrival, p.enrolled) if problem.is_batch else arrival


def deviation_days(
    problem: Problem, schedule: Schedule, booking: Booking, p: PatientData
) -> tuple[int, int]:
    """Days beyond the soft windows: (apheresis, infusion)."""
    aph = 0
    if booking.apheresis is not None and not problem.is_batch:
        aph = max(0, booking.apheresis - problem.apheresis_due(p))
    base = infusion_window_start(problem, schedule, booking, p)
    inf = max(0, booking.infusion - base - problem.infusion_latest_days_after_arrival)
    return aph, inf


def lot_units_used(problem: Problem, schedule: Schedule) -> dict[str, int]:
    """Vector units each lot gives to the plan's new runs or batches."""
    used = dict.fromkeys(problem.lots, 0)
    if problem.is_batch:
        for b in schedule.batches:
            if b.lot is not None:
                used[b.lot] += problem.facilities[b.facility].units_per_batch
        return used
    for booking in schedule.bookings.values():
        p = problem.patient(booking.patient)
        if p.stage == "manufactured" or booking.lot is None or booking.facility is None:
            continue
        used[booking.lot] += problem.facilities[booking.facility].units_per_batch
    return used


def batch_doses_used(problem: Problem, schedule: Schedule) -> list[int]:
    """Doses each batch gives to planned patients."""
    used = [0] * len(schedule.batches)
    for booking in schedule.bookings.values():
        if booking.batch is not None:
            used[booking.batch] += problem.patient(booking.patient).doses
    return used

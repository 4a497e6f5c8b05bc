"""The baseline of today's tools: first come, first served.

Each patient, in enrolment order, books the earliest feasible chain given what the
patients before it already booked: the first apheresis day from which a whole chain
exists, then the facility and start giving the earliest infusion, the first-expiring
lot that is valid (FEFO). Batch modality: a patient joins the batch giving the earliest
infusion, or opens a new batch at the earliest start. Greedy, pure Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from chainsight.planning.data import PatientData, Problem
from chainsight.planning.schedule import BatchRun, Booking, Schedule


@dataclass
class Capacity:
    """What is still free: suites per facility-day, procedures per site-day, lot units."""

    problem: Problem
    suites: dict[str, list[int]] = field(default_factory=dict)
    apheresis: dict[str, dict[int, int]] = field(default_factory=dict)
    infusion: dict[str, dict[int, int]] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)

    @classmethod
    def empty(cls, problem: Problem) -> Capacity:
        """Capacity with only history and other clients' reservations taken."""
        cap = cls(problem)
        for f in problem.facilities.values():
            cap.suites[f.id] = [f.suites - h for h in f.held]
        for site, days in problem.apheresis_history.items():
            cap.apheresis[site] = dict(days)
        for site, days in problem.infusion_history.items():
            cap.infusion[site] = dict(days)
        cap.units = {lot.id: lot.units for lot in problem.lots.values()}
        return cap

    def suite_free_until(self, facility: str, start: int, days: int) -> int | None:
        """None if a run fits on [start, start + days); else the first full day."""
        free = self.suites[facility]
        for d in range(start, start + days):
            if d >= len(free):
                return None
            if free[d] <= 0:
                return d
        return None

    def apheresis_free(self, site: str, day: int) -> bool:
        """Whether the site can still collect a patient on ``day``."""
        cap = self.problem.sites[site].apheresis_per_day
        return self.apheresis.get(site, {}).get(day, 0) < cap

    def infusion_free(self, site: str, day: int) -> bool:
        """Whether the site can still infuse a patient on ``day``."""
        cap = self.problem.sites[site].infusion_per_day
        return self.infusion.get(site, {}).get(day, 0) < cap

    def book_run(self, facility: str, start: int, days: int, amount: int = 1) -> None:
        """Take ``amount`` suites on [start, start + days) (a negative amount gives back)."""
        free = self.suites[facility]
        for d in range(max(start, 0), min(start + days, len(free))):
            free[d] -= amount

    def take_batch(self, run: BatchRun) -> None:
        """Take a batch's suite and the vector units of its lot."""
        fac = self.problem.facilities[run.facility]
        self.book_run(run.facility, run.start, fac.manufacturing_days)
        if run.lot is not None:
            self.units[run.lot] -= fac.units_per_batch

    def copy(self) -> Capacity:
        """An independent copy."""
        return Capacity(self.problem, {f: list(v) for f, v in self.suites.items()},
                        {s: dict(v) for s, v in self.apheresis.items()},
                        {s: dict(v) for s, v in self.infusion.items()}, dict(self.units))

    def book_day(self, table: dict[str, dict[int, int]], site: str, day: int) -> None:
        """Count one procedure at a site on a day."""
        per_site = table.setdefault(site, {})
        per_site[day] = per_site.get(day, 0) + 1


def earliest_infusion(problem: Problem, cap: Capacity, p: PatientData,
                      first: int, last: int) -> int | None:
    """First infusion day in [first, last] on a site infusion weekday with room."""
    site = problem.sites[p.site]
    first = max(first, 0, p.infusion_not_before or 0)
    for d in range(first, min(last, problem.last_day) + 1):
        if problem.weekday(d) in site.infusion_weekdays and cap.infusion_free(p.site, d):
            return d
    return None


def earliest_start(problem: Problem, cap: Capacity, facility: str, first: int, last: int,
                   lots: tuple[str, ...]) -> tuple[int, str | None] | None:
    """First start in [first, last] on a start weekday with a free suite and a valid lot."""
    fac = problem.facilities[facility]
    d = max(first, fac.ready if fac.ready is not None else problem.horizon + 1, 0)
    last = min(last, problem.horizon)
    while d <= last:
        if problem.weekday(d) not in fac.start_weekdays:
            d += 1
            continue
        full = cap.suite_free_until(facility, d, fac.manufacturing_days)
        if full is not None:
            d = full + 1  # no start before the full day clears can fit a run
            continue
        ok, lot = pick_lot(problem, cap, lots, d, fac.units_per_batch)
        if ok:
            return d, lot
        d += 1
    return None


def pick_lot(problem: Problem, cap: Capacity, lots: tuple[str, ...], start: int,
             units: int) -> tuple[bool, str | None]:
    """(found, lot): the first-expiring valid lot with units for a start (FEFO).

    A patient with no candidate lots needs none only if the process uses no vector.
    """
    if not lots:
        return units == 0, None
    for lot in lots:  # candidates come sorted by expiry
        if problem.lot_usable(lot, start) and cap.units[lot] >= units:
            return True, lot
    return False, None


def chain_from(problem: Problem, cap: Capacity, p: PatientData,
               apheresis: int) -> Booking | None:
    """Best chain (earliest infusion) for a patient collected on ``apheresis``."""
    best: Booking | None = None
    for f in p.facilities:
        fac = problem.facilities[f]
        lane_in = problem.lane(p.site, f)
        lane_out = problem.lane(f, p.site)
        if lane_in is None or lane_out is None:
            continue
        last = problem.horizon
        if problem.fresh:
            last = min(last, apheresis + problem.fresh_max_days_to_start)
        found = earliest_start(problem, cap, f, apheresis + lane_in, last, p.lots)
        if found is None:
            continue
        start, lot = found
        release = start + fac.release_lag
        inf = earliest_infusion(problem, cap, p, max(release + lane_out, p.enrolled),
                                release + fac.dp_shelf_life_days)
        if inf is None:
            continue
        if best is None or (inf, start) < (best.infusion, best.start or 0):
            best = Booking(p.id, apheresis, f, start, lot, inf)
    return best


def book_patient(problem: Problem, cap: Capacity, p: PatientData) -> Booking | None:
    """Book the earliest feasible chain for one autologous patient (and take capacity)."""
    if p.reason is not None:
        return None
    if p.stage == "manufactured":
        assert p.facility is not None
        assert p.start is not None
        fac = problem.facilities[p.facility]
        lane = problem.lane(p.facility, p.site)
        assert lane is not None
        release = p.start + fac.release_lag
        inf = p.infusion if p.infusion is not None else earliest_infusion(
            problem, cap, p, max(release + lane, 0), release + fac.dp_shelf_life_days)
        if inf is None:
            return None
        if p.infusion is None:
            cap.book_day(cap.infusion, p.site, inf)
        return Booking(p.id, p.apheresis, p.facility, p.start, p.lot, inf)
    site = problem.sites[p.site]
    days: Iterable[int]
    if p.apheresis is not None:
        days = [p.apheresis]
    else:  # lazily: the first free day with a chain is usually among the first few
        days = (d for d in problem.iter_days_on(site.apheresis_weekdays,
                                                problem.apheresis_first(p), problem.horizon)
                if cap.apheresis_free(p.site, d))
    for a in days:
        booking = chain_from(problem, cap, p, a)
        if booking is None:
            continue
        if p.apheresis is None:
            cap.book_day(cap.apheresis, p.site, a)
        take(problem, cap, booking)
        return booking
    return None


def take(problem: Problem, cap: Capacity, booking: Booking) -> None:
    """Take the suite, the lot units and the infusion slot of an autologous booking."""
    assert booking.facility is not None
    assert booking.start is not None
    fac = problem.facilities[booking.facility]
    cap.book_run(booking.facility, booking.start, fac.manufacturing_days)
    if booking.lot is not None:
        cap.units[booking.lot] -= fac.units_per_batch
    cap.book_day(cap.infusion, problem.patient(booking.patient).site, booking.infusion)


def enrolment_order(problem: Problem) -> list[PatientData]:
    """Patients in the order today's tools serve them: enrolment day, then id."""
    return sorted(problem.patients, key=lambda p: (p.enrolled, p.id))


def fcfs_schedule(problem: Problem) -> Schedule:
    """The first-come-first-served schedule of a problem (either modality)."""
    return greedy_schedule(problem, enrolment_order(problem))


def priority_order(problem: Problem, days_per_priority: int) -> list[PatientData]:
    """Enrolment order with each unit of priority above 1 worth ``days_per_priority``
    days of earlier enrolment: the greedy then lets urgent patients jump the queue."""
    return sorted(problem.patients,
                  key=lambda p: (p.enrolled - days_per_priority * (p.priority - 1.0), p.id))


def greedy_schedule(problem: Problem, order: list[PatientData]) -> Schedule:
    """Book patients one by one in ``order``, each on its earliest feasible chain."""
    if problem.is_batch:
        return _fcfs_batches(problem, order)
    cap = Capacity.empty(problem)
    schedule = Schedule()
    for p in order:
        booking = book_patient(problem, cap, p)
        if booking is not None:
            schedule.bookings[p.id] = booking
    return schedule


def _fcfs_batches(problem: Problem, order: list[PatientData],
                  kept: Schedule | None = None) -> Schedule:
    """Batch greedy; ``kept`` batches and dosings (re-planning) are taken first."""
    cap = Capacity.empty(problem)
    schedule = Schedule()
    doses_left: list[int] = []
    if kept is not None:
        for kept_run in kept.batches:
            cap.take_batch(kept_run)
            schedule.batches.append(kept_run)
            doses_left.append(problem.facilities[kept_run.facility].doses_per_batch)
        for booking in kept.bookings.values():
            assert booking.batch is not None
            p = problem.patient(booking.patient)
            doses_left[booking.batch] -= p.doses
            cap.book_day(cap.infusion, p.site, booking.infusion)
            schedule.bookings[p.id] = booking
    for p in order:
        if p.reason is not None or p.id in schedule.bookings:
            continue
        best: tuple[int, int, int | None, BatchRun | None] | None = None
        for i, b in enumerate(schedule.batches):
            if doses_left[i] < p.doses or b.facility not in p.facilities:
                continue
            inf = _batch_infusion(problem, cap, p, b)
            if inf is not None and (best is None or (inf, 0) < best[:2]):
                best = (inf, 0, i, None)
        for f in p.facilities:
            fac = problem.facilities[f]
            if fac.doses_per_batch < p.doses:
                continue
            found = earliest_start(problem, cap, f, 0, problem.horizon, p.lots)
            if found is None:
                continue
            new_run = BatchRun(f, found[0], found[1])
            inf = _batch_infusion(problem, cap, p, new_run)
            if inf is not None and (best is None or (inf, 1) < best[:2]):
                best = (inf, 1, None, new_run)
        if best is None:
            continue
        inf, _, index, run = best
        if index is None:
            assert run is not None
            cap.take_batch(run)
            schedule.batches.append(run)
            doses_left.append(problem.facilities[run.facility].doses_per_batch)
            index = len(schedule.batches) - 1
        doses_left[index] -= p.doses
        cap.book_day(cap.infusion, p.site, inf)
        schedule.bookings[p.id] = Booking(p.id, None, None, None, None, inf, batch=index)
    return schedule


def _batch_infusion(problem: Problem, cap: Capacity, p: PatientData, run: BatchRun) -> int | None:
    fac = problem.facilities[run.facility]
    lane = problem.lane(run.facility, p.site)
    if lane is None:
        return None
    release = run.start + fac.release_lag
    return earliest_infusion(problem, cap, p, max(release + lane, problem.infusion_first(p)),
                             release + fac.dp_shelf_life_days)


def batch_schedule_with(problem: Problem, kept: Schedule,
                        order: list[PatientData]) -> Schedule:
    """Batch modality: keep ``kept`` (batches, and dosings that name them by index), then
    book the other patients greedily in ``order`` (re-planning's baseline)."""
    return _fcfs_batches(problem, order, kept)

"""Why each patient gets the dates it gets: the binding constraint, in the domain's words.

For a planned patient we look at the days just before each of its dates and ask what
stopped the chain there (frePPLe's ``out_constraint``): a site's procedure calendar or
its full days, a facility not ready, suites held by others, a lot not yet released or
used up. For an unplanned patient we replay the greedy booking against the rest of the
plan, then with more vector, then alone, to name the resource that is missing.
"""

from __future__ import annotations

from dataclasses import replace

from chainsight.domain.common import WEEKDAYS
from chainsight.planning.data import PatientData, Problem
from chainsight.planning.fcfs import Capacity, book_patient, pick_lot, take
from chainsight.planning.schedule import Booking, Schedule, arrival_of


def _days(weekdays: frozenset[int]) -> str:
    return "/".join(WEEKDAYS[d] for d in sorted(weekdays))


def capacity_without(problem: Problem, schedule: Schedule, patient_id: str,
                     full: Capacity | None = None) -> Capacity:
    """Capacity left by every booking of the schedule except one patient's.

    ``full`` (the capacity left by the whole schedule, see :func:`capacity_of`) saves
    rebuilding it per patient: the patient's own booking is handed back instead.
    """
    if full is not None:
        cap = full.copy()
        booking = schedule.bookings.get(patient_id)
        if booking is not None:
            _give_back(problem, cap, problem.patient(patient_id), booking)
        return cap
    return capacity_of(problem, schedule, exclude=patient_id)


def _give_back(problem: Problem, cap: Capacity, p: PatientData, booking: Booking) -> None:
    if problem.is_batch:
        cap.infusion[p.site][booking.infusion] -= 1
        return
    if p.apheresis is None and booking.apheresis is not None:
        cap.apheresis[p.site][booking.apheresis] -= 1
    if p.infusion is None:
        cap.infusion[p.site][booking.infusion] -= 1
    if p.stage == "manufactured":
        return
    assert booking.facility is not None
    assert booking.start is not None
    fac = problem.facilities[booking.facility]
    cap.book_run(booking.facility, booking.start, fac.manufacturing_days, amount=-1)
    if booking.lot is not None:
        cap.units[booking.lot] += fac.units_per_batch


def capacity_of(problem: Problem, schedule: Schedule, exclude: str | None = None) -> Capacity:
    """Capacity left by every booking of the schedule (but ``exclude``'s)."""
    patient_id = exclude
    cap = Capacity.empty(problem)
    if problem.is_batch:
        for b in schedule.batches:
            cap.take_batch(b)
    for booking in schedule.bookings.values():
        if booking.patient == patient_id:
            continue
        p = problem.patient(booking.patient)
        if problem.is_batch:
            cap.book_day(cap.infusion, p.site, booking.infusion)
            continue
        if p.apheresis is None and booking.apheresis is not None:
            cap.book_day(cap.apheresis, p.site, booking.apheresis)
        if p.stage == "manufactured":
            if p.infusion is None:
                cap.book_day(cap.infusion, p.site, booking.infusion)
            continue
        take(problem, cap, booking)
    return cap


def explain_patient(problem: Problem, schedule: Schedule, patient_id: str,
                    full: Capacity | None = None) -> list[str]:
    """Reasons behind a planned patient's dates, the binding one first."""
    p = problem.patient(patient_id)
    booking = schedule.bookings[patient_id]
    cap = capacity_without(problem, schedule, patient_id, full)
    date = problem.to_date
    waits: list[str] = []
    calendar: list[str] = []
    if not problem.is_batch and p.stage != "manufactured":
        assert booking.apheresis is not None
        assert booking.start is not None
        assert booking.facility is not None
        site = problem.sites[p.site]
        fac = problem.facilities[booking.facility]
        if p.apheresis is None:
            protocol_first = max(0, p.enrolled + problem.apheresis_earliest_days)
            first = problem.apheresis_first(p)
            if first > protocol_first and site.active_from == first and first > 0:
                waits.append(f"site {p.site} active only from {date(first)}")
            weekday_first = next((d for d in range(first, first + 7)
                                  if problem.weekday(d) in site.apheresis_weekdays), first)
            if booking.apheresis == weekday_first and weekday_first > first:
                calendar.append(f"apheresis day limited to {_days(site.apheresis_weekdays)} "
                                f"at {p.site}")
            earlier = [d for d in range(weekday_first, booking.apheresis)
                       if problem.weekday(d) in site.apheresis_weekdays]
            if earlier and all(not cap.apheresis_free(p.site, d) for d in earlier):
                waits.append(f"apheresis slots at {p.site} full until {date(booking.apheresis)}")
            first_collect = weekday_first
        else:
            first_collect = booking.apheresis
        lane_in = problem.lane(p.site, booking.facility) or 0
        lowest = max(first_collect + lane_in, 0)
        if fac.ready is not None and fac.ready > lowest:
            waits.append(f"facility {fac.id} not ready until {fac.ready_date}")
            lowest = fac.ready
        tried = [d for d in range(lowest, booking.start)
                 if problem.weekday(d) in fac.start_weekdays]
        suite_blocked = [d for d in tried
                         if cap.suite_free_until(fac.id, d, fac.manufacturing_days) is not None]
        lot_blocked = [d for d in tried if d not in suite_blocked
                       and not pick_lot(problem, cap, p.lots, d, fac.units_per_batch)[0]]
        if suite_blocked:
            waits.append(f"waits for a suite at {fac.id} until {date(booking.start)}")
        if lot_blocked:
            released = [lot for lot in p.lots if problem.lots[lot].first > lot_blocked[0]]
            if released:
                lot = min(released, key=lambda x: problem.lots[x].first)
                waits.append(f"waits for lot {lot} to be released "
                             f"({problem.lots[lot].released_date})")
            else:
                waits.append("vector lots valid earlier are used up by other patients")
        if not tried and booking.start > lowest:
            calendar.append(f"manufacturing starts limited to {_days(fac.start_weekdays)} "
                            f"at {fac.id}")
    elif problem.is_batch:
        assert booking.batch is not None
        b = schedule.batches[booking.batch]
        arrival = arrival_of(problem, schedule, booking, p)
        if arrival > max(p.enrolled, 0):
            waits.append(f"waits for batch B{booking.batch + 1:02d} made at {b.facility} "
                         f"to arrive ({date(arrival)})")
    infusion_from = arrival_of(problem, schedule, booking, p)
    if problem.is_batch:
        infusion_from = max(infusion_from, problem.infusion_first(p))
    site = problem.sites[p.site]
    days = [d for d in range(max(infusion_from, 0), booking.infusion)
            if problem.weekday(d) in site.infusion_weekdays]
    if days and all(not cap.infusion_free(p.site, d) for d in days):
        waits.append(f"infusion slots at {p.site} full until {date(booking.infusion)}")
    elif not days and booking.infusion > infusion_from:
        calendar.append(f"infusion days limited to {_days(site.infusion_weekdays)} at {p.site}")
    if p.stage == "manufactured":
        waits.insert(0, f"product made at {p.facility}; infusion only")
    reasons = waits + calendar
    if not reasons:
        reasons.append("earliest possible chain: nothing waits but the process itself")
    return reasons


def unplanned_reason(problem: Problem, schedule: Schedule, p: PatientData,
                     full: Capacity | None = None) -> str:
    """The specific reason a patient could not be planned."""
    if p.reason is not None:
        return p.reason
    if problem.is_batch:
        return _batch_reason(problem, schedule, p, full)
    cap = capacity_without(problem, schedule, p.id, full)
    if book_patient(problem, cap, p) is not None:
        return "left unplanned: treating it would delay patients weighed higher"
    rich = capacity_without(problem, schedule, p.id, full)
    rich.units = dict.fromkeys(rich.units, 10**6)
    if book_patient(problem, rich, p) is not None:
        return ("no vector units left before horizon end: valid lots are used by other "
                "patients (a new campaign is needed)")
    alone = Capacity.empty(problem)
    if book_patient(problem, alone, p) is not None:
        return ("no free suite before horizon end at " + ", ".join(p.facilities)
                + " (taken by other patients and reservations)")
    return "no feasible chain within the horizon (calendars, lanes and lot windows do not meet)"


def _batch_reason(problem: Problem, schedule: Schedule, p: PatientData,
                  full: Capacity | None) -> str:
    if all(problem.facilities[f].doses_per_batch < p.doses for f in p.facilities):
        return f"needs {p.doses} doses, more than a batch yields"
    left = capacity_without(problem, schedule, p.id, full).units
    need = min(problem.facilities[f].units_per_batch for f in p.facilities)
    if need > 0 and all(left[lot] < need for lot in p.lots):
        return (f"no lot has the {need} vector units a new batch needs before horizon end "
                "(a new campaign is needed)")
    return "no batch with enough doses reaches the site before it expires or the horizon ends"


def with_reason(p: PatientData, reason: str) -> PatientData:
    """A copy of the patient carrying an unplanned reason."""
    return replace(p, reason=reason)


__all__ = ["capacity_of", "capacity_without", "explain_patient", "unplanned_reason"]

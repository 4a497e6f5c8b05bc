"""Settle the choices a schedule can still make once its runs are fixed.

The greedy books patients one by one: each takes the first free apheresis day and the
first-expiring lot at the moment it is booked. When the booking order is not the
enrolment order (priority first, or an order read off the LP relaxation), a patient
booked early takes apheresis days that a patient enrolled before it needed inside its
protocol window, and lots are handed out in booking order rather than in start order.
With every manufacturing start fixed, both choices are small exact problems:

* apheresis days, per site: an assignment of patients to (day, place) slots, each
  patient inside [earliest apheresis, start - lane] (and the fresh-material limit),
  minimising the days past the apheresis window, then the days moved;
* lots: runs in start order take the first-expiring valid lot with units left (earliest
  deadline first, optimal for windows on a line), so no unit expires that could be used.

Neither changes a start, a facility or an infusion, so the time to treatment stays and
every hard rule still holds; the result is kept only where it costs less.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from chainsight.planning.data import PatientData, Problem
from chainsight.planning.fcfs import Capacity, pick_lot
from chainsight.planning.objective import evaluate
from chainsight.planning.schedule import Booking, Schedule


def settle(problem: Problem, schedule: Schedule) -> Schedule:
    """The schedule with its apheresis days and lots re-chosen for its fixed runs."""
    if problem.is_batch:
        return schedule
    settled = settle_lots(problem, settle_apheresis(problem, schedule))
    if evaluate(problem, settled).scaled_total < evaluate(problem, schedule).scaled_total:
        return settled
    return schedule


def settle_apheresis(problem: Problem, schedule: Schedule) -> Schedule:
    """Re-assign the planned apheresis days of each site to minimise window overruns."""
    by_site: dict[str, list[tuple[PatientData, Booking]]] = {}
    for booking in schedule.bookings.values():
        p = problem.patient(booking.patient)
        if p.apheresis is not None or booking.apheresis is None or booking.start is None:
            continue
        by_site.setdefault(p.site, []).append((p, booking))
    bookings = dict(schedule.bookings)
    for site, items in sorted(by_site.items()):
        days = _assign_site(problem, site, items)
        if days is None:
            continue
        for (p, booking), day in zip(items, days, strict=True):
            bookings[p.id] = replace(booking, apheresis=day)
    return Schedule(bookings=bookings, batches=list(schedule.batches))


def _assign_site(problem: Problem, site: str,
                 items: list[tuple[PatientData, Booking]]) -> list[int] | None:
    """Apheresis day per item (same order), or None to keep the days as they are."""
    s = problem.sites[site]
    windows: list[tuple[int, int]] = []
    for p, b in items:
        assert b.facility is not None
        assert b.start is not None
        lane = problem.lane(site, b.facility)
        assert lane is not None
        first = problem.apheresis_first(p)
        if problem.fresh:
            first = max(first, b.start - problem.fresh_max_days_to_start)
        windows.append((first, b.start - lane))
    lo = min(w[0] for w in windows)
    hi = max(w[1] for w in windows)
    taken = problem.apheresis_history.get(site, {})
    slots = [d for d in problem.days_on(s.apheresis_weekdays, lo, hi)
             for _ in range(max(0, s.apheresis_per_day - taken.get(d, 0)))]
    if len(slots) < len(items):
        return None
    day = np.asarray(slots)
    # Lexicographic: days past the window first, then days moved from the greedy's choice.
    span = hi - lo + 1
    heavy = len(items) * span + 1
    cost = np.full((len(items), len(slots)), np.inf)
    for i, ((p, b), (first, last)) in enumerate(zip(items, windows, strict=True)):
        assert b.apheresis is not None
        ok = (day >= first) & (day <= last)
        late = np.maximum(0, day - problem.apheresis_due(p))
        cost[i, ok] = (late * heavy + np.abs(day - b.apheresis))[ok]
    try:
        rows, cols = linear_sum_assignment(cost)
    except ValueError:  # no complete assignment: keep the greedy's (feasible) days
        return None
    days = [0] * len(items)
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        days[r] = slots[c]
    before = after = 0
    for (p, b), day_after in zip(items, days, strict=True):
        assert b.apheresis is not None
        before += max(0, b.apheresis - problem.apheresis_due(p))
        after += max(0, day_after - problem.apheresis_due(p))
    return days if after < before else None


def settle_lots(problem: Problem, schedule: Schedule) -> Schedule:
    """Hand out lots to runs in start order, first-expiring valid lot first."""
    runs = sorted(
        (b for b in schedule.bookings.values()
         if b.lot is not None and b.start is not None and b.facility is not None
         and problem.patient(b.patient).stage != "manufactured"),
        key=lambda b: (b.start, b.patient))
    cap = Capacity.empty(problem)
    bookings = dict(schedule.bookings)
    for b in runs:
        assert b.start is not None
        assert b.facility is not None
        need = problem.facilities[b.facility].units_per_batch
        _, lot = pick_lot(problem, cap, problem.patient(b.patient).lots, b.start, need)
        if lot is None:  # the greedy's hand-out is feasible: keep it
            return schedule
        cap.units[lot] -= need
        bookings[b.patient] = replace(b, lot=lot)
    return Schedule(bookings=bookings, batches=list(schedule.batches))

"""Time-indexed LP relaxation of the plan: a lower bound and a booking order.

CP-SAT's own bound comes from the linear relaxation of optional intervals, which says
little about a long queue for a few suites. The time-indexed relaxation is the classic
strong one for weighted completion times: one variable per (patient, facility, start
day) with the patient's earliest possible time to treatment from that start as its
cost, each patient planned once or left unplanned at the objective's penalty, and on
every facility day the runs in progress within the suites left free. Lot windows enter
as two families of cuts (runs starting by day t need lots released by t; runs starting
from day t need lots still valid on t). Apheresis and infusion capacity, deviations the
plan could avoid and vector left to expire are relaxed away, so its optimum is a valid
lower bound on the plan objective. It is solved with HiGHS (through SciPy).

In the batch modality the columns are (patient, facility, batch start day), batches per
(facility, start day) are variables of their own that hold their patients' doses and
occupy the suites and the lots, and the batch fixed cost and the doses left to expire
are counted exactly; fractional batches make this bound weaker than the autologous one.

Its solution also orders patients: sorting them by the day by which half of each one's
LP mass has started ("alpha points") and booking them greedily in that order is the
standard way to turn this relaxation into a schedule.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

from chainsight.planning.data import PatientData, Problem
from chainsight.planning.objective import SCALE, Coefficients, coefficients


@dataclass(frozen=True)
class Relaxation:
    """The relaxation's lower bound on the objective and the order it suggests."""

    bound: float
    """Lower bound on the plan objective, in the scenario's units."""
    scaled_bound: int
    order: list[PatientData]
    """Every patient of the problem: those without a choice first, then by alpha point."""
    columns: int
    seconds: float


def next_on(problem: Problem, weekdays: frozenset[int], last: int) -> np.ndarray:
    """For each day 0..last: the first day on or after it on one of ``weekdays`` (or a
    day past ``last`` if there is none)."""
    out = np.full(last + 2, last + 1, dtype=np.int64)
    for d in range(last, -1, -1):
        out[d] = d if problem.weekday(d) in weekdays else out[d + 1]
    return out


@dataclass
class _Columns:
    patient: list[np.ndarray]
    facility: list[np.ndarray]
    start: list[np.ndarray]
    cost: list[np.ndarray]
    units: list[np.ndarray]

    def add(self, patient: int, facility: int, start: np.ndarray, cost: np.ndarray,
            units: int) -> None:
        """One patient's columns at one facility."""
        self.patient.append(np.full(len(start), patient))
        self.facility.append(np.full(len(start), facility))
        self.start.append(start)
        self.cost.append(cost)
        self.units.append(np.full(len(start), units))


class _LinearProgram:
    """A sparse LP assembled block by block: variables, then rows over them."""

    def __init__(self) -> None:
        self.cost: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []
        self.size = 0
        self.eq: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.eq_rhs: list[np.ndarray] = []
        self.ub: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.ub_rhs: list[np.ndarray] = []

    def variables(self, cost: np.ndarray, upper: float | np.ndarray) -> np.ndarray:
        """New variables in [0, upper] with these costs; their indices."""
        count = len(cost)
        self.cost.append(np.asarray(cost, dtype=float))
        self.upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (count,)).copy())
        index = np.arange(self.size, self.size + count)
        self.size += count
        return index

    def rows(self, equal: bool, row: np.ndarray, col: np.ndarray, val: np.ndarray | float,
             rhs: np.ndarray) -> None:
        """Rows ``sum(val * x[col]) (== or <=) rhs``, ``row`` counting from 0 here."""
        blocks, rhss = (self.eq, self.eq_rhs) if equal else (self.ub, self.ub_rhs)
        first = sum(len(r) for r in rhss)
        values = np.broadcast_to(np.asarray(val, dtype=float), (len(col),))
        blocks.append((np.asarray(row) + first, np.asarray(col), values))
        rhss.append(np.asarray(rhs, dtype=float))

    def _matrix(self, blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                rhss: list[np.ndarray]) -> tuple[csr_matrix | None, np.ndarray | None]:
        if not rhss:
            return None, None
        rows = np.concatenate([b[0] for b in blocks])
        cols = np.concatenate([b[1] for b in blocks])
        vals = np.concatenate([b[2] for b in blocks])
        rhs = np.concatenate(rhss)
        return csr_matrix((vals, (rows, cols)), shape=(len(rhs), self.size)), rhs

    def solve(self, time_limit: float) -> np.ndarray | None:
        """The optimal values (objective first), or None if HiGHS does not finish."""
        a_eq, b_eq = self._matrix(self.eq, self.eq_rhs)
        a_ub, b_ub = self._matrix(self.ub, self.ub_rhs)
        bounds = np.column_stack([np.zeros(self.size), np.concatenate(self.upper)])
        result = linprog(np.concatenate(self.cost), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq,
                         b_eq=b_eq, bounds=bounds, method="highs-ds",
                         options={"time_limit": max(0.1, time_limit)})
        if result.status != 0:
            return None
        return np.concatenate([[float(result.fun)], np.asarray(result.x)])


def _suite_rows(lp: _LinearProgram, problem: Problem, facilities: list[str],
                runs: np.ndarray, facility: np.ndarray, start: np.ndarray) -> None:
    """On every facility day, runs (or batches) in progress <= suites left free."""
    days = problem.last_day + 1
    mdays = np.array([problem.facilities[f].manufacturing_days for f in facilities])
    length = mdays[facility]
    offset = np.repeat(np.cumsum(length) - length, length)
    covered = np.repeat(start, length) + (np.arange(length.sum()) - offset)
    inside = covered < days
    lp.rows(False, (np.repeat(facility, length) * days + covered)[inside],
            np.repeat(runs, length)[inside], 1.0,
            np.array([problem.facilities[f].free(t) for f in facilities for t in range(days)]))


def _lot_rows(lp: _LinearProgram, problem: Problem, runs: np.ndarray, start: np.ndarray,
              units: np.ndarray) -> None:
    """Lot-window cuts: runs starting by day t use lots released by t; runs starting
    from day t use lots still valid on t (through running sums P_t of units used)."""
    horizon = problem.horizon
    count = horizon + 1
    prefix = lp.variables(np.zeros(count), np.inf)
    lp.rows(True, np.concatenate([start, np.arange(count), np.arange(1, count)]),
            np.concatenate([runs, prefix, prefix[:-1]]),
            np.concatenate([-units.astype(float), np.ones(count), -np.ones(count - 1)]),
            np.zeros(count))
    released_by = np.zeros(count)
    valid_from = np.zeros(count)
    for lot in problem.lots.values():
        lo, hi = max(lot.first, 0), min(lot.last, horizon)
        if lot.units <= 0 or lo > hi:
            continue
        released_by[lo:] += lot.units
        valid_from[: hi + 1] += lot.units
    lp.rows(False, np.arange(count), prefix, 1.0, released_by)
    lp.rows(False, np.concatenate([np.arange(count), np.arange(1, count)]),
            np.concatenate([np.full(count, prefix[-1]), prefix[:-1]]),
            np.concatenate([np.ones(count), -np.ones(count - 1)]), valid_from)


def time_indexed_relaxation(problem: Problem, *, time_limit: float = 30.0,
                            required: Collection[str] = ()) -> Relaxation | None:
    """Solve the relaxation; None if HiGHS does not finish in ``time_limit`` seconds.

    Patients in ``required`` may not be left unplanned (the bound is then the bound of
    plans that treat them all).
    """
    t0 = time.perf_counter()
    c = coefficients(problem)
    last = problem.last_day
    constant = 0
    fixed: list[PatientData] = []
    free: list[PatientData] = []
    infusion_next = {sid: next_on(problem, s.infusion_weekdays, last)
                     for sid, s in problem.sites.items()}
    cols = _Columns([], [], [], [], [])
    facilities = list(problem.facilities)
    add = _add_batch_columns if problem.is_batch else _add_columns
    for p in problem.patients:
        if p.reason is not None:
            constant += c.unplanned[p.id]
            fixed.append(p)
        elif p.stage == "manufactured":
            constant += min(c.unplanned[p.id], _manufactured_cost(problem, p, c,
                                                                  infusion_next[p.site]))
            fixed.append(p)
        elif add(problem, p, len(free), c, infusion_next[p.site], facilities, cols):
            free.append(p)
        else:
            # No chain even with the others relaxed away. A required patient has one in
            # the plan it comes from, so count nothing for it rather than risk the bound.
            constant += 0 if p.id in required else c.unplanned[p.id]
            fixed.append(p)
    if not free:
        return Relaxation(constant / SCALE, constant, fixed, 0, time.perf_counter() - t0)
    patient = np.concatenate(cols.patient)
    facility = np.concatenate(cols.facility)
    start = np.concatenate(cols.start)
    cost = np.concatenate(cols.cost).astype(float)
    units = np.concatenate(cols.units)
    n = len(free)
    lp = _LinearProgram()
    x = lp.variables(cost, 1.0)
    u = lp.variables(np.array([float(c.unplanned[p.id]) for p in free]),
                     np.array([0.0 if p.id in required else 1.0 for p in free]))
    # Each patient planned once or unplanned.
    lp.rows(True, np.concatenate([patient, np.arange(n)]), np.concatenate([x, u]), 1.0,
            np.ones(n))
    if problem.is_batch:
        _batch_rows(lp, problem, c, facilities, x, patient, facility, start, units,
                    np.array([p.doses for p in free]))
    else:
        _suite_rows(lp, problem, facilities, x, facility, start)
        if units.any():
            users = units > 0
            _lot_rows(lp, problem, x[users], start[users], units[users])
    values = lp.solve(time_limit - (time.perf_counter() - t0))
    if values is None:
        return None
    value = float(values[0])
    # The true optimum is an integer: round the LP value up, less the solver's tolerance.
    scaled = constant + math.ceil(value - 1e-6 * max(1.0, abs(value)))
    order = fixed + _alpha_order(free, patient, start, values[1 + x], values[1 + u])
    return Relaxation(scaled / SCALE, scaled, order, len(x), time.perf_counter() - t0)


def _batch_rows(lp: _LinearProgram, problem: Problem, c: Coefficients, facilities: list[str],
                x: np.ndarray, patient: np.ndarray, facility: np.ndarray, start: np.ndarray,
                units: np.ndarray, doses: np.ndarray) -> None:
    """Batch modality: batches per (facility, start day) as variables; patients' doses
    within them, a patient only from a batch that is made; suites and lots as runs."""
    keys = facility * (problem.last_day + 1) + start
    unique, first, which = np.unique(keys, return_index=True, return_inverse=True)
    b_facility, b_start, b_units = facility[first], start[first], units[first]
    size = np.array([problem.facilities[f].doses_per_batch for f in facilities])[b_facility]
    lag = np.array([problem.facilities[f].release_lag + problem.facilities[f].dp_shelf_life_days
                    for f in facilities])[b_facility]
    expires = b_start + lag <= problem.horizon
    # Doses left to expire cost (size - doses used) in batches expiring inside the horizon:
    # the batch carries the size, each dose used gives its cost back (in its column).
    y = lp.variables(c.batch + c.dose_expired * size * expires, np.inf)
    lp.rows(False, np.concatenate([which, np.arange(len(unique))]),
            np.concatenate([x, y]),
            np.concatenate([doses[patient].astype(float), -size.astype(float)]),
            np.zeros(len(unique)))
    lp.rows(False, np.concatenate([np.arange(len(x)), np.arange(len(x))]),
            np.concatenate([x, y[which]]),
            np.concatenate([np.ones(len(x)), -np.ones(len(x))]), np.zeros(len(x)))
    _suite_rows(lp, problem, facilities, y, b_facility, b_start)
    if b_units.any():
        users = b_units > 0
        _lot_rows(lp, problem, y[users], b_start[users], b_units[users])


def _manufactured_cost(problem: Problem, p: PatientData, c: Coefficients,
                       infusion_next: np.ndarray) -> int:
    """Least objective of a patient whose run is history: earliest infusion, history kept."""
    assert p.facility is not None
    assert p.start is not None
    lane = problem.lane(p.facility, p.site) or 0
    arrival = p.start + problem.facilities[p.facility].release_lag + lane
    if p.infusion is not None:
        infusion = p.infusion
    else:
        first = max(arrival, 0, p.infusion_not_before or 0)
        infusion = int(infusion_next[min(first, len(infusion_next) - 1)])
    late = max(0, p.apheresis - problem.apheresis_due(p)) if p.apheresis is not None else 0
    return c.time_to_treatment[p.id] * (infusion - p.enrolled) + c.deviation * late


def _add_columns(problem: Problem, p: PatientData, j: int, c: Coefficients,
                 infusion_next: np.ndarray, facilities: list[str], cols: _Columns) -> bool:
    """Add a patient's (facility, start) columns; False if it has none."""
    site = problem.sites[p.site]
    if p.apheresis is not None:
        apheresis = p.apheresis
    else:
        days = problem.days_on(site.apheresis_weekdays, problem.apheresis_first(p),
                               problem.horizon)
        if not days:
            return False
        apheresis = days[0]
    # Days past the apheresis window that no plan can avoid (collection is this late or
    # later whatever happens).
    late = max(0, apheresis - problem.apheresis_due(p))
    added = False
    for f in p.facilities:
        fac = problem.facilities[f]
        lane_in, lane_out = problem.lane(p.site, f), problem.lane(f, p.site)
        if lane_in is None or lane_out is None or fac.ready is None:
            continue
        last = problem.horizon
        if problem.fresh and p.apheresis is not None:
            last = min(last, p.apheresis + problem.fresh_max_days_to_start)
        start = _starts(problem, p, f, max(apheresis + lane_in, fac.ready), last)
        release = start + fac.release_lag
        infusion, ok = _earliest_infusions(problem, p, release, release + lane_out,
                                           max(p.enrolled, 0), fac.dp_shelf_life_days,
                                           infusion_next)
        if not ok.any():
            continue
        start, infusion = start[ok], infusion[ok]
        overdue = np.full(len(start), late)
        if problem.fresh and p.apheresis is None:
            # Fresh material: collected at most fresh_max days before the start.
            overdue = np.maximum(overdue, start - problem.fresh_max_days_to_start
                                 - problem.apheresis_due(p))
        cols.add(j, facilities.index(f), start,
                 c.time_to_treatment[p.id] * (infusion - p.enrolled) + c.deviation * overdue,
                 fac.units_per_batch)
        added = True
    return added


def _starts(problem: Problem, p: PatientData, facility: str, first: int,
            last: int) -> np.ndarray:
    """Start days at a facility in [first, last] on its weekdays, and (where runs use
    vector) inside the window of one of the patient's candidate lots."""
    fac = problem.facilities[facility]
    start = np.asarray(problem.days_on(fac.start_weekdays, first, last), dtype=np.int64)
    if fac.units_per_batch > 0:
        usable = np.zeros(len(start), dtype=bool)
        for lot in p.lots:
            window = problem.lots[lot]
            usable |= (start >= window.first) & (start <= window.last)
        start = start[usable]
    return start


def _earliest_infusions(problem: Problem, p: PatientData, release: np.ndarray,
                        arrival: np.ndarray, not_before: int, shelf_life: int,
                        infusion_next: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per start: the earliest infusion (on a site infusion day, from arrival and
    ``not_before``), and whether it falls within the product's shelf life and the plan."""
    first = np.maximum(arrival, max(not_before, p.infusion_not_before or 0))
    if p.infusion is not None:
        infusion = np.full(len(release), p.infusion)
        ok = first <= p.infusion
    else:
        infusion = infusion_next[np.minimum(first, len(infusion_next) - 1)]
        ok = infusion <= problem.last_day
    return infusion, ok & (infusion <= release + shelf_life)


def _add_batch_columns(problem: Problem, p: PatientData, j: int, c: Coefficients,
                       infusion_next: np.ndarray, facilities: list[str],
                       cols: _Columns) -> bool:
    """Batch modality: a patient's (facility, batch start) columns; False if none."""
    added = False
    for f in p.facilities:
        fac = problem.facilities[f]
        lane = problem.lane(f, p.site)
        if lane is None or fac.ready is None or fac.doses_per_batch < p.doses:
            continue
        start = _starts(problem, p, f, fac.ready, problem.horizon)
        release = start + fac.release_lag
        arrival = release + lane
        infusion, ok = _earliest_infusions(problem, p, release, arrival,
                                           problem.infusion_first(p),
                                           fac.dp_shelf_life_days, infusion_next)
        if not ok.any():
            continue
        start, infusion, arrival = start[ok], infusion[ok], arrival[ok]
        # The infusion window counts from arrival, or from enrolment if that is later.
        overdue = np.maximum(0, infusion - np.maximum(arrival, p.enrolled)
                             - problem.infusion_latest_days_after_arrival)
        expires = start + fac.release_lag + fac.dp_shelf_life_days <= problem.horizon
        cols.add(j, facilities.index(f), start,
                 c.time_to_treatment[p.id] * (infusion - p.enrolled)
                 + c.deviation * overdue - c.dose_expired * p.doses * expires,
                 fac.units_per_batch)
        added = True
    return added


def _alpha_order(free: list[PatientData], patient: np.ndarray, start: np.ndarray,
                 x: np.ndarray, unplanned: np.ndarray) -> list[PatientData]:
    """Patients by the start day at which half their LP mass has started (then by mean
    start); those the LP leaves mostly unplanned come last."""
    order = np.lexsort((start, patient))
    p_sorted, s_sorted, x_sorted = patient[order], start[order], x[order]
    bounds = np.searchsorted(p_sorted, np.arange(len(free) + 1))
    keys: list[tuple[float, float, int, str]] = []
    for j, p in enumerate(free):
        lo, hi = int(bounds[j]), int(bounds[j + 1])
        mass = x_sorted[lo:hi]
        if unplanned[j] >= 0.5 or not len(mass) or mass.sum() <= 0:
            keys.append((math.inf, math.inf, p.enrolled, p.id))
            continue
        reached = np.flatnonzero(np.cumsum(mass) >= 0.5 * mass.sum() - 1e-9)
        alpha = float(s_sorted[lo + int(reached[0])]) if len(reached) else math.inf
        mean = float((mass * s_sorted[lo:hi]).sum() / mass.sum())
        keys.append((alpha, mean, p.enrolled, p.id))
    ranked = sorted(range(len(free)), key=lambda j: keys[j])
    return [free[j] for j in ranked]

"""Time-indexed LP relaxation of the autologous plan: a lower bound and a booking order.

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


def time_indexed_relaxation(problem: Problem, *, time_limit: float = 30.0,
                            required: Collection[str] = ()) -> Relaxation | None:
    """Solve the relaxation; None for the batch modality or if HiGHS does not finish.

    Patients in ``required`` may not be left unplanned (the bound is then the bound of
    plans that treat them all).
    """
    if problem.is_batch:
        return None
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
    for p in problem.patients:
        if p.reason is not None:
            constant += c.unplanned[p.id]
            fixed.append(p)
        elif p.stage == "manufactured":
            constant += min(c.unplanned[p.id], _manufactured_cost(problem, p, c,
                                                                  infusion_next[p.site]))
            fixed.append(p)
        elif _add_columns(problem, p, len(free), c, infusion_next[p.site], facilities, cols):
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
    n, nx = len(free), len(patient)
    horizon = problem.horizon
    needs_vector = bool(units.any())
    n_prefix = horizon + 1 if needs_vector else 0
    # Variables: x (columns), u (unplanned per patient), P (runs' vector units by day t).
    n_var = nx + n + n_prefix
    objective = np.concatenate([cost, [float(c.unplanned[p.id]) for p in free],
                                np.zeros(n_prefix)])

    # Each patient planned once or unplanned.
    eq_rows = [np.concatenate([patient, np.arange(n)])]
    eq_cols = [np.arange(nx + n)]
    eq_vals = [np.ones(nx + n)]
    eq_rhs = [np.ones(n)]
    n_eq = n
    # Suites: on every facility day, runs in progress <= suites left free.
    days = last + 1
    mdays = np.array([problem.facilities[f].manufacturing_days for f in facilities])
    length = mdays[facility]
    offset = np.repeat(np.cumsum(length) - length, length)
    covered = np.repeat(start, length) + (np.arange(length.sum()) - offset)
    inside = covered < days
    ub_rows = [(np.repeat(facility, length) * days + covered)[inside]]
    ub_cols = [np.repeat(np.arange(nx), length)[inside]]
    ub_vals = [np.ones(int(inside.sum()))]
    ub_rhs = [np.array([problem.facilities[f].free(t) for f in facilities for t in range(days)],
                       dtype=float)]
    n_ub = len(facilities) * days
    if needs_vector:
        # P_t = vector units of runs starting on days 0..t (a running sum, one row a day).
        prefix = nx + n + np.arange(n_prefix)
        users = units > 0
        eq_rows += [n_eq + start[users], n_eq + np.arange(n_prefix),
                    n_eq + np.arange(1, n_prefix)]
        eq_cols += [np.flatnonzero(users), prefix, prefix[:-1]]
        eq_vals += [-units[users].astype(float), np.ones(n_prefix), -np.ones(n_prefix - 1)]
        eq_rhs.append(np.zeros(n_prefix))
        n_eq += n_prefix
        released_by = np.zeros(n_prefix)
        valid_from = np.zeros(n_prefix)
        for lot in problem.lots.values():
            lo, hi = max(lot.first, 0), min(lot.last, horizon)
            if lot.units <= 0 or lo > hi:
                continue
            released_by[lo:] += lot.units
            valid_from[: hi + 1] += lot.units
        # Runs starting by day t: units of lots released by t. From day t: lots valid on t.
        ub_rows += [n_ub + np.arange(n_prefix), n_ub + n_prefix + np.arange(n_prefix),
                    n_ub + n_prefix + np.arange(1, n_prefix)]
        ub_cols += [prefix, np.full(n_prefix, prefix[-1]), prefix[:-1]]
        ub_vals += [np.ones(n_prefix), np.ones(n_prefix), -np.ones(n_prefix - 1)]
        ub_rhs += [released_by, valid_from]
        n_ub += 2 * n_prefix
    a_eq = csr_matrix((np.concatenate(eq_vals), (np.concatenate(eq_rows),
                                                 np.concatenate(eq_cols))), shape=(n_eq, n_var))
    a_ub = csr_matrix((np.concatenate(ub_vals), (np.concatenate(ub_rows),
                                                 np.concatenate(ub_cols))), shape=(n_ub, n_var))
    bounds = np.zeros((n_var, 2))
    bounds[:, 1] = 1.0
    bounds[nx + n:, 1] = np.inf
    for j, p in enumerate(free):
        if p.id in required:
            bounds[nx + j, 1] = 0.0
    remaining = max(0.1, time_limit - (time.perf_counter() - t0))
    result = linprog(objective, A_ub=a_ub, b_ub=np.concatenate(ub_rhs), A_eq=a_eq,
                     b_eq=np.concatenate(eq_rhs), bounds=bounds, method="highs-ds",
                     options={"time_limit": remaining})
    if result.status != 0:
        return None
    value = float(result.fun)
    # The true optimum is an integer: round the LP value up, less the solver's tolerance.
    scaled = constant + math.ceil(value - 1e-6 * max(1.0, abs(value)))
    order = fixed + _alpha_order(free, patient, start, np.asarray(result.x[:nx]),
                                 np.asarray(result.x[nx:nx + n]))
    return Relaxation(scaled / SCALE, scaled, order, nx, time.perf_counter() - t0)


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
        start = np.asarray(problem.days_on(fac.start_weekdays,
                                           max(apheresis + lane_in, fac.ready), last),
                           dtype=np.int64)
        if fac.units_per_batch > 0:
            usable = np.zeros(len(start), dtype=bool)
            for lot in p.lots:
                window = problem.lots[lot]
                usable |= (start >= window.first) & (start <= window.last)
            start = start[usable]
        if not len(start):
            continue
        release = start + fac.release_lag
        first = np.maximum(release + lane_out, max(p.enrolled, p.infusion_not_before or 0, 0))
        if p.infusion is not None:
            infusion = np.full(len(start), p.infusion)
            ok = first <= p.infusion
        else:
            infusion = infusion_next[np.minimum(first, len(infusion_next) - 1)]
            ok = infusion <= problem.last_day
        ok &= infusion <= release + fac.dp_shelf_life_days
        if not ok.any():
            continue
        start, infusion = start[ok], infusion[ok]
        cols.patient.append(np.full(len(start), j))
        cols.facility.append(np.full(len(start), facilities.index(f)))
        cols.start.append(start)
        overdue = np.full(len(start), late)
        if problem.fresh and p.apheresis is None:
            # Fresh material: collected at most fresh_max days before the start.
            overdue = np.maximum(overdue, start - problem.fresh_max_days_to_start
                                 - problem.apheresis_due(p))
        cols.cost.append(c.time_to_treatment[p.id] * (infusion - p.enrolled)
                         + c.deviation * overdue)
        cols.units.append(np.full(len(start), fac.units_per_batch))
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

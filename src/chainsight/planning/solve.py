"""The planner's public entry: ``plan(scenario, policy=...) -> Plan``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal

from chainsight.domain import Scenario
from chainsight.planning.cpsat import solve as cpsat_solve
from chainsight.planning.data import PatientData, Problem, build_problem
from chainsight.planning.fcfs import (
    enrolment_order,
    fcfs_schedule,
    greedy_schedule,
    priority_order,
)
from chainsight.planning.local_search import improve_order
from chainsight.planning.objective import evaluate
from chainsight.planning.plan import Plan, SolverInfo, build_plan
from chainsight.planning.relaxation import time_indexed_relaxation
from chainsight.planning.schedule import Schedule
from chainsight.planning.settle import settle

Policy = Literal["optimal", "fcfs"]
POLICIES: tuple[str, ...] = ("optimal", "fcfs")
DEFAULT_TIME_LIMIT = 10.0
DEFAULT_WORKERS = 2


def plan(scenario: Scenario, *, policy: Policy = "optimal",
         time_limit: float = DEFAULT_TIME_LIMIT, workers: int = DEFAULT_WORKERS,
         seed: int = 0) -> Plan:
    """Plan every patient still to treat.

    ``fcfs`` books patients in enrolment order, each on its earliest chain. ``optimal``
    starts from that plan and holds it as a floor: the result is never worse on the
    objective, plans every patient FCFS plans (and maybe more) and never leaves more
    vector units to expire (if nothing better is found in ``time_limit`` seconds, the
    FCFS plan comes back, marked as the fallback).
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    if time_limit <= 0:
        raise ValueError(f"time_limit must be positive, not {time_limit}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    parameters = {"policy": policy, "time_limit": time_limit, "workers": workers, "seed": seed}
    problem = build_problem(scenario)
    schedule, info = schedule_for(problem, policy=policy, time_limit=time_limit,
                                  workers=workers, seed=seed)
    return build_plan(scenario, problem, schedule, info, parameters)


# Share of the time limit spent improving the greedy order before CP-SAT takes over, the
# most the LP relaxation may take, and the least the solver is given whatever came before.
SEARCH_SHARE = 0.3
RELAXATION_SHARE = 0.4
MIN_SOLVER_SECONDS = 0.5
# Queue-jumping allowances tried for the warm start, in days per unit of priority.
_PRIORITY_DAYS = (7, 14, 30, 60)


def best_start(problem: Problem, fcfs: Schedule, *, budget_seconds: float = 0.0,
               seed: int = 0, orders: Sequence[list[PatientData]] = ()) -> Schedule:
    """The solver's warm start: the best of FCFS and greedy plans from priority-aware
    orders and the given ``orders`` (the LP relaxation's), each settled, then improved by
    iterated greedy for ``budget_seconds``.

    CP-SAT's neighbourhood search improves a start locally; reordering a long queue by
    priority is a global move it rarely finds in seconds, so it gets that start directly.
    Every patient FCFS plans stays planned (each order books them first) and no more
    vector units are left to expire than FCFS leaves, so the solver's floor and cap stay
    FCFS's.
    """
    required = frozenset(fcfs.bookings)
    baseline = evaluate(problem, fcfs)
    cap = baseline.vector_units_expiring
    best, best_cost = fcfs, baseline.scaled_total
    # The search starts from the cheapest order planning every required patient, even
    # one that leaves a unit more to expire than FCFS: it repairs that first.
    search_from, search_cost = enrolment_order(problem), baseline.scaled_total
    tried = [*(priority_order(problem, days) for days in _PRIORITY_DAYS), *orders]
    for order in tried:
        order = required_first(order, required)
        candidate = settle(problem, greedy_schedule(problem, order))
        if not required <= candidate.bookings.keys():
            continue
        cost = evaluate(problem, candidate)
        if cost.scaled_total < search_cost:
            search_from, search_cost = order, cost.scaled_total
        if cost.scaled_total < best_cost and cost.vector_units_expiring <= cap:
            best, best_cost = candidate, cost.scaled_total
    if budget_seconds > 0:
        found = improve_order(problem, search_from, required=required,
                              budget_seconds=budget_seconds, seed=seed, max_expiring=cap)
        if found.feasible and found.cost < best_cost:
            best = found.schedule
    return best


def required_first(order: list[PatientData], required: frozenset[str]) -> list[PatientData]:
    """The order with the required patients first, each group in its own order."""
    return ([p for p in order if p.id in required]
            + [p for p in order if p.id not in required])


def schedule_for(problem: Problem, *, policy: Policy = "optimal",
                 time_limit: float = DEFAULT_TIME_LIMIT, workers: int = DEFAULT_WORKERS,
                 seed: int = 0) -> tuple[Schedule, SolverInfo]:
    """The schedule of a policy and how it was found (the plan's ``solver`` entry)."""
    t0 = time.perf_counter()
    fcfs = fcfs_schedule(problem)
    fcfs_cost = evaluate(problem, fcfs)
    if policy == "fcfs":
        seconds = round(time.perf_counter() - t0, 3)
        return fcfs, SolverInfo(name="fcfs", status="FEASIBLE", seconds=seconds,
                                objective=fcfs_cost.total, bound=None, policy="fcfs",
                                first_solution_seconds=seconds)
    # Whoever FCFS treats, the optimised plan treats too: it may treat them sooner, and
    # treat more patients, but never leaves out a patient to speed up others.
    required = frozenset(fcfs.bookings)
    relaxation = time_indexed_relaxation(problem, time_limit=time_limit * RELAXATION_SHARE,
                                         required=required)
    orders = [relaxation.order] if relaxation is not None else []
    hint = best_start(problem, fcfs, budget_seconds=time_limit * SEARCH_SHARE, seed=seed,
                      orders=orders)
    start_seconds = time.perf_counter() - t0
    result = cpsat_solve(problem, hint=hint, min_planned=len(hint.bookings),
                         time_limit=max(MIN_SOLVER_SECONDS, time_limit - start_seconds),
                         workers=workers, seed=seed,
                         max_expiring=fcfs_cost.vector_units_expiring, required=required)
    seconds = round(time.perf_counter() - t0, 3)
    first = result.first_solution_seconds
    first_total = round(start_seconds + first, 3) if first is not None else None
    # Keep the best of the solver's answer, its warm start and FCFS: never worse than FCFS.
    candidates: list[tuple[int, int, Schedule, str | None]] = [
        (fcfs_cost.scaled_total, 2, fcfs, "fcfs")]
    if hint is not fcfs:
        candidates.append((evaluate(problem, hint).scaled_total, 1, hint, "greedy-search"))
    if result.schedule is not None and required <= result.schedule.bookings.keys():
        candidates.append((evaluate(problem, result.schedule).scaled_total, 0,
                           result.schedule, None))
    _, _, schedule, fallback = min(candidates, key=lambda c: (c[0], c[1]))
    bound, source = result.bound, "cp-sat" if result.bound is not None else None
    if relaxation is not None and (bound is None or relaxation.bound > bound):
        bound, source = relaxation.bound, "time-indexed-lp"
    return schedule, SolverInfo(
        name="cp-sat", status=result.status, seconds=seconds,
        objective=evaluate(problem, schedule).total, bound=bound, policy="optimal",
        first_solution_seconds=first_total, fallback=fallback, bound_source=source)

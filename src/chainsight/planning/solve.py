"""The planner's public entry: ``plan(scenario, policy=...) -> Plan``."""

from __future__ import annotations

import time
from typing import Literal

from chainsight.domain import Scenario
from chainsight.planning.cpsat import solve as cpsat_solve
from chainsight.planning.data import Problem, build_problem
from chainsight.planning.fcfs import fcfs_schedule
from chainsight.planning.objective import evaluate
from chainsight.planning.plan import Plan, SolverInfo, build_plan
from chainsight.planning.schedule import Schedule

Policy = Literal["optimal", "fcfs"]
POLICIES: tuple[str, ...] = ("optimal", "fcfs")
DEFAULT_TIME_LIMIT = 10.0
DEFAULT_WORKERS = 2


def plan(scenario: Scenario, *, policy: Policy = "optimal",
         time_limit: float = DEFAULT_TIME_LIMIT, workers: int = DEFAULT_WORKERS,
         seed: int = 0) -> Plan:
    """Plan every patient still to treat.

    ``fcfs`` books patients in enrolment order, each on its earliest chain. ``optimal``
    hands that plan to CP-SAT as a hint and a floor: the result is never worse on the
    objective and never plans fewer patients (if the solver does not beat it in
    ``time_limit`` seconds, the FCFS plan comes back, marked as the fallback).
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


def schedule_for(problem: Problem, *, policy: Policy = "optimal",
                 time_limit: float = DEFAULT_TIME_LIMIT, workers: int = DEFAULT_WORKERS,
                 seed: int = 0, baseline: Schedule | None = None,
                 penalties: dict[str, object] | None = None) -> tuple[Schedule, SolverInfo]:
    """The schedule of a policy and how it was found (the plan's ``solver`` entry)."""
    t0 = time.perf_counter()
    fcfs = baseline if baseline is not None else fcfs_schedule(problem)
    fcfs_cost = evaluate(problem, fcfs)
    if policy == "fcfs":
        return fcfs, SolverInfo(name="fcfs", status="FEASIBLE",
                                seconds=round(time.perf_counter() - t0, 3),
                                objective=fcfs_cost.total, bound=None, policy="fcfs",
                                first_solution_seconds=round(time.perf_counter() - t0, 3))
    result = cpsat_solve(problem, hint=fcfs, min_planned=len(fcfs.bookings),
                         time_limit=time_limit, workers=workers, seed=seed)
    seconds = round(time.perf_counter() - t0, 3)
    bound = result.bound
    first = result.first_solution_seconds
    if result.schedule is not None:
        cost = evaluate(problem, result.schedule)
        if cost.scaled_total <= fcfs_cost.scaled_total \
                and len(result.schedule.bookings) >= len(fcfs.bookings):
            return result.schedule, SolverInfo(
                name="cp-sat", status=result.status, seconds=seconds, objective=cost.total,
                bound=bound, policy="optimal",
                first_solution_seconds=round(first, 3) if first is not None else None)
    return fcfs, SolverInfo(name="cp-sat", status=result.status, seconds=seconds,
                            objective=fcfs_cost.total, bound=bound, policy="optimal",
                            first_solution_seconds=round(first, 3) if first else None,
                            fallback="fcfs")

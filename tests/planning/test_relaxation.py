"""The time-indexed LP relaxation: a valid lower bound, tight where it should be, and an
order that books a congested queue well."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from chainsight.planning import plan
from chainsight.planning.cpsat import solve as cpsat_solve
from chainsight.planning.data import build_problem
from chainsight.planning.fcfs import fcfs_schedule, greedy_schedule
from chainsight.planning.generate import congested_trial
from chainsight.planning.objective import coefficients, evaluate
from chainsight.planning.relaxation import time_indexed_relaxation
from tests.planning.factory import base, build, day
from tests.planning.test_properties import SETTINGS, scenarios


@SETTINGS
@given(scenarios())
def test_bound_never_exceeds_a_proven_optimum(data: dict[str, Any]) -> None:
    problem = build_problem(build(data))
    relaxation = time_indexed_relaxation(problem)
    assert relaxation is not None
    assert sorted(p.id for p in relaxation.order) == sorted(p.id for p in problem.patients)
    fcfs = evaluate(problem, fcfs_schedule(problem))
    assert relaxation.scaled_bound <= fcfs.scaled_total
    result = cpsat_solve(problem, hint=fcfs_schedule(problem), time_limit=5, workers=1)
    assert result.schedule is not None
    assert relaxation.scaled_bound <= evaluate(problem, result.schedule).scaled_total
    if result.status == "OPTIMAL":
        assert result.objective is not None
        assert relaxation.bound <= result.objective + 1e-9


def test_an_uncongested_patient_is_bounded_exactly() -> None:
    # One patient, free suites: the earliest chain is optimal and the LP is integral.
    data = base(patients=1)
    data["patients"][0]["enrolled"] = day(2)
    problem = build_problem(build(data))
    relaxation = time_indexed_relaxation(problem)
    assert relaxation is not None
    assert relaxation.scaled_bound == evaluate(problem, fcfs_schedule(problem)).scaled_total


def test_unavoidable_apheresis_overrun_is_in_the_bound() -> None:
    # Enrolled 40 days ago with a 28-day window: 12 days over whatever happens.
    data = base(patients=1)
    data["trial"]["protocol"]["apheresis_latest_days"] = 28
    data["patients"][0]["enrolled"] = day(-40)
    problem = build_problem(build(data))
    relaxation = time_indexed_relaxation(problem)
    assert relaxation is not None
    fcfs = evaluate(problem, fcfs_schedule(problem))
    assert fcfs.deviation_days == 12
    assert relaxation.scaled_bound == fcfs.scaled_total


def test_lot_cuts_count_the_patients_no_lot_can_serve() -> None:
    # Three patients, one vector unit: two must stay unplanned in any plan.
    data = base(patients=3, suites=3)
    data["vector"]["lots"][0]["units"] = 1
    problem = build_problem(build(data))
    relaxation = time_indexed_relaxation(problem)
    assert relaxation is not None
    c = coefficients(problem)
    assert relaxation.scaled_bound >= 2 * min(c.unplanned.values())
    assert relaxation.scaled_bound <= evaluate(problem, fcfs_schedule(problem)).scaled_total


def test_a_later_lot_bounds_the_runs_before_its_release() -> None:
    # The only lot is released on day 20: no run (and no infusion) before then.
    data = base(patients=1)
    data["vector"]["lots"][0]["released"] = day(20)
    problem = build_problem(build(data))
    relaxation = time_indexed_relaxation(problem)
    assert relaxation is not None
    fcfs = evaluate(problem, fcfs_schedule(problem))
    assert fcfs.weighted_time_to_treatment >= 20 + 5 + 3 + 1
    assert relaxation.scaled_bound == fcfs.scaled_total


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(modality="batch"))
def test_batch_bound_never_exceeds_a_proven_optimum(data: dict[str, Any]) -> None:
    problem = build_problem(build(data))
    relaxation = time_indexed_relaxation(problem)
    assert relaxation is not None
    assert sorted(p.id for p in relaxation.order) == sorted(p.id for p in problem.patients)
    fcfs = fcfs_schedule(problem)
    assert relaxation.scaled_bound <= evaluate(problem, fcfs).scaled_total
    result = cpsat_solve(problem, hint=fcfs, time_limit=5, workers=1)
    assert result.schedule is not None
    assert relaxation.scaled_bound <= evaluate(problem, result.schedule).scaled_total
    if result.status == "OPTIMAL":
        assert result.objective is not None
        assert relaxation.bound <= result.objective + 1e-9


def test_a_lone_batch_patient_is_bounded_exactly() -> None:
    # One patient, one batch: batch cost, its expiring doses and the earliest infusion.
    data = base(modality="batch", patients=1)
    data["patients"][0]["doses"] = 1
    problem = build_problem(build(data))
    relaxation = time_indexed_relaxation(problem)
    assert relaxation is not None
    assert relaxation.scaled_bound == evaluate(problem, fcfs_schedule(problem)).scaled_total


def test_alpha_order_books_a_congested_queue_better_than_enrolment_order() -> None:
    problem = build_problem(congested_trial(60, seed=1))
    relaxation = time_indexed_relaxation(problem)
    assert relaxation is not None
    fcfs = evaluate(problem, fcfs_schedule(problem))
    ordered = evaluate(problem, greedy_schedule(problem, relaxation.order))
    assert ordered.weighted_time_to_treatment < fcfs.weighted_time_to_treatment
    assert relaxation.bound < ordered.total



def test_the_plan_reports_the_stronger_bound_and_its_source() -> None:
    scenario = congested_trial(40, seed=5)
    result = plan(scenario, time_limit=3, workers=1)
    relaxation = time_indexed_relaxation(build_problem(scenario))
    assert relaxation is not None
    assert result.solver.bound_source == "time-indexed-lp"
    assert result.solver.bound == relaxation.bound
    assert result.solver.objective is not None
    assert relaxation.bound <= result.solver.objective

"""Iterated greedy over the booking order: never worse, never fewer, always feasible."""

from __future__ import annotations

from chainsight.planning.data import build_problem
from chainsight.planning.fcfs import enrolment_order, fcfs_schedule, greedy_schedule, priority_order
from chainsight.planning.generate import congested_trial
from chainsight.planning.local_search import improve_order
from chainsight.planning.objective import evaluate
from chainsight.planning.plan import SolverInfo, build_plan
from chainsight.planning.settle import settle
from tests.planning.checker import check_plan


def test_search_improves_a_congested_queue_and_stays_feasible() -> None:
    scenario = congested_trial(30, seed=2)
    problem = build_problem(scenario)
    fcfs = fcfs_schedule(problem)
    start = priority_order(problem, 14)
    found = improve_order(problem, start, required=fcfs.bookings.keys(), budget_seconds=1.5)
    assert found.iterations > 10
    assert len(found.schedule.bookings) >= len(fcfs.bookings)
    assert found.cost <= evaluate(problem, fcfs).scaled_total
    assert found.cost == evaluate(problem, found.schedule).scaled_total
    info = SolverInfo(name="search", status="FEASIBLE", seconds=1.5,
                      objective=found.cost / 100, bound=None)
    plan = build_plan(scenario, problem, found.schedule, info, {})
    assert check_plan(scenario, plan.to_json()) == []


def test_no_budget_returns_the_greedy_of_the_given_order() -> None:
    problem = build_problem(congested_trial(20, seed=3))
    order = priority_order(problem, 30)
    found = improve_order(problem, order, budget_seconds=0)
    assert found.iterations == 0
    assert [p.id for p in found.order] == [p.id for p in order]


def test_search_on_a_short_queue_stops_before_its_budget() -> None:
    problem = build_problem(congested_trial(6, seed=4))
    order = priority_order(problem, 14)
    found = improve_order(problem, order, budget_seconds=30)
    assert 0 < found.iterations <= 50 + 5 * len(order) * 4


def test_search_repairs_a_start_order_that_leaves_more_vector_to_expire() -> None:
    problem = build_problem(congested_trial(30, seed=3))
    fcfs = fcfs_schedule(problem)
    cap = evaluate(problem, fcfs).vector_units_expiring
    backwards = enrolment_order(problem)[::-1]
    start = evaluate(problem, settle(problem, greedy_schedule(problem, backwards)))
    assert start.vector_units_expiring > cap
    found = improve_order(problem, backwards, required=fcfs.bookings.keys(), budget_seconds=20,
                          max_expiring=cap)
    assert found.feasible
    assert evaluate(problem, found.schedule).vector_units_expiring <= cap
    assert len(found.schedule.bookings) >= len(fcfs.bookings)


def test_a_start_order_the_budget_cannot_repair_is_reported_infeasible() -> None:
    problem = build_problem(congested_trial(30, seed=3))
    backwards = enrolment_order(problem)[::-1]
    found = improve_order(problem, backwards, budget_seconds=0, max_expiring=0)
    assert not found.feasible

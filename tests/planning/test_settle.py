"""Settling a greedy schedule's apheresis days and lots once its runs are fixed."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from chainsight.planning.data import build_problem
from chainsight.planning.fcfs import greedy_schedule
from chainsight.planning.objective import evaluate
from chainsight.planning.plan import SolverInfo, build_plan
from chainsight.planning.settle import settle, settle_apheresis, settle_lots
from tests.planning.checker import check_plan
from tests.planning.factory import base, build, day
from tests.planning.test_properties import SETTINGS, scenarios


@SETTINGS
@given(scenarios(), st.randoms(use_true_random=False))
def test_settling_keeps_runs_and_infusions_never_costs_more_and_stays_feasible(
        data: dict[str, Any], rnd: Any) -> None:
    scenario = build(data)
    problem = build_problem(scenario)
    order = list(problem.patients)
    rnd.shuffle(order)
    greedy = greedy_schedule(problem, order)
    settled = settle(problem, greedy)
    assert settled.bookings.keys() == greedy.bookings.keys()
    for pid, before in greedy.bookings.items():
        after = settled.bookings[pid]
        assert (after.facility, after.start, after.infusion) == \
            (before.facility, before.start, before.infusion)
    assert evaluate(problem, settled).scaled_total <= evaluate(problem, greedy).scaled_total
    info = SolverInfo(name="greedy", status="FEASIBLE", seconds=0.0, objective=None, bound=None)
    problems = check_plan(scenario, build_plan(scenario, problem, settled, info, {}).to_json())
    assert problems == [], problems


def _queue_behind_a_reservation() -> dict[str, Any]:
    # One apheresis place on Mondays; the only suite is held by another client until day
    # 14, so both runs wait and their collections can be on any Monday before.
    data = base(patients=2)
    data["trial"]["protocol"]["apheresis_latest_days"] = 20
    data["sites"][0]["apheresis"] = {"weekdays": ["Mon"], "per_day": 1}
    data["facilities"][0]["reservations"] = [{"suites": 1, "start": day(0), "end": day(13)}]
    early, late = data["patients"]
    early["enrolled"] = day(-20)   # window ends on day 0
    late.update({"enrolled": day(0), "priority": 2.0})  # window ends on day 20
    return data


def test_apheresis_days_go_to_the_patients_whose_window_closes_first() -> None:
    problem = build_problem(build(_queue_behind_a_reservation()))
    early, late = problem.patient("P01"), problem.patient("P02")
    greedy = greedy_schedule(problem, [late, early])  # priority first takes day 0
    assert greedy.bookings["P02"].apheresis == 0
    assert greedy.bookings["P01"].apheresis == 7
    settled = settle_apheresis(problem, greedy)
    assert settled.bookings["P01"].apheresis == 0
    assert settled.bookings["P02"].apheresis == 7
    before, after = evaluate(problem, greedy), evaluate(problem, settled)
    assert (before.deviation_days, after.deviation_days) == (7, 0)
    assert after.weighted_time_to_treatment == before.weighted_time_to_treatment


def test_apheresis_days_stay_when_nothing_is_gained() -> None:
    problem = build_problem(build(_queue_behind_a_reservation()))
    greedy = greedy_schedule(problem, [problem.patient("P01"), problem.patient("P02")])
    assert settle_apheresis(problem, greedy).bookings == greedy.bookings


def test_lots_are_handed_out_in_start_order_so_none_expires_unused() -> None:
    data = base(patients=2, suites=2)
    first, second = data["patients"]
    first["enrolled"] = day(0)     # starts on day 1
    second["enrolled"] = day(11)   # starts on day 12
    data["vector"]["lots"] = [
        {"id": "L0", "units": 1, "released": day(-10), "expires": day(15)},
        {"id": "L1", "units": 1, "released": day(10), "expires": day(30)},
        {"id": "L9", "units": 10, "released": day(-10), "expires": "2028-06-01"},
    ]
    problem = build_problem(build(data))
    greedy = greedy_schedule(problem, [problem.patient("P02"), problem.patient("P01")])
    assert (greedy.bookings["P02"].lot, greedy.bookings["P01"].lot) == ("L0", "L9")
    settled = settle_lots(problem, greedy)
    assert (settled.bookings["P01"].lot, settled.bookings["P02"].lot) == ("L0", "L1")
    assert evaluate(problem, greedy).vector_units_expiring == 1
    assert evaluate(problem, settled).vector_units_expiring == 0
    assert settle(problem, greedy).bookings == settled.bookings

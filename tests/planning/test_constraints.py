"""Each constraint family on a tiny hand-built scenario, checked independently."""

from __future__ import annotations

import datetime as dt

from chainsight.planning import plan
from chainsight.planning.cpsat import solve as cpsat_solve
from chainsight.planning.data import build_problem
from chainsight.planning.fcfs import fcfs_schedule
from chainsight.planning.objective import evaluate
from tests.planning.conftest import assert_feasible
from tests.planning.factory import TODAY, base, build, day, site2

WEEK = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _both(data: dict) -> tuple:
    scenario = build(data)
    fcfs = plan(scenario, policy="fcfs")
    optimal = plan(scenario, time_limit=5, seed=3)
    assert_feasible(scenario, fcfs)
    assert_feasible(scenario, optimal)
    return scenario, fcfs, optimal


def test_apheresis_weekday_and_per_day() -> None:
    data = base(patients=3, suites=3)
    data["sites"][0]["apheresis"] = {"weekdays": ["Tue"], "per_day": 1}
    _, _, optimal = _both(data)
    days = [p.apheresis for p in optimal.patients]
    assert all(d is not None and WEEK[d.weekday()] == "Tue" for d in days)
    assert len(set(days)) == 3


def test_apheresis_not_before_enrolment_plus_earliest_days() -> None:
    data = base(patients=1)
    data["trial"]["protocol"]["apheresis_earliest_days"] = 5
    data["patients"][0]["enrolled"] = day(2)
    _, _, optimal = _both(data)
    assert optimal.patients[0].apheresis >= TODAY + dt.timedelta(days=7)


def test_fresh_material_starts_within_its_window() -> None:
    data = base(patients=2, material="fresh")
    data["facilities"][0]["start_weekdays"] = ["Mon"]
    data["sites"][0]["apheresis"] = {"weekdays": ["Fri", "Sat", "Sun", "Mon"], "per_day": 1}
    _, _, optimal = _both(data)
    for p in optimal.patients:
        assert 1 <= (p.manufacturing_start - p.apheresis).days <= 2
        assert WEEK[p.manufacturing_start.weekday()] == "Mon"


def test_reservation_holds_the_suite() -> None:
    data = base(patients=2, suites=1)
    data["facilities"][0]["reservations"] = [
        {"suites": 1, "start": day(0), "end": day(20), "label": "other client"}]
    _, _, optimal = _both(data)
    starts = sorted(p.manufacturing_start for p in optimal.patients)
    assert starts[0] > TODAY + dt.timedelta(days=20)
    assert (starts[1] - starts[0]).days >= 5  # one suite: runs do not overlap
    assert "waits for a suite at F1" in optimal.patients[0].reason


def test_lot_window_and_units() -> None:
    data = base(patients=2)
    data["vector"]["lots"] = [{"id": "L2", "units": 1, "released": day(10),
                               "expires": day(90)}]
    _, fcfs, optimal = _both(data)
    assert optimal.kpis.patients_planned == 1
    assert optimal.patients[0].manufacturing_start >= TODAY + dt.timedelta(days=10)
    assert "waits for lot L2 to be released" in " ".join(optimal.patients[0].explanations)
    assert "vector" in optimal.unplanned[0].reason
    assert optimal.kpis.patients_planned >= fcfs.kpis.patients_planned


def test_refused_extension_is_not_counted_granted_is() -> None:
    data = base(patients=1)
    data["vector"]["lots"] = [{"id": "L1", "units": 5, "released": "2026-01-01",
                               "expires": day(-1),
                               "extension": {"expires": day(60), "readout": day(-5),
                                             "probability": 0.5, "status": "refused"}}]
    _, _, refused = _both(data)
    assert refused.unplanned[0].reason == "no vector lot valid before horizon end"
    data["vector"]["lots"][0]["extension"]["status"] = "granted"
    _, _, granted = _both(data)
    assert granted.patients[0].vector_lot == "L1"


def test_facility_process_override_sets_release() -> None:
    data = base(patients=1)
    data["facilities"][0]["process"] = {"manufacturing_days": 9, "qc_release_days": 6}
    _, _, optimal = _both(data)
    p = optimal.patients[0]
    assert (p.release - p.manufacturing_start).days == 15
    assert (p.manufacturing_end - p.manufacturing_start).days == 9


def test_facility_ready_day_from_tech_transfer() -> None:
    data = base(patients=1)
    data["facilities"][0].pop("ready")
    data["facilities"][0]["tech_transfer"] = "TT"
    data["tech_transfer"] = [{"id": "TT", "facility": "F1", "milestones": [
        {"id": "ppq", "name": "PPQ", "planned_start": day(0), "duration_days": 30}]}]
    _, _, optimal = _both(data)
    assert optimal.patients[0].manufacturing_start >= TODAY + dt.timedelta(days=30)
    assert "facility F1 not ready until" in optimal.patients[0].reason


def test_infusion_weekday_per_day_and_arrival() -> None:
    data = base(patients=3, suites=3)
    data["sites"][0]["infusion"] = {"weekdays": ["Wed"], "per_day": 1}
    _, _, optimal = _both(data)
    infusions = [p.infusion for p in optimal.patients]
    assert len(set(infusions)) == 3
    for p in optimal.patients:
        assert WEEK[p.infusion.weekday()] == "Wed"
        assert p.infusion >= p.dp_arrival


def test_dp_shelf_life_bounds_infusion_of_released_product() -> None:
    data = base(patients=1)
    data["process"]["dp_shelf_life_days"] = 5
    data["patients"][0].update({"enrolled": day(-40), "apheresis": day(-35), "facility": "F1",
                                "manufacturing_start": day(-34), "vector_lot": "L1",
                                "outcome": "released"})
    _, _, optimal = _both(data)  # released day -26, expired day -21
    assert optimal.kpis.patients_planned == 0
    assert len(optimal.unplanned) == 1


def test_history_is_kept_and_failed_patients_restart() -> None:
    data = base(patients=3, suites=2)
    data["patients"][0].update({"enrolled": day(-10), "apheresis": day(-3)})
    data["patients"][1].update({"enrolled": day(-30), "apheresis": day(-25), "facility": "F1",
                                "manufacturing_start": day(-24), "vector_lot": "L1",
                                "outcome": "failed"})
    _, _, optimal = _both(data)
    assert str(optimal.patient("P01").apheresis) == day(-3)
    assert optimal.patient("P02").apheresis >= TODAY


def test_closed_patients_are_out_of_scope() -> None:
    data = base(patients=2)
    data["patients"][0].update({"outcome": "withdrawn"})
    _, _, optimal = _both(data)
    assert [p.patient for p in optimal.patients] == ["P02"]
    assert optimal.unplanned == []


def test_unplanned_reasons_are_specific() -> None:
    data = site2(base(patients=1), activation={"planned": day(400), "actual": None})
    data["patients"].append({"id": "P02", "site": "S2", "enrolled": day(0)})
    _, _, optimal = _both(data)
    reasons = {u.patient: u.reason for u in optimal.unplanned}
    assert reasons["P02"].startswith("site S2 not active before horizon end")
    data = site2(base(patients=1))
    data["lanes"] = [lane for lane in data["lanes"] if "S2" not in lane.values()]
    data["patients"].append({"id": "P02", "site": "S2", "enrolled": day(0)})
    _, _, optimal = _both(data)
    assert optimal.unplanned[0].reason.startswith("no lane between S2")
    data = base(patients=1)
    data["facilities"][0]["ready"] = day(500)
    _, _, optimal = _both(data)
    assert "never ready within the horizon" in optimal.unplanned[0].reason


def test_priority_decides_who_waits() -> None:
    data = base(patients=2, suites=1)
    data["patients"][1]["priority"] = 3.0
    data["patients"][1]["enrolled"] = day(0)
    _, fcfs, optimal = _both(data)
    assert optimal.patient("P02").infusion < optimal.patient("P01").infusion
    assert optimal.solver.objective < fcfs.solver.objective


def test_soft_window_overrun_is_a_listed_deviation() -> None:
    data = base(patients=1)
    data["trial"]["protocol"]["apheresis_latest_days"] = 2
    data["patients"][0]["enrolled"] = day(-10)
    _, _, optimal = _both(data)
    devs = optimal.patients[0].deviations
    assert [d.window for d in devs] == ["apheresis_latest_days"]
    assert devs[0].days == 8


def test_solver_objective_is_the_shared_objective(demo) -> None:  # type: ignore[no-untyped-def]
    optimal = plan(demo, time_limit=5)
    assert optimal.solver.status == "OPTIMAL"
    assert optimal.solver.bound == optimal.solver.objective
    problem = build_problem(demo)
    assert evaluate(problem, fcfs_schedule(problem)).total >= optimal.solver.objective


def test_a_hint_leaving_a_single_facility_patient_unplanned_is_a_valid_model() -> None:
    # The only lot expires before the first possible start: FCFS plans nobody, and the
    # hint must not name the presence literal twice (CP-SAT rejects such a model).
    data = base(patients=1)
    data["sites"][0]["apheresis"]["weekdays"] = ["Mon"]
    data["facilities"][0]["start_weekdays"] = ["Mon"]
    data["vector"]["lots"][0].update({"released": day(0), "expires": day(5)})
    problem = build_problem(build(data))
    hint = fcfs_schedule(problem)
    assert hint.bookings == {}
    result = cpsat_solve(problem, hint=hint, time_limit=5, workers=1)
    assert result.status == "OPTIMAL"
    assert result.schedule is not None
    assert result.schedule.bookings == {}

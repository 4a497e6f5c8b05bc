"""The three reference scenarios plan feasibly, quickly, and never worse than FCFS."""

from __future__ import annotations

import datetime as dt

import pytest

from chainsight.domain import Scenario
from chainsight.planning import plan
from tests.planning.checker import check_plan
from tests.planning.conftest import assert_feasible


@pytest.fixture(scope="module")
def reference_plans(demo: Scenario, multicdmo: Scenario, aav: Scenario) -> dict[str, tuple]:
    out = {}
    for name, scenario in (("demo", demo), ("multicdmo", multicdmo), ("aav", aav)):
        out[name] = (scenario, plan(scenario, policy="fcfs"),
                     plan(scenario, time_limit=5, workers=2, seed=1))
    return out


@pytest.mark.parametrize("name", ["demo", "multicdmo", "aav"])
def test_reference_scenarios_plan_feasibly(reference_plans: dict[str, tuple], name: str) -> None:
    scenario, fcfs, optimal = reference_plans[name]
    assert_feasible(scenario, fcfs)
    assert_feasible(scenario, optimal)
    assert optimal.solver.seconds < 30
    assert optimal.solver.name == "cp-sat"


@pytest.mark.parametrize("name", ["demo", "multicdmo", "aav"])
def test_optimal_never_worse_than_fcfs(reference_plans: dict[str, tuple], name: str) -> None:
    _, fcfs, optimal = reference_plans[name]
    assert optimal.solver.objective <= fcfs.solver.objective
    assert optimal.kpis.patients_planned >= fcfs.kpis.patients_planned
    if optimal.solver.bound is not None:
        assert optimal.solver.bound <= optimal.solver.objective + 1e-6
    # Short of vector (the phase 2 trial), nobody FCFS treats is left out for others.
    assert {e.patient for e in fcfs.patients} <= {e.patient for e in optimal.patients}


def test_batch_plan_beats_fcfs_and_packs_batches(reference_plans: dict[str, tuple]) -> None:
    _, fcfs, optimal = reference_plans["aav"]
    assert optimal.batches, "batch modality makes batches"
    assert optimal.solver.objective < fcfs.solver.objective
    for b in optimal.batches:
        assert 0 < b.doses_used <= b.doses
    used = {p.batch for p in optimal.patients}
    assert used == {b.batch for b in optimal.batches}


def test_demo_plan_keeps_history_and_lists_every_open_patient(
        reference_plans: dict[str, tuple]) -> None:
    scenario, _, optimal = reference_plans["demo"]
    p2 = optimal.patient("P002")  # released: only its infusion is planned
    assert str(p2.manufacturing_start) == "2026-12-08"
    assert p2.infusion is not None
    assert p2.infusion >= p2.dp_arrival
    ids = {p.patient for p in optimal.patients} | {u.patient for u in optimal.unplanned}
    assert "P001" not in ids  # infused: out of scope
    assert ids == {p.id for p in scenario.patients if not p.is_closed}


def test_checker_catches_a_broken_plan(reference_plans: dict[str, tuple]) -> None:
    scenario, _, optimal = reference_plans["demo"]
    data = optimal.to_json()
    victim = next(p for p in data["patients"] if p["patient"] == "P006")
    victim["infusion"] = victim["dp_arrival"][:8] + "01"  # before arrival
    victim["manufacturing_start"] = "2027-01-09"  # a Saturday
    problems = check_plan(scenario, data)
    assert any("rule 3" in p for p in problems)
    assert any("rule 7" in p or "rule 6" in p for p in problems)
    del data["kpis"]
    assert "plan lacks kpis" in check_plan(scenario, data)


def test_checker_catches_unlisted_and_invented_deviations(
        reference_plans: dict[str, tuple]) -> None:
    scenario, _, optimal = reference_plans["demo"]
    data = optimal.to_json()
    victim = next(p for p in data["patients"] if p["patient"] == "P006")
    assert victim["deviations"] == []
    # Infused seven weeks after arrival with no deviation listed.
    arrival = dt.date.fromisoformat(victim["dp_arrival"])
    victim["infusion"] = (arrival + dt.timedelta(days=49)).isoformat()
    problems = check_plan(scenario, data)
    assert any("infusion_latest_days_after_arrival exceeded" in p for p in problems)
    other = next(p for p in data["patients"] if p["patient"] == "P007")
    other["deviations"] = [d for d in other["deviations"]
                           if d["window"] != "infusion_latest_days_after_arrival"] + [
        {"window": "infusion_latest_days_after_arrival", "days": 3,
         "window_end": other["infusion"]}]
    assert any("P007" in p and "listed but the window holds" in p
               for p in check_plan(scenario, data))


def test_generated_congested_trial_plans_feasibly() -> None:
    from chainsight.planning.generate import congested_trial

    scenario = congested_trial(40, seed=2)
    fcfs = plan(scenario, policy="fcfs")
    optimal = plan(scenario, time_limit=3)
    assert_feasible(scenario, fcfs)
    assert_feasible(scenario, optimal)
    assert optimal.solver.objective <= fcfs.solver.objective
    assert optimal.kpis.patients_planned >= fcfs.kpis.patients_planned

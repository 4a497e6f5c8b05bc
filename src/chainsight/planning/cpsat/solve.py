"""Solve the joint plan with CP-SAT: build, hint, solve, read the schedule back."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass

from ortools.sat.python import cp_model

from chainsight.planning.cpsat.constraints import Constraints
from chainsight.planning.cpsat.objective import (
    expiring_expression,
    move_terms,
    objective_expression,
)
from chainsight.planning.cpsat.variables import Variables, build_variables
from chainsight.planning.data import Problem
from chainsight.planning.objective import SCALE, evaluate
from chainsight.planning.schedule import (
    BatchRun,
    Booking,
    Schedule,
    arrival_of,
    deviation_days,
    infusion_window_start,
)


@dataclass(frozen=True)
class SolveResult:
    """What CP-SAT found: a schedule (None if none in time), status, times and bound."""

    schedule: Schedule | None
    status: str
    seconds: float
    first_solution_seconds: float | None
    objective: float | None
    bound: float | None


class _FirstSolution(cp_model.CpSolverSolutionCallback):
    """Records when the first solution arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.first: float | None = None
        self.t0 = time.perf_counter()

    def on_solution_callback(self) -> None:
        if self.first is None:
            self.first = time.perf_counter() - self.t0


def solve(problem: Problem, *, hint: Schedule | None = None, min_planned: int = 0,
          time_limit: float = 10.0, workers: int = 2, seed: int = 0,
          presolve: bool = False, fixed: dict[str, Booking] | None = None,
          previous: dict[str, Booking] | None = None, move_weight: int = 0,
          max_expiring: int | None = None,
          required: Collection[str] = (),
          kept_batches: Collection[int] = ()) -> SolveResult:
    """Optimise the plan; ``hint`` warm-starts the search (a feasible schedule helps most).

    Re-planning passes ``fixed`` bookings (kept as they are) and ``previous`` bookings
    whose dates cost ``move_weight`` (scaled) each if they move; the reported objective is
    then the plan objective plus that stability cost. ``max_expiring`` caps the vector
    units left to expire unused inside the horizon (the planner passes FCFS's figure).
    Every patient in ``required`` that the model holds must be planned. In the batch
    modality, ``kept_batches`` are indices of ``hint`` batches kept as they are, and
    ``fixed`` bookings name their batch by the same index.
    """
    model = cp_model.CpModel()
    v = build_variables(model, problem, hint)
    c = Constraints(model, problem, v)
    c.add_all(min_planned=min(min_planned, len(v.patients)))
    if kept_batches and hint is not None:
        c.keep_batches({i: hint.batches[i] for i in kept_batches})
    if fixed:
        c.keep_bookings(fixed)
    for pid in required:
        if pid in v.patients:
            model.add(v.patients[pid].present == 1)
    if max_expiring is not None:
        model.add(expiring_expression(problem, c) <= max_expiring)
    expr = objective_expression(problem, v, c)
    moves = move_terms(model, v, previous or {}, move_weight,
                       hint.bookings if hint is not None else None)
    model.minimize(cp_model.LinearExpr.sum([expr, *moves]))
    if hint is not None:
        slot_of = add_hint(model, problem, v, hint)
        for i, match in c.batch_match.items():
            for k, m in enumerate(match):
                model.add_hint(m, slot_of.get(i) == k)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.random_seed = seed
    # Presolve of the weekday domains costs seconds on a few hundred patients and the
    # complete hint is already feasible: search from it at once, improve with LNS.
    solver.parameters.cp_model_presolve = presolve
    callback = _FirstSolution()
    status = solver.solve(model, callback)
    name = solver.status_name(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return SolveResult(None, name, solver.wall_time, callback.first, None, None)
    schedule = read_schedule(problem, v, solver)
    return SolveResult(schedule, name, solver.wall_time, callback.first,
                       solver.objective_value / SCALE, solver.best_objective_bound / SCALE)


def add_hint(model: cp_model.CpModel, problem: Problem, v: Variables,
             hint: Schedule) -> dict[int, int]:
    """Hint every variable with a schedule's values (unplanned patients: absent); returns
    the slot each of the hint's batches was given."""
    slot_of: dict[int, int] = {}
    if problem.is_batch:
        order = sorted(range(len(hint.batches)), key=lambda i: hint.batches[i].start)
        slot_of = {i: k for k, i in enumerate(order)}
        for k, slot in enumerate(v.slots):
            if k < len(order):
                b = hint.batches[order[k]]
                fac = problem.facilities[b.facility]
                model.add_hint(slot.used, True)
                model.add_hint(slot.start, b.start)
                model.add_hint(slot.release, b.start + fac.release_lag)
                model.add_hint(slot.expiry, b.start + fac.release_lag + fac.dp_shelf_life_days)
                for f, x in slot.facility.items():
                    model.add_hint(x, f == b.facility)
                for lot, y in slot.lot.items():
                    model.add_hint(y, lot == b.lot)
            else:
                model.add_hint(slot.used, False)
                for x in [*slot.facility.values(), *slot.lot.values()]:
                    model.add_hint(x, False)
    for p in v.modelled:
        pv = v.patients[p.id]
        booking = hint.bookings.get(p.id)
        model.add_hint(pv.present, booking is not None)
        if booking is None:
            for x in [*pv.facility.values(), *pv.lot.values(), *pv.batch.values()]:
                if x is not pv.present:  # a single facility's literal is the presence
                    model.add_hint(x, False)
            continue
        model.add_hint(pv.infusion, booking.infusion)
        model.add_hint(pv.arrival, arrival_of(problem, hint, booking, p))
        model.add_hint(pv.ttt, max(0, booking.infusion - p.enrolled))
        aph_dev, inf_dev = deviation_days(problem, hint, booking, p)
        model.add_hint(pv.dev_infusion, inf_dev)
        if pv.window_start is not None:
            model.add_hint(pv.window_start, infusion_window_start(problem, hint, booking, p))
        if pv.apheresis is not None and booking.apheresis is not None:
            model.add_hint(pv.apheresis, booking.apheresis)
        if pv.dev_apheresis is not None:
            model.add_hint(pv.dev_apheresis, aph_dev)
        if pv.start is not None and booking.start is not None:
            model.add_hint(pv.start, booking.start)
        for f, x in pv.facility.items():
            if x is not pv.present:
                model.add_hint(x, f == booking.facility)
        for lot, y in pv.lot.items():
            model.add_hint(y, lot == booking.lot)
        for k, w in pv.batch.items():
            model.add_hint(w, booking.batch is not None and slot_of.get(booking.batch) == k)
    return slot_of


def read_schedule(problem: Problem, v: Variables, solver: cp_model.CpSolver) -> Schedule:
    """The solver's values as a schedule (batches numbered by start)."""
    schedule = Schedule()
    slot_index: dict[int, int] = {}
    if problem.is_batch:
        used = [k for k, s in enumerate(v.slots) if solver.boolean_value(s.used)]
        used.sort(key=lambda k: solver.value(v.slots[k].start))
        for k in used:
            slot = v.slots[k]
            facility = next(f for f, x in slot.facility.items() if solver.boolean_value(x))
            lot = next((lid for lid, y in slot.lot.items() if solver.boolean_value(y)), None)
            slot_index[k] = len(schedule.batches)
            schedule.batches.append(BatchRun(facility, solver.value(slot.start), lot))
    for p in v.modelled:
        pv = v.patients[p.id]
        if not solver.boolean_value(pv.present):
            continue
        infusion = solver.value(pv.infusion)
        if problem.is_batch:
            k = next(k for k, w in pv.batch.items() if solver.boolean_value(w))
            schedule.bookings[p.id] = Booking(p.id, None, None, None, None, infusion,
                                              batch=slot_index[k])
            continue
        if p.stage == "manufactured":
            schedule.bookings[p.id] = Booking(p.id, p.apheresis, p.facility, p.start, p.lot,
                                              infusion)
            continue
        assert pv.apheresis is not None
        assert pv.start is not None
        facility = next(f for f, x in pv.facility.items() if solver.boolean_value(x))
        lot = next((lid for lid, y in pv.lot.items() if solver.boolean_value(y)), None)
        schedule.bookings[p.id] = Booking(p.id, solver.value(pv.apheresis), facility,
                                          solver.value(pv.start), lot, infusion)
    return schedule


__all__ = ["SolveResult", "Variables", "add_hint", "evaluate", "read_schedule", "solve"]

"""The CP-SAT objective: the same integer cost as :func:`chainsight.planning.objective.evaluate`."""

from __future__ import annotations

from ortools.sat.python import cp_model

from chainsight.planning.cpsat.constraints import Constraints
from chainsight.planning.cpsat.variables import Variables
from chainsight.planning.data import Problem
from chainsight.planning.objective import coefficients
from chainsight.planning.schedule import Booking


def objective_expression(problem: Problem, v: Variables, c: Constraints) -> cp_model.LinearExprT:
    """Priority-weighted time to treatment, deviations, unplanned penalties, vector and
    doses left to expire, batch fixed costs (all scaled to integers)."""
    w = coefficients(problem)
    terms: list[cp_model.LinearExprT] = []
    constant = 0
    for p in problem.patients:
        pv = v.patients.get(p.id)
        if pv is None:
            constant += w.unplanned[p.id]
            continue
        terms.append(w.time_to_treatment[p.id] * pv.ttt)
        terms.append(w.deviation * pv.dev_infusion)
        if pv.dev_apheresis is not None:
            terms.append(w.deviation * pv.dev_apheresis)
        terms.append(w.unplanned[p.id] * (1 - pv.present))
    for lot in problem.lots.values():
        if not lot.expires_in_horizon:
            continue
        constant += w.vector_unit_expired * lot.units
        for units, y in c.lot_usage.get(lot.id, []):
            terms.append(-w.vector_unit_expired * units * y)
    for slot in v.slots:
        terms.append(w.batch * slot.used)
        terms.append(w.dose_expired * slot.doses_expired)
    return sum(terms) + constant


def expiring_expression(problem: Problem, c: Constraints) -> cp_model.LinearExprT:
    """Vector units of lots expiring inside the horizon that no run uses."""
    terms: list[cp_model.LinearExprT] = []
    constant = 0
    for lot in problem.lots.values():
        if lot.expires_in_horizon:
            constant += lot.units
            terms.extend(-units * y for units, y in c.lot_usage.get(lot.id, []))
    return sum(terms) + constant


def move_terms(model: cp_model.CpModel, v: Variables, previous: dict[str, Booking],
               weight: int, hint: dict[str, Booking] | None = None
               ) -> list[cp_model.LinearExprT]:
    """Re-planning: ``weight`` for each previously planned date that moves.

    A fixed cost per moved date (not per day) is what a change costs in practice: one
    more message to a site or a CDMO. A move that gains many days still pays for itself.
    """
    terms: list[cp_model.LinearExprT] = []
    if weight <= 0:
        return terms
    hint = hint or {}
    for pid, booking in previous.items():
        pv = v.patients.get(pid)
        if pv is None:
            continue
        hinted = hint.get(pid)
        pairs = [(pv.infusion, booking.infusion, hinted.infusion if hinted else None)]
        if pv.apheresis is not None and booking.apheresis is not None:
            pairs.append((pv.apheresis, booking.apheresis, hinted.apheresis if hinted else None))
        if pv.start is not None and booking.start is not None:
            pairs.append((pv.start, booking.start, hinted.start if hinted else None))
        for var, old, new in pairs:
            moved = model.new_bool_var(f"moved[{var.name}]")
            model.add(var == old).only_enforce_if(~moved)
            if new is not None:
                model.add_hint(moved, new != old)
            terms.append(weight * moved)
    return terms

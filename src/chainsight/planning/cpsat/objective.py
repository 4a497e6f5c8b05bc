"""The CP-SAT objective: the same integer cost as :func:`chainsight.planning.objective.evaluate`."""

from __future__ import annotations

from ortools.sat.python import cp_model

from chainsight.planning.cpsat.constraints import Constraints
from chainsight.planning.cpsat.variables import Variables
from chainsight.planning.data import Problem
from chainsight.planning.objective import coefficients


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

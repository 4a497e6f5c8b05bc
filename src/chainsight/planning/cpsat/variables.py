"""CP-SAT decision variables of the joint plan, with calendars as variable domains.

Weekday rules (apheresis days, start days, infusion days) and fixed bounds (ready day,
enrolment, horizon) live in the domains, so no constraint is needed for them and the
model has no per-day grid. Choices are presence literals per (patient, facility) and
(patient, lot), or per (batch slot, facility / lot) in the batch modality.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from chainsight.planning.data import PatientData, Problem
from chainsight.planning.schedule import Schedule

IntVar = cp_model.IntVar
Interval = cp_model.IntervalVar


def domain_of(values: list[int]) -> cp_model.Domain:
    """A CP-SAT domain from a list of allowed offsets."""
    return cp_model.Domain.from_values(values)


@dataclass
class PatientVars:
    """Variables of one patient's chain."""

    present: IntVar
    infusion: IntVar
    arrival: IntVar
    ttt: IntVar
    dev_infusion: IntVar
    apheresis: IntVar | None = None
    dev_apheresis: IntVar | None = None
    start: IntVar | None = None
    facility: dict[str, IntVar] = field(default_factory=dict)
    lot: dict[str, IntVar] = field(default_factory=dict)
    runs: dict[str, Interval] = field(default_factory=dict)
    batch: dict[int, IntVar] = field(default_factory=dict)
    window_start: IntVar | None = None


@dataclass
class SlotVars:
    """Variables of one candidate DP batch (batch modality)."""

    used: IntVar
    start: IntVar
    release: IntVar
    expiry: IntVar
    facility: dict[str, IntVar]
    lot: dict[str, IntVar]
    runs: dict[str, Interval]
    expires_in_horizon: IntVar
    doses_expired: IntVar


@dataclass
class Variables:
    """Every decision variable, by patient and by batch slot."""

    patients: dict[str, PatientVars] = field(default_factory=dict)
    slots: list[SlotVars] = field(default_factory=list)
    modelled: list[PatientData] = field(default_factory=list)


def start_days(problem: Problem, facility: str, first: int, last: int) -> list[int]:
    """Start offsets at a facility in [first, last]: its weekdays, from its ready day."""
    fac = problem.facilities[facility]
    if fac.ready is None:
        return []
    return problem.days_on(fac.start_weekdays, max(first, fac.ready), min(last, problem.horizon))


def build_variables(model: cp_model.CpModel, problem: Problem,
                    hint: Schedule | None = None) -> Variables:
    """Create the variables (and optional intervals) of every patient still to plan."""
    v = Variables()
    for p in problem.patients:
        if p.reason is not None:
            continue
        pv = (_batch_patient(model, problem, p) if problem.is_batch
              else _autologous_patient(model, problem, p))
        if pv is not None:
            v.patients[p.id] = pv
            v.modelled.append(p)
    if problem.is_batch:
        v.slots = [_slot(model, problem, k) for k in range(slot_count(problem, hint))]
        for p in v.modelled:
            pv = v.patients[p.id]
            pv.batch = {k: model.new_bool_var(f"dosed[{p.id},{k}]") for k in range(len(v.slots))}
    return v


def _common(model: cp_model.CpModel, problem: Problem, p: PatientData, inf_first: int,
            inf_last: int, arr_first: int) -> PatientVars | None:
    site = problem.sites[p.site]
    inf_first = max(inf_first, p.infusion_not_before or 0)
    if p.infusion is not None:
        inf_days = [p.infusion]
    else:
        inf_days = problem.days_on(site.infusion_weekdays, inf_first, inf_last)
    if not inf_days:
        return None
    name = p.id
    present = model.new_bool_var(f"present[{name}]")
    infusion = model.new_int_var_from_domain(domain_of(inf_days), f"infusion[{name}]")
    arrival = model.new_int_var(min(arr_first, inf_days[0]), problem.last_day, f"arrival[{name}]")
    span = problem.last_day - min(p.enrolled, 0) + 1
    ttt = model.new_int_var(0, span, f"ttt[{name}]")
    dev = model.new_int_var(0, problem.last_day + span, f"dev_infusion[{name}]")
    return PatientVars(present=present, infusion=infusion, arrival=arrival, ttt=ttt,
                       dev_infusion=dev)


def _autologous_patient(model: cp_model.CpModel, problem: Problem,
                        p: PatientData) -> PatientVars | None:
    name = p.id
    if p.stage == "manufactured":
        assert p.facility is not None
        assert p.start is not None
        fac = problem.facilities[p.facility]
        lane = problem.lane(p.facility, p.site) or 0
        release = p.start + fac.release_lag
        pv = _common(model, problem, p, max(release + lane, 0),
                     release + fac.dp_shelf_life_days, release + lane)
        if pv is None:
            return None
        model.add(pv.arrival == release + lane)
        return pv
    site = problem.sites[p.site]
    if p.apheresis is not None:
        aph_days = [p.apheresis]
    else:
        aph_days = problem.days_on(site.apheresis_weekdays, problem.apheresis_first(p),
                                   problem.horizon)
    if not aph_days:
        return None
    per_facility: dict[str, list[int]] = {}
    for f in p.facilities:
        lane_in = problem.lane(p.site, f)
        if lane_in is None:
            continue
        last = problem.horizon
        if problem.fresh:
            last = min(last, aph_days[-1] + problem.fresh_max_days_to_start)
        days = start_days(problem, f, aph_days[0] + lane_in, last)
        if days:
            per_facility[f] = days
    if not per_facility:
        return None
    all_starts = sorted({d for days in per_facility.values() for d in days})
    arr_first = min(per_facility[f][0] + problem.facilities[f].release_lag
                    + (problem.lane(f, p.site) or 0) for f in per_facility)
    inf_last = max(per_facility[f][-1] + problem.facilities[f].release_lag
                   + problem.facilities[f].dp_shelf_life_days for f in per_facility)
    pv = _common(model, problem, p, max(arr_first, 0), inf_last, arr_first)
    if pv is None:
        return None
    pv.apheresis = model.new_int_var_from_domain(domain_of(aph_days), f"apheresis[{name}]")
    span = problem.horizon - min(p.enrolled, 0) + 1
    pv.dev_apheresis = model.new_int_var(0, span, f"dev_apheresis[{name}]")
    pv.start = model.new_int_var_from_domain(domain_of(all_starts), f"start[{name}]")
    only = len(per_facility) == 1
    for f, days in per_facility.items():
        x = pv.present if only else model.new_bool_var(f"at[{name},{f}]")
        pv.facility[f] = x
        if not only:
            model.add_linear_expression_in_domain(pv.start, domain_of(days)).only_enforce_if(x)
        pv.runs[f] = model.new_optional_fixed_size_interval_var(
            pv.start, problem.facilities[f].manufacturing_days, x, f"run[{name},{f}]")
    for lot in p.lots:
        pv.lot[lot] = model.new_bool_var(f"lot[{name},{lot}]")
    return pv


def _batch_patient(model: cp_model.CpModel, problem: Problem,
                   p: PatientData) -> PatientVars | None:
    lags = [problem.facilities[f].release_lag + (problem.lane(f, p.site) or 0)
            for f in p.facilities]
    shelf = max(problem.facilities[f].release_lag + problem.facilities[f].dp_shelf_life_days
                for f in p.facilities)
    pv = _common(model, problem, p, problem.infusion_first(p), problem.horizon + shelf,
                 min(lags))
    if pv is None:
        return None
    pv.window_start = model.new_int_var(min(min(lags), p.enrolled), problem.last_day,
                                        f"window_start[{p.id}]")
    return pv


def slot_count(problem: Problem, hint: Schedule | None) -> int:
    """Candidate batch slots: enough for every dose twice over the smallest batch, capped
    by what the suites can run in the horizon, never fewer than the hint uses."""
    doses = sum(p.doses for p in problem.patients if p.reason is None)
    size = min((f.doses_per_batch for f in problem.facilities.values()), default=1)
    need = math.ceil(doses / max(size, 1)) + 2
    suite_runs = sum(f.suites * (problem.horizon // f.manufacturing_days + 1)
                     for f in problem.facilities.values() if f.ready is not None)
    used = len(hint.batches) if hint is not None else 0
    return max(min(need, suite_runs), used)


def _slot(model: cp_model.CpModel, problem: Problem, k: int) -> SlotVars:
    days: dict[str, list[int]] = {
        f: start_days(problem, f, 0, problem.horizon) for f in problem.facilities
    }
    days = {f: d for f, d in days.items() if d}
    all_days = sorted({d for ds in days.values() for d in ds}) or [0]
    used = model.new_bool_var(f"used[{k}]")
    start = model.new_int_var_from_domain(domain_of(all_days), f"batch_start[{k}]")
    max_lag = max((problem.facilities[f].release_lag for f in days), default=0)
    max_shelf = max((problem.facilities[f].dp_shelf_life_days for f in days), default=0)
    release = model.new_int_var(0, problem.horizon + max_lag, f"batch_release[{k}]")
    expiry = model.new_int_var(0, problem.horizon + max_lag + max_shelf, f"batch_expiry[{k}]")
    facility: dict[str, IntVar] = {}
    runs: dict[str, Interval] = {}
    for f, ds in days.items():
        x = model.new_bool_var(f"batch_at[{k},{f}]")
        facility[f] = x
        model.add_linear_expression_in_domain(start, domain_of(ds)).only_enforce_if(x)
        runs[f] = model.new_optional_fixed_size_interval_var(
            start, problem.facilities[f].manufacturing_days, x, f"batch_run[{k},{f}]")
    lot = {lid: model.new_bool_var(f"batch_lot[{k},{lid}]") for lid in problem.lots
           if problem.lots[lid].units > 0}
    max_doses = max((problem.facilities[f].doses_per_batch for f in days), default=0)
    return SlotVars(
        used=used, start=start, release=release, expiry=expiry, facility=facility, lot=lot,
        runs=runs, expires_in_horizon=model.new_bool_var(f"expires_in_horizon[{k}]"),
        doses_expired=model.new_int_var(0, max_doses, f"doses_expired[{k}]"),
    )

"""An independent feasibility checker of plans, written from SCENARIO_FORMAT.md rules 1-8.

It reads the plan JSON and the scenario (domain model only) and shares no code with the
planner: if the model builder gets a rule wrong, this says so. ``check_plan`` returns
every violation as a sentence; an empty list means the plan is feasible.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from chainsight.domain import Scenario, facility_ready_day

DAY = dt.timedelta(days=1)
WEEK = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

PLAN_KEYS = {"format", "trial", "today", "solver", "patients", "batches", "vector_lots",
             "unplanned", "kpis"}
SOLVER_KEYS = {"name", "status", "seconds", "objective", "bound"}
PATIENT_KEYS = {"patient", "site", "enrolled", "apheresis", "facility", "manufacturing_start",
                "manufacturing_end", "vector_lot", "release", "dp_arrival", "infusion", "batch",
                "deviations", "status"}
BATCH_KEYS = {"batch", "facility", "manufacturing_start", "manufacturing_end", "release",
              "expires", "vector_lot", "doses", "doses_used"}
LOT_KEYS = {"lot", "units_used", "units_expiring_unused"}
KPI_KEYS = {"time_to_treatment_days", "vein_to_vein_days", "patients_planned"}


def _d(value: Any) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def format_problems(plan: dict[str, Any]) -> list[str]:
    """Specified fields missing from the plan JSON."""
    out = [f"plan lacks {k}" for k in PLAN_KEYS - plan.keys()]
    if plan.get("format") != "chainsight-plan/1":
        out.append(f"format is {plan.get('format')!r}")
    out += [f"solver lacks {k}" for k in SOLVER_KEYS - plan.get("solver", {}).keys()]
    for p in plan.get("patients", []):
        out += [f"patient {p.get('patient')} lacks {k}" for k in PATIENT_KEYS - p.keys()]
    for b in plan.get("batches", []):
        out += [f"batch {b.get('batch')} lacks {k}" for k in BATCH_KEYS - b.keys()]
    for lot in plan.get("vector_lots", []):
        out += [f"vector_lots entry lacks {k}" for k in LOT_KEYS - lot.keys()]
    for u in plan.get("unplanned", []):
        out += [f"unplanned entry lacks {k}" for k in {"patient", "reason"} - u.keys()]
    kpis = plan.get("kpis", {})
    out += [f"kpis lacks {k}" for k in KPI_KEYS - kpis.keys()]
    if "time_to_treatment_days" in kpis:
        out += [f"kpis.time_to_treatment_days lacks {k}"
                for k in {"mean", "p90"} - kpis["time_to_treatment_days"].keys()]
    if "vein_to_vein_days" in kpis and "median" not in kpis["vein_to_vein_days"]:
        out.append("kpis.vein_to_vein_days lacks median")
    return out


def check_plan(scenario: Scenario, plan: dict[str, Any]) -> list[str]:
    """Every violation of rules 1-8 (and of the plan's own bookkeeping) in a plan."""
    out = format_problems(plan)
    if out:
        return out
    today = scenario.trial.today
    proto = scenario.trial.protocol
    batch_mode = scenario.trial.modality == "batch"
    open_ids = {p.id for p in scenario.patients if p.outcome not in ("infused", "withdrawn")}
    planned = [p["patient"] for p in plan["patients"]]
    unplanned = [u["patient"] for u in plan["unplanned"]]
    if len(set(planned)) != len(planned) or set(planned) & set(unplanned):
        out.append("a patient is listed twice")
    if set(planned) | set(unplanned) != open_ids:
        out.append(f"patients to plan {sorted(open_ids)} but plan covers "
                   f"{sorted(set(planned) | set(unplanned))}")

    def proc(facility: str) -> Any:
        return scenario.process_at(facility)

    runs: list[tuple[str, dt.date, bool]] = []  # facility, start, from history
    lot_use: Counter[str] = Counter()
    aph_count: Counter[tuple[str, dt.date]] = Counter()
    inf_count: Counter[tuple[str, dt.date]] = Counter()
    batches = {b["batch"]: b for b in plan["batches"]}

    for b in plan["batches"]:
        name = f"batch {b['batch']}"
        f = scenario.facility(b["facility"])
        start = _d(b["manufacturing_start"])
        assert start is not None
        pr = proc(f.id)
        out += _start_rules(scenario, name, f.id, start, history=False)
        if _d(b["manufacturing_end"]) != start + pr.manufacturing_days * DAY:
            out.append(f"{name}: manufacturing_end is not start + manufacturing_days")
        release = start + (pr.manufacturing_days + pr.qc_release_days) * DAY
        if _d(b["release"]) != release:
            out.append(f"{name}: release is not start + manufacturing + QC (rule 6)")
        if _d(b["expires"]) != release + pr.dp_shelf_life_days * DAY:
            out.append(f"{name}: expires is not release + dp_shelf_life_days")
        if b["doses"] != pr.doses_per_batch:
            out.append(f"{name}: doses {b['doses']} is not doses_per_batch")
        out += _lot_rule(scenario, name, b["vector_lot"], start, pr.vector_units_per_batch)
        if b["vector_lot"]:
            lot_use[b["vector_lot"]] += pr.vector_units_per_batch
        runs.append((f.id, start, False))
    doses_taken: Counter[str] = Counter()

    for entry in plan["patients"]:
        pid = entry["patient"]
        sp = scenario.patient(pid)
        name = f"patient {pid}"
        site = scenario.site(sp.site)
        if entry["site"] != sp.site or _d(entry["enrolled"]) != sp.enrolled:
            out.append(f"{name}: site or enrolment differs from the scenario")
        keep = sp.outcome != "failed"
        # Rule 8: history is kept.
        for field, value in (("apheresis", sp.apheresis), ("manufacturing_start",
                             sp.manufacturing_start), ("infusion", sp.infusion)):
            if keep and value is not None and _d(entry[field]) != value:
                out.append(f"{name}: {field} {entry[field]} changes history {value} (rule 8)")
        if keep and sp.manufacturing_start is not None:
            if sp.facility is not None and entry["facility"] != sp.facility:
                out.append(f"{name}: facility changes history (rule 8)")
            if sp.vector_lot is not None and entry["vector_lot"] != sp.vector_lot:
                out.append(f"{name}: vector lot changes history (rule 8)")
        run_history = keep and sp.manufacturing_start is not None
        aph_history = keep and sp.apheresis is not None
        infusion = _d(entry["infusion"])
        arrival = _d(entry["dp_arrival"])
        if infusion is None or arrival is None:
            out.append(f"{name}: planned without infusion or arrival")
            continue
        if batch_mode:
            b = batches.get(entry["batch"])
            if b is None:
                out.append(f"{name}: batch {entry['batch']} is not in the plan")
                continue
            doses_taken[b["batch"]] += sp.doses
            lane = scenario.lane_days(b["facility"], sp.site)
            if lane is None:
                out.append(f"{name}: no lane from {b['facility']} to {sp.site}")
                continue
            if arrival != _d(b["release"]) + lane * DAY:  # type: ignore[operator]
                out.append(f"{name}: dp_arrival is not batch release + lane")
            if infusion > _d(b["expires"]):  # type: ignore[operator]
                out.append(f"{name}: infusion after the batch expires")
            if infusion < sp.enrolled or infusion < today:
                out.append(f"{name}: infusion before enrolment or today")
        else:
            facility = entry["facility"]
            aph = _d(entry["apheresis"])
            start = _d(entry["manufacturing_start"])
            if facility is None or aph is None or start is None:
                out.append(f"{name}: chain incomplete")
                continue
            pr = proc(facility)
            # Rule 1.
            if not aph_history:
                aph_cap = site.apheresis
                if aph_cap is None or WEEK[aph.weekday()] not in aph_cap.weekdays:
                    out.append(f"{name}: apheresis {aph} not on an apheresis weekday (rule 1)")
                if aph < sp.enrolled + proto.apheresis_earliest_days * DAY:
                    out.append(f"{name}: apheresis before enrolled + earliest days (rule 1)")
                if aph < today:
                    out.append(f"{name}: apheresis before today (rule 1)")
                if not site.is_active_on(aph, today):
                    out.append(f"{name}: apheresis {aph} before site activation")
            if aph >= today:
                aph_count[(sp.site, aph)] += 1
            # Rule 2.
            if not run_history:
                lane_in = scenario.lane_days(sp.site, facility)
                if lane_in is None:
                    out.append(f"{name}: no lane {sp.site} -> {facility} (rule 2)")
                elif start < aph + lane_in * DAY:
                    out.append(f"{name}: start {start} before apheresis + lane (rule 2)")
                if proto.material == "fresh" and start > aph + proto.fresh_max_days_to_start * DAY:
                    out.append(f"{name}: fresh material waits too long for its start (rule 2)")
                # Rules 3 and 5.
                out += _start_rules(scenario, name, facility, start, history=False)
                out += _lot_rule(scenario, name, entry["vector_lot"], start,
                                 pr.vector_units_per_batch)
            if start >= today and entry["vector_lot"]:
                lot_use[entry["vector_lot"]] += pr.vector_units_per_batch
            runs.append((facility, start, run_history))
            # Rule 6.
            if _d(entry["manufacturing_end"]) != start + pr.manufacturing_days * DAY:
                out.append(f"{name}: manufacturing_end is not start + manufacturing_days")
            release = start + (pr.manufacturing_days + pr.qc_release_days) * DAY
            if _d(entry["release"]) != release:
                out.append(f"{name}: release is not start + manufacturing + QC (rule 6)")
            lane_out = scenario.lane_days(facility, sp.site)
            if lane_out is None or arrival != release + lane_out * DAY:
                out.append(f"{name}: dp_arrival is not release + lane (rule 6)")
            if infusion > release + pr.dp_shelf_life_days * DAY:
                out.append(f"{name}: infusion after the DP shelf life (rule 7)")
        # Rule 7.
        inf_history = keep and sp.infusion is not None
        if not inf_history:
            if infusion < arrival:
                out.append(f"{name}: infusion {infusion} before DP arrival {arrival} (rule 7)")
            if WEEK[infusion.weekday()] not in site.infusion.weekdays:
                out.append(f"{name}: infusion {infusion} not on an infusion weekday (rule 7)")
            if infusion < today:
                out.append(f"{name}: infusion before today")
        if infusion >= today:
            inf_count[(sp.site, infusion)] += 1
        # Soft windows: deviations listed where windows are exceeded.
        listed = {d["window"]: d["days"] for d in entry["deviations"]}
        expected: dict[str, int] = {}
        if not batch_mode and entry["apheresis"] is not None:
            late = (_d(entry["apheresis"]) - sp.enrolled).days - proto.apheresis_latest_days  # type: ignore[operator]
            if late > 0:
                expected["apheresis_latest_days"] = late
        # The infusion window counts from arrival (batch: from enrolment if that is later,
        # since a batch made before the patient enrolled was not waiting for them).
        window_start = max(arrival, sp.enrolled) if batch_mode else arrival
        late = (infusion - window_start).days - proto.infusion_latest_days_after_arrival
        if late > 0:
            expected["infusion_latest_days_after_arrival"] = late
        for window, days in expected.items():
            if listed.get(window) != days:
                out.append(f"{name}: {window} exceeded by {days} days but listed as "
                           f"{listed.get(window)}")
        for window in listed.keys() - expected.keys():
            out.append(f"{name}: deviation {window} listed but the window holds")

    for (site_id, day), n in aph_count.items():
        cap = scenario.site(site_id).apheresis
        if n > (cap.per_day if cap else 0):
            out.append(f"site {site_id}: {n} apheresis on {day} (rule 1 per_day)")
    for (site_id, day), n in inf_count.items():
        if n > scenario.site(site_id).infusion.per_day:
            out.append(f"site {site_id}: {n} infusions on {day} (rule 7 per_day)")
    for lot_id, used in lot_use.items():
        if used > scenario.lot(lot_id).units:
            out.append(f"lot {lot_id}: {used} units used, {scenario.lot(lot_id).units} on hand "
                       "(rule 5)")
    for b in plan["batches"]:
        if doses_taken[b["batch"]] != b["doses_used"] or b["doses_used"] > b["doses"]:
            out.append(f"batch {b['batch']}: doses_used {b['doses_used']} but patients take "
                       f"{doses_taken[b['batch']]} of {b['doses']}")
    out += _suite_rule(scenario, runs)
    return out


def _start_rules(scenario: Scenario, name: str, facility: str, start: dt.date,
                 history: bool) -> list[str]:
    out = []
    f = scenario.facility(facility)
    if WEEK[start.weekday()] not in f.start_weekdays:
        out.append(f"{name}: start {start} not on a start weekday of {facility} (rule 3)")
    ready = facility_ready_day(scenario, facility)
    if ready is None or start < ready:
        out.append(f"{name}: start {start} before {facility} is ready ({ready}) (rule 3)")
    if start < scenario.trial.today:
        out.append(f"{name}: start {start} before today")
    return out


def _lot_rule(scenario: Scenario, name: str, lot_id: str | None, start: dt.date,
              units: int) -> list[str]:
    if lot_id is None:
        return [f"{name}: no vector lot"] if scenario.vector.lots and units > 0 else []
    lot = scenario.lot(lot_id)
    if not lot.released <= start <= lot.effective_expiry:
        return [f"{name}: start {start} outside lot {lot_id} window "
                f"{lot.released}..{lot.effective_expiry} (rule 5)"]
    return []


def _suite_rule(scenario: Scenario, runs: list[tuple[str, dt.date, bool]]) -> list[str]:
    out = []
    today = scenario.trial.today
    by_day: Counter[tuple[str, dt.date]] = Counter()
    new_on: set[tuple[str, dt.date]] = set()
    for facility, start, history in runs:
        days = scenario.process_at(facility).manufacturing_days
        for i in range(days):
            day = start + i * DAY
            if day >= today:
                by_day[(facility, day)] += 1
                if not history:
                    new_on.add((facility, day))
    for (facility, day), n in sorted(by_day.items()):
        free = scenario.facility(facility).suites - scenario.facility(facility).suites_reserved(day)
        if n > free and (facility, day) in new_on:
            out.append(f"{facility}: {n} runs on {day}, {max(free, 0)} suites free (rule 4)")
    return out

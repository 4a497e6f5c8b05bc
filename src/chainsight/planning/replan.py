"""Re-planning after an event, changing as little as possible.

An event (a run failed, a site moved an apheresis, a shipment is late, suites are out of
service, an extension is granted or refused, a lot is quarantined, a patient enrols or
withdraws) is applied to the scenario; bookings of the previous plan whose chain starts
inside the freeze window are kept exactly, unless the event breaks them (they no longer
fit); in the batch modality, so are batches starting inside the window and dosings
inside it from them. Every other previously planned date may move, at a cost per date
moved. The result names every change and whom it concerns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from chainsight.domain import Scenario, parse_scenario, scenario_data
from chainsight.planning.cpsat import solve as cpsat_solve
from chainsight.planning.data import PatientData, Problem, build_problem
from chainsight.planning.fcfs import (
    Capacity,
    batch_schedule_with,
    book_patient,
    enrolment_order,
    pick_lot,
    take,
)
from chainsight.planning.objective import SCALE, evaluate
from chainsight.planning.plan import Plan, SolverInfo, build_plan
from chainsight.planning.schedule import BatchRun, Booking, Schedule

DEFAULT_FREEZE_DAYS = 14
DEFAULT_MOVE_WEIGHT = 5.0
DEFAULT_REPLAN_TIME_LIMIT = 1.0


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunFailed(_Event):
    """A manufacturing run failed or is out of specification: a new apheresis is needed."""

    kind: Literal["run_failed"]
    patient: str


class ApheresisRescheduled(_Event):
    """The site moved a patient's apheresis to ``not_before`` or later; its slot is free."""

    kind: Literal["apheresis_rescheduled"]
    patient: str
    not_before: dt.date


class ShipmentDelayed(_Event):
    """A patient's drug product arrives ``days`` later than planned."""

    kind: Literal["shipment_delayed"]
    patient: str
    days: int = Field(ge=1)


class SuitesOutOfService(_Event):
    """Suites of a facility cannot run from ``start`` to ``end`` (both included)."""

    kind: Literal["suites_out_of_service"]
    facility: str
    start: dt.date
    end: dt.date
    suites: int = Field(ge=1)
    label: str = "out of service"


class ExtensionGranted(_Event):
    """A lot's shelf-life extension was granted."""

    kind: Literal["extension_granted"]
    lot: str


class ExtensionRefused(_Event):
    """A lot's shelf-life extension was refused."""

    kind: Literal["extension_refused"]
    lot: str


class LotQuarantined(_Event):
    """A lot may no longer be used."""

    kind: Literal["lot_quarantined"]
    lot: str


class PatientEnrolled(_Event):
    """A new patient enrolled."""

    kind: Literal["patient_enrolled"]
    patient: str
    site: str
    enrolled: dt.date
    priority: float = Field(default=1.0, gt=0)
    doses: int = Field(default=1, ge=1)


class PatientWithdrawn(_Event):
    """A patient left the trial."""

    kind: Literal["patient_withdrawn"]
    patient: str


Event = Annotated[
    RunFailed | ApheresisRescheduled | ShipmentDelayed | SuitesOutOfService | ExtensionGranted
    | ExtensionRefused | LotQuarantined | PatientEnrolled | PatientWithdrawn,
    Field(discriminator="kind"),
]
EVENT_KINDS = ("run_failed", "apheresis_rescheduled", "shipment_delayed",
               "suites_out_of_service", "extension_granted", "extension_refused",
               "lot_quarantined", "patient_enrolled", "patient_withdrawn")
_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


class EventInvalid(ValueError):
    """An event that cannot be applied; the message names the field."""


def parse_event(data: Any) -> Event:
    """A checked event from plain data; EventInvalid names each bad field."""
    if not isinstance(data, dict):
        raise EventInvalid("event: must be a mapping with a 'kind'")
    if data.get("kind") not in EVENT_KINDS:
        raise EventInvalid(f"event.kind: {data.get('kind')!r} is not one of "
                           + ", ".join(EVENT_KINDS))
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as error:
        parts = []
        for e in error.errors():
            loc = ".".join(str(x) for x in e["loc"][1:])  # drop the union tag
            parts.append(f"event.{loc}: {e['msg']}")
        raise EventInvalid("; ".join(parts)) from None


class Change(BaseModel):
    """One date or choice of one patient that differs from the previous plan."""

    model_config = ConfigDict(extra="forbid")

    patient: str
    field: str
    before: str | None
    after: str | None


class Replan(BaseModel):
    """A re-plan: the new plan, what changed, and what the freeze window kept."""

    model_config = ConfigDict(extra="forbid")

    event: dict[str, Any]
    plan: Plan
    changes: list[Change]
    frozen: list[str]
    broken: list[str]
    move_cost: float

    def to_json(self) -> dict[str, Any]:
        """The re-plan as JSON-compatible data."""
        return self.model_dump(mode="json")


def _patient_entry(data: dict[str, Any], patient_id: str, what: str) -> dict[str, Any]:
    for p in data["patients"]:
        if p["id"] == patient_id:
            if p.get("outcome") in ("infused", "withdrawn"):
                raise EventInvalid(f"event.patient: {patient_id} is {p['outcome']}; {what}")
            return p  # type: ignore[no-any-return]
    raise EventInvalid(f"event.patient: no patient {patient_id!r} in the scenario")


def _lot_entry(data: dict[str, Any], lot_id: str) -> dict[str, Any]:
    for lot in data["vector"]["lots"]:
        if lot["id"] == lot_id:
            return lot  # type: ignore[no-any-return]
    raise EventInvalid(f"event.lot: no lot {lot_id!r} in the scenario")


def apply_event(scenario: Scenario, previous: Plan, event: Event
                ) -> tuple[Scenario, dict[str, dict[str, dt.date]], set[str]]:
    """The scenario after the event, per-patient bounds it sets, patients it breaks."""
    data = scenario_data(scenario)
    bounds: dict[str, dict[str, dt.date]] = {}
    broken: set[str] = set()
    if isinstance(event, RunFailed):
        p = _patient_entry(data, event.patient, "no run to fail")
        if p.get("manufacturing_start") is None:
            raise EventInvalid(f"event.patient: {event.patient} has no manufacturing run yet")
        p["outcome"] = "failed"
        broken.add(event.patient)
    elif isinstance(event, ApheresisRescheduled):
        p = _patient_entry(data, event.patient, "nothing to reschedule")
        if p.get("apheresis") is not None:
            raise EventInvalid(f"event.patient: {event.patient}'s apheresis already happened")
        if event.not_before < scenario.today:
            raise EventInvalid(f"event.not_before: {event.not_before} is before today")
        bounds[event.patient] = {"apheresis": event.not_before}
        broken.add(event.patient)
    elif isinstance(event, ShipmentDelayed):
        _patient_entry(data, event.patient, "nothing is shipped")
        try:
            entry = previous.patient(event.patient)
        except KeyError:
            raise EventInvalid(f"event.patient: {event.patient} has no shipment in the "
                               "previous plan") from None
        assert entry.dp_arrival is not None
        bounds[event.patient] = {"infusion": entry.dp_arrival + dt.timedelta(days=event.days)}
        broken.add(event.patient)
    elif isinstance(event, SuitesOutOfService):
        facility = next((f for f in data["facilities"] if f["id"] == event.facility), None)
        if facility is None:
            raise EventInvalid(f"event.facility: no facility {event.facility!r}")
        if event.end < event.start:
            raise EventInvalid(f"event.end: {event.end} is before start {event.start}")
        facility["reservations"].append({"suites": event.suites, "start": event.start.isoformat(),
                                         "end": event.end.isoformat(), "label": event.label})
    elif isinstance(event, ExtensionGranted | ExtensionRefused):
        lot = _lot_entry(data, event.lot)
        if lot.get("extension") is None:
            raise EventInvalid(f"event.lot: lot {event.lot} has no extension pending")
        lot["extension"]["status"] = "granted" if isinstance(event, ExtensionGranted) \
            else "refused"
    elif isinstance(event, LotQuarantined):
        _lot_entry(data, event.lot)["units"] = 0
    elif isinstance(event, PatientEnrolled):
        if any(p["id"] == event.patient for p in data["patients"]):
            raise EventInvalid(f"event.patient: {event.patient} is already enrolled")
        if not any(s["id"] == event.site for s in data["sites"]):
            raise EventInvalid(f"event.site: no site {event.site!r}")
        data["patients"].append({"id": event.patient, "site": event.site,
                                 "enrolled": event.enrolled.isoformat(),
                                 "priority": event.priority, "doses": event.doses})
    elif isinstance(event, PatientWithdrawn):
        _patient_entry(data, event.patient, "already out")["outcome"] = "withdrawn"
    return parse_scenario(data), bounds, broken


def schedule_from_plan(problem: Problem, plan: Plan) -> Schedule:
    """The previous plan as a schedule of the (new) problem's patients."""
    schedule = Schedule()
    off = problem.to_offset
    names: dict[str, int] = {}
    for b in plan.batches:
        names[b.batch] = len(schedule.batches)
        schedule.batches.append(BatchRun(b.facility, off(b.manufacturing_start), b.vector_lot))
    ids = {p.id for p in problem.patients}
    for e in plan.patients:
        if e.patient not in ids or e.infusion is None:
            continue
        schedule.bookings[e.patient] = Booking(
            e.patient,
            off(e.apheresis) if e.apheresis is not None else None,
            e.facility if e.batch is None else None,
            off(e.manufacturing_start) if e.manufacturing_start is not None and e.batch is None
            else None,
            e.vector_lot if e.batch is None else None,
            off(e.infusion),
            batch=names.get(e.batch) if e.batch is not None else None,
        )
    return schedule


def _first_planned_day(p: PatientData, b: Booking) -> int:
    if p.stage == "manufactured":
        return b.infusion
    if p.stage == "collected" and b.start is not None:
        return b.start
    return b.apheresis if b.apheresis is not None else b.infusion


def _fits(problem: Problem, cap: Capacity, p: PatientData, b: Booking) -> bool:
    """Whether a kept booking is still feasible against the new problem and capacity."""
    site = problem.sites[p.site]
    if p.reason is not None:
        return False
    if p.infusion_not_before is not None and b.infusion < p.infusion_not_before:
        return False
    if problem.weekday(b.infusion) not in site.infusion_weekdays \
            or not cap.infusion_free(p.site, b.infusion):
        return False
    if p.stage == "manufactured":
        return True
    if b.facility is None or b.start is None or b.apheresis is None \
            or b.facility not in p.facilities:
        return False
    fac = problem.facilities[b.facility]
    if p.apheresis is None and (
            b.apheresis < problem.apheresis_first(p)
            or problem.weekday(b.apheresis) not in site.apheresis_weekdays
            or not cap.apheresis_free(p.site, b.apheresis)):
        return False
    if not _run_fits(problem, cap, b.facility, b.start, b.lot, p.lots):
        return False
    release = b.start + fac.release_lag
    lane = problem.lane(b.facility, p.site)
    return lane is not None and release + lane <= b.infusion <= release + fac.dp_shelf_life_days


def _repair_autologous(problem: Problem, prev: Schedule, freeze_days: int,
                       broken: set[str]) -> tuple[dict[str, Booking], Schedule]:
    """Autologous: the bookings kept in the freeze window, and the repaired baseline."""
    by_id = {p.id: p for p in problem.patients}
    cap = Capacity.empty(problem)
    fixed: dict[str, Booking] = {}
    window = sorted((b for pid, b in prev.bookings.items()
                     if _first_planned_day(by_id[pid], b) < freeze_days),
                    key=lambda b: (_first_planned_day(by_id[b.patient], b), b.patient))
    for b in window:
        p = by_id[b.patient]
        if _fits(problem, cap, p, b):
            _take_booking(problem, cap, p, b)
            fixed[b.patient] = b
        else:
            broken.add(b.patient)
    baseline = Schedule(bookings=dict(fixed))
    rest = sorted((b for pid, b in prev.bookings.items() if pid not in fixed),
                  key=lambda b: (_first_planned_day(by_id[b.patient], b), b.patient))
    for b in rest:
        p = by_id[b.patient]
        if _fits(problem, cap, p, b):
            _take_booking(problem, cap, p, b)
            baseline.bookings[b.patient] = b
    for p in enrolment_order(problem):
        if p.id in baseline.bookings:
            continue
        booking = book_patient(problem, cap, p)
        if booking is not None:
            baseline.bookings[p.id] = booking
    return fixed, baseline


def _keep_batch_window(problem: Problem, prev: Schedule, freeze_days: int,
                       broken: set[str]) -> Schedule:
    """Batch modality: previous batches starting inside the freeze window, and dosings
    inside it from those batches, that still fit (batches renumbered from 0). Patients
    whose kept dosing no longer fits join ``broken``."""
    cap = Capacity.empty(problem)
    kept = Schedule()
    renumbered: dict[int, int] = {}
    doses_left: list[int] = []
    for i in sorted(range(len(prev.batches)), key=lambda i: (prev.batches[i].start, i)):
        run = prev.batches[i]
        fac = problem.facilities.get(run.facility)
        if run.start >= freeze_days or fac is None:
            continue
        if not _run_fits(problem, cap, run.facility, run.start, run.lot, problem.lots):
            continue
        cap.take_batch(run)
        renumbered[i] = len(kept.batches)
        kept.batches.append(run)
        doses_left.append(fac.doses_per_batch)
    for b in sorted(prev.bookings.values(), key=lambda b: (b.infusion, b.patient)):
        if b.batch is None or b.infusion >= freeze_days:
            continue
        p = problem.patient(b.patient)
        k = renumbered.get(b.batch)
        if k is None or not _dosing_fits(problem, cap, p, kept.batches[k], b.infusion,
                                         doses_left[k]):
            broken.add(p.id)
            continue
        doses_left[k] -= p.doses
        cap.book_day(cap.infusion, p.site, b.infusion)
        kept.bookings[p.id] = replace(b, batch=k)
    return kept


def _dosing_fits(problem: Problem, cap: Capacity, p: PatientData, run: BatchRun,
                 infusion: int, doses_left: int) -> bool:
    """Whether a kept dosing from a kept batch still holds against the new problem."""
    site = problem.sites[p.site]
    fac = problem.facilities[run.facility]
    lane = problem.lane(run.facility, p.site)
    if p.reason is not None or lane is None or run.facility not in p.facilities \
            or p.doses > doses_left or fac.doses_per_batch < p.doses:
        return False
    release = run.start + fac.release_lag
    first = max(release + lane, problem.infusion_first(p), p.infusion_not_before or 0)
    return (first <= infusion <= release + fac.dp_shelf_life_days
            and problem.weekday(infusion) in site.infusion_weekdays
            and cap.infusion_free(p.site, infusion))


def _run_fits(problem: Problem, cap: Capacity, facility: str, start: int, lot: str | None,
              candidates: Collection[str]) -> bool:
    """Whether a kept run or batch still fits: a start day of its facility once ready, a
    free suite throughout, and a lot among ``candidates`` valid then with units left (or
    no lot where the process needs no vector)."""
    fac = problem.facilities[facility]
    if problem.weekday(start) not in fac.start_weekdays or fac.ready is None \
            or start < fac.ready \
            or cap.suite_free_until(facility, start, fac.manufacturing_days) is not None:
        return False
    if lot is None:
        return pick_lot(problem, cap, (), start, fac.units_per_batch)[0]
    return (lot in candidates and problem.lot_usable(lot, start)
            and cap.units[lot] >= fac.units_per_batch)


def _take_booking(problem: Problem, cap: Capacity, p: PatientData, b: Booking) -> None:
    if p.apheresis is None and b.apheresis is not None and p.stage != "manufactured":
        cap.book_day(cap.apheresis, p.site, b.apheresis)
    if p.stage == "manufactured":
        if p.infusion is None:
            cap.book_day(cap.infusion, p.site, b.infusion)
    else:
        take(problem, cap, b)


def move_cost(problem: Problem, previous: Schedule, schedule: Schedule, weight: float) -> float:
    """Previously planned dates that moved, times ``weight``."""
    total = 0
    for pid, old in previous.bookings.items():
        new = schedule.bookings.get(pid)
        if new is None:
            continue
        total += new.infusion != old.infusion
        if problem.is_batch:
            continue
        for a, b in ((new.apheresis, old.apheresis), (new.start, old.start)):
            if a is not None and b is not None:
                total += a != b
    return total * weight


def replan(scenario: Scenario, previous: Plan, event: Event | dict[str, Any], *,
           freeze_days: int = DEFAULT_FREEZE_DAYS, move_weight: float = DEFAULT_MOVE_WEIGHT,
           time_limit: float = DEFAULT_REPLAN_TIME_LIMIT, workers: int = 2, seed: int = 0
           ) -> tuple[Scenario, Plan, list[Change]]:
    """Apply an event and repair the plan; see :func:`replan_detail` for the full record."""
    result = replan_detail(scenario, previous, event, freeze_days=freeze_days,
                           move_weight=move_weight, time_limit=time_limit, workers=workers,
                           seed=seed)
    new_scenario = result[0]
    return new_scenario, result[1].plan, result[1].changes


def replan_detail(scenario: Scenario, previous: Plan, event: Event | dict[str, Any], *,
                  freeze_days: int = DEFAULT_FREEZE_DAYS,
                  move_weight: float = DEFAULT_MOVE_WEIGHT,
                  time_limit: float = DEFAULT_REPLAN_TIME_LIMIT, workers: int = 2,
                  seed: int = 0) -> tuple[Scenario, Replan]:
    """Apply an event and repair the plan, keeping the freeze window (see module doc)."""
    if freeze_days < 0:
        raise EventInvalid(f"freeze_days: must be >= 0, not {freeze_days}")
    ev = parse_event(event) if isinstance(event, dict) else event
    new_scenario, bounds, broken = apply_event(scenario, previous, ev)
    problem = build_problem(new_scenario)
    for i, p in enumerate(problem.patients):
        if p.id in bounds:
            bound = bounds[p.id]
            problem.patients[i] = replace(
                p,
                apheresis_not_before=problem.to_offset(bound["apheresis"])
                if "apheresis" in bound else None,
                infusion_not_before=problem.to_offset(bound["infusion"])
                if "infusion" in bound else None)
    prev = schedule_from_plan(problem, previous)
    prev.bookings = {k: v for k, v in prev.bookings.items() if k not in broken}

    # Keep what starts inside the freeze window, in start order, while it still fits.
    # Then the repaired baseline: kept bookings, the rest of the previous plan where it
    # still fits, then first come first served for whoever lost their booking.
    if problem.is_batch:
        kept = _keep_batch_window(problem, prev, freeze_days, broken)
        fixed = dict(kept.bookings)
        kept_batches = range(len(kept.batches))
        baseline = batch_schedule_with(problem, kept, enrolment_order(problem))
    else:
        fixed, baseline = _repair_autologous(problem, prev, freeze_days, broken)
        kept_batches = range(0)
    free_prev = {k: v for k, v in prev.bookings.items() if k not in fixed}
    weight = round(move_weight * SCALE)
    # Whoever the repaired plan treats stays treated: a re-plan moves dates, it does not
    # take a patient's treatment away to give it to another.
    result = cpsat_solve(problem, hint=baseline, min_planned=len(baseline.bookings),
                         time_limit=time_limit, workers=workers, seed=seed, fixed=fixed,
                         previous=free_prev, move_weight=weight, kept_batches=kept_batches,
                         required=frozenset(baseline.bookings))
    base_total = evaluate(problem, baseline).total + move_cost(problem, prev, baseline,
                                                                move_weight)
    schedule, fallback = baseline, "fcfs"
    if result.schedule is not None:
        total = evaluate(problem, result.schedule).total \
            + move_cost(problem, prev, result.schedule, move_weight)
        keeps_everyone = baseline.bookings.keys() <= result.schedule.bookings.keys()
        if total <= base_total + 1e-9 and keeps_everyone:
            schedule, fallback = result.schedule, ""
    info = SolverInfo(name="cp-sat", status=result.status, seconds=round(result.seconds, 3),
                      objective=evaluate(problem, schedule).total, bound=None,
                      policy="replan", fallback=fallback or None,
                      first_solution_seconds=result.first_solution_seconds)
    parameters = {"policy": "replan", "event": ev.kind, "freeze_days": freeze_days,
                  "move_weight": move_weight, "time_limit": time_limit, "workers": workers,
                  "seed": seed}
    new_plan = build_plan(new_scenario, problem, schedule, info, parameters)
    changes = diff_plans(previous, new_plan)
    record = Replan(event=ev.model_dump(mode="json"), plan=new_plan, changes=changes,
                    frozen=sorted(fixed), broken=sorted(broken),
                    move_cost=move_cost(problem, prev, schedule, move_weight))
    return new_scenario, record


_FIELDS = ("apheresis", "facility", "manufacturing_start", "vector_lot", "infusion", "batch")


def diff_plans(before: Plan, after: Plan) -> list[Change]:
    """Every patient-level difference between two plans."""
    old = {p.patient: p for p in before.patients}
    new = {p.patient: p for p in after.patients}
    old_un = {u.patient for u in before.unplanned}
    new_un = {u.patient for u in after.unplanned}
    changes: list[Change] = []
    for pid in sorted(set(old) | set(new) | old_un | new_un):
        a, b = old.get(pid), new.get(pid)
        status_a = "planned" if a else ("unplanned" if pid in old_un else None)
        status_b = "planned" if b else ("unplanned" if pid in new_un else None)
        if status_a != status_b:
            changes.append(Change(patient=pid, field="status", before=status_a, after=status_b))
        if a is None or b is None:
            continue
        for f in _FIELDS:
            va, vb = getattr(a, f), getattr(b, f)
            if va != vb:
                changes.append(Change(patient=pid, field=f,
                                      before=None if va is None else str(va),
                                      after=None if vb is None else str(vb)))
    return changes

"""A scenario as solver-neutral planning data, in whole days counted from ``today``.

This is the one border where dates become day offsets (and back): every solver and the
FCFS baseline work on :class:`Problem`, never on the scenario's dates. Facts that do not
depend on the plan (a facility's ready day, the suites other clients hold, a lot's
valid window, what each patient still needs) are derived here once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property

from chainsight.domain import Patient, Scenario, facility_ready_day
from chainsight.domain.common import weekday_numbers

_DAY = dt.timedelta(days=1)

# Days after the horizon that infusions may still fall on: a run started on the last
# planning day still needs its QC release, its lane and an infusion day.
_TAIL_MARGIN_DAYS = 14

Stage = str
"""What a patient still needs: ``new`` (everything), ``collected`` (apheresis is history),
``manufactured`` (the run is history: infusion only)."""


@dataclass(frozen=True)
class SiteData:
    """A site's calendar in offsets: when it is active and its procedure capacity."""

    id: str
    active_from: int | None
    active_date: dt.date
    apheresis_weekdays: frozenset[int]
    apheresis_per_day: int
    infusion_weekdays: frozenset[int]
    infusion_per_day: int


@dataclass(frozen=True)
class FacilityData:
    """A drug product facility: suites, calendar, process and the suites not ours."""

    id: str
    suites: int
    start_weekdays: frozenset[int]
    ready: int | None
    ready_date: dt.date | None
    manufacturing_days: int
    qc_release_days: int
    dp_shelf_life_days: int
    units_per_batch: int
    doses_per_batch: int
    held: tuple[int, ...]
    """Suites held on each day 0..last_day by reservations and runs already started,
    clipped to ``suites`` so that the model stays feasible even with inconsistent data."""

    @property
    def release_lag(self) -> int:
        """Days from manufacturing start to release."""
        return self.manufacturing_days + self.qc_release_days

    def free(self, day: int) -> int:
        """Suites this trial may still use on ``day``."""
        if 0 <= day < len(self.held):
            return self.suites - self.held[day]
        return self.suites


@dataclass(frozen=True)
class LotData:
    """A vector lot: units left for the plan and the start days it is valid for."""

    id: str
    units: int
    first: int
    last: int
    expires_in_horizon: bool
    released_date: dt.date
    expiry_date: dt.date


@dataclass(frozen=True)
class PatientData:
    """A patient still to plan, with the history the plan must keep."""

    id: str
    site: str
    enrolled: int
    priority: float
    doses: int
    stage: Stage
    apheresis: int | None = None
    facility: str | None = None
    start: int | None = None
    lot: str | None = None
    infusion: int | None = None
    facilities: tuple[str, ...] = ()
    lots: tuple[str, ...] = ()
    reason: str | None = None
    """Why the patient cannot be planned whatever the others do (None if it may be)."""
    apheresis_not_before: int | None = None
    """Re-planning: the site moved the apheresis to this day or later."""
    infusion_not_before: int | None = None
    """Re-planning: a delayed shipment arrives no earlier than this day."""


@dataclass(frozen=True)
class Problem:
    """Everything a planner needs, in day offsets from ``today`` (day 0)."""

    trial: str
    today: dt.date
    modality: str
    horizon: int
    last_day: int
    apheresis_earliest_days: int
    apheresis_latest_days: int
    fresh: bool
    fresh_max_days_to_start: int
    infusion_latest_days_after_arrival: int
    sites: dict[str, SiteData]
    facilities: dict[str, FacilityData]
    lots: dict[str, LotData]
    lanes: dict[tuple[str, str], int]
    patients: list[PatientData]
    weights: dict[str, float]
    apheresis_history: dict[str, dict[int, int]] = field(default_factory=dict)
    infusion_history: dict[str, dict[int, int]] = field(default_factory=dict)

    # ---- the one date border ----
    def to_date(self, offset: int) -> dt.date:
        """The calendar date of a day offset."""
        return self.today + offset * _DAY

    def to_offset(self, day: dt.date) -> int:
        """The day offset of a calendar date."""
        return (day - self.today).days

    @cached_property
    def _weekday0(self) -> int:
        return self.today.weekday()

    def weekday(self, offset: int) -> int:
        """Weekday number (Mon = 0) of a day offset."""
        return (self._weekday0 + offset) % 7

    def days_on(self, weekdays: frozenset[int], first: int, last: int) -> list[int]:
        """Offsets in [first, last] that fall on one of ``weekdays``."""
        return list(self.iter_days_on(weekdays, first, last))

    def iter_days_on(self, weekdays: frozenset[int], first: int, last: int) -> Iterator[int]:
        """Offsets in [first, last] that fall on one of ``weekdays``, lazily."""
        w0 = self._weekday0
        return (d for d in range(max(first, 0), last + 1) if (w0 + d) % 7 in weekdays)

    def patient(self, patient_id: str) -> PatientData:
        """The patient with this id (KeyError if none).

        Positions are cached; a patient replaced in place keeps its position, and any
        other change to the list is caught by the id check and rebuilds the cache.
        """
        index: dict[str, int] | None = self.__dict__.get("_positions")
        at = index.get(patient_id) if index is not None else None
        if at is None or at >= len(self.patients) or self.patients[at].id != patient_id:
            index = {p.id: i for i, p in enumerate(self.patients)}
            self.__dict__["_positions"] = index
            at = index.get(patient_id)
            if at is None:
                raise KeyError(patient_id)
        return self.patients[at]

    @property
    def is_batch(self) -> bool:
        """Whether the plan makes multi-dose batches rather than one run per patient."""
        return self.modality == "batch"

    def apheresis_first(self, p: PatientData) -> int:
        """Earliest apheresis offset for a patient without one (rule 1, site activation)."""
        site = self.sites[p.site]
        first = max(0, p.enrolled + self.apheresis_earliest_days, p.apheresis_not_before or 0)
        return max(first, site.active_from) if site.active_from is not None else first

    def apheresis_due(self, p: PatientData) -> int:
        """Last apheresis offset inside the protocol window (soft)."""
        return p.enrolled + self.apheresis_latest_days

    def infusion_first(self, p: PatientData) -> int:
        """Earliest infusion offset ignoring the product (batch: enrolment and activation)."""
        site = self.sites[p.site]
        first = max(0, p.enrolled)
        return max(first, site.active_from) if site.active_from is not None else first

    def lane(self, origin: str, destination: str) -> int | None:
        """Lane days, None if there is no lane."""
        return self.lanes.get((origin, destination))

    def lot_usable(self, lot_id: str, start: int) -> bool:
        """Whether a run starting on ``start`` may use the lot (rule 5, window only)."""
        lot = self.lots[lot_id]
        return lot.first <= start <= lot.last


def build_problem(scenario: Scenario) -> Problem:
    """Derive the planning data of a scenario (see the module docstring)."""
    today = scenario.today
    horizon = scenario.trial.horizon_days
    protocol = scenario.trial.protocol

    def off(day: dt.date) -> int:
        return (day - today).days

    facilities_raw = scenario.dp_facilities
    max_lag = max(
        (scenario.process_at(f.id).manufacturing_days + scenario.process_at(f.id).qc_release_days
         for f in facilities_raw), default=0)
    max_lane = max((lane.days for lane in scenario.lanes), default=0)
    last_day = horizon + max_lag + max_lane + protocol.infusion_latest_days_after_arrival \
        + _TAIL_MARGIN_DAYS

    sites: dict[str, SiteData] = {}
    for s in scenario.sites:
        active = s.activation.actual if s.activation.actual is not None \
            else max(s.activation.planned, today)
        a_off = off(active)
        aph = s.apheresis
        sites[s.id] = SiteData(
            id=s.id,
            active_from=max(0, a_off) if a_off <= horizon else None,
            active_date=active,
            apheresis_weekdays=weekday_numbers(list(aph.weekdays)) if aph else frozenset(),
            apheresis_per_day=aph.per_day if aph else 0,
            infusion_weekdays=weekday_numbers(list(s.infusion.weekdays)),
            infusion_per_day=s.infusion.per_day,
        )

    # Runs already started occupy suites; runs booked for a later day occupy them too.
    history_runs: dict[str, list[tuple[int, int]]] = {f.id: [] for f in facilities_raw}
    units_booked: dict[str, int] = {}
    aph_hist: dict[str, dict[int, int]] = {}
    inf_hist: dict[str, dict[int, int]] = {}
    for p in scenario.patients:
        if p.outcome == "withdrawn":
            continue
        if p.outcome != "failed" and p.manufacturing_start is not None and p.facility:
            start = off(p.manufacturing_start)
            if p.facility in history_runs:
                mdays = scenario.process_at(p.facility).manufacturing_days
                history_runs[p.facility].append((start, start + mdays))
                units = scenario.process_at(p.facility).vector_units_per_batch
                if start >= 0 and p.vector_lot:
                    units_booked[p.vector_lot] = units_booked.get(p.vector_lot, 0) + units
        if p.outcome not in ("failed", "infused") and p.apheresis is not None \
                and off(p.apheresis) >= 0:
            per_day = aph_hist.setdefault(p.site, {})
            per_day[off(p.apheresis)] = per_day.get(off(p.apheresis), 0) + 1
        if p.infusion is not None and off(p.infusion) >= 0:
            per_day = inf_hist.setdefault(p.site, {})
            per_day[off(p.infusion)] = per_day.get(off(p.infusion), 0) + 1

    facilities: dict[str, FacilityData] = {}
    for f in facilities_raw:
        proc = scenario.process_at(f.id)
        ready_date = facility_ready_day(scenario, f.id)
        ready = None
        if ready_date is not None and off(ready_date) <= horizon:
            ready = max(0, off(ready_date))
        held = []
        for d in range(last_day + 1):
            day = today + d * _DAY
            busy = f.suites_reserved(day) + sum(1 for a, b in history_runs[f.id] if a <= d < b)
            held.append(min(f.suites, busy))
        facilities[f.id] = FacilityData(
            id=f.id, suites=f.suites, start_weekdays=weekday_numbers(list(f.start_weekdays)),
            ready=ready, ready_date=ready_date, manufacturing_days=proc.manufacturing_days,
            qc_release_days=proc.qc_release_days, dp_shelf_life_days=proc.dp_shelf_life_days,
            units_per_batch=proc.vector_units_per_batch, doses_per_batch=proc.doses_per_batch,
            held=tuple(held),
        )

    lots: dict[str, LotData] = {}
    for lot in scenario.vector.lots:
        first, last = lot.valid_window()
        lots[lot.id] = LotData(
            id=lot.id, units=max(0, lot.units - units_booked.get(lot.id, 0)),
            first=off(first), last=off(last), expires_in_horizon=off(last) <= horizon,
            released_date=first, expiry_date=last,
        )

    lanes = {(lane.from_, lane.to): lane.days for lane in scenario.lanes}
    weights = scenario.objective.model_dump()
    problem = Problem(
        trial=scenario.trial.id, today=today, modality=scenario.trial.modality,
        horizon=horizon, last_day=last_day,
        apheresis_earliest_days=protocol.apheresis_earliest_days,
        apheresis_latest_days=protocol.apheresis_latest_days,
        fresh=protocol.material == "fresh",
        fresh_max_days_to_start=protocol.fresh_max_days_to_start,
        infusion_latest_days_after_arrival=protocol.infusion_latest_days_after_arrival,
        sites=sites, facilities=facilities, lots=lots, lanes=lanes, patients=[],
        weights=weights, apheresis_history=aph_hist, infusion_history=inf_hist,
    )
    for p in scenario.patients:
        if p.is_closed:
            continue
        problem.patients.append(_patient_data(problem, p))
    return problem


def _patient_data(problem: Problem, p: Patient) -> PatientData:
    to = problem.to_offset
    failed = p.outcome == "failed"
    stage: Stage = "new"
    fields: dict[str, object] = {}
    if not failed and problem.modality == "autologous":
        if p.manufacturing_start is not None and p.facility is not None:
            stage = "manufactured"
            fields = {"apheresis": to(p.apheresis) if p.apheresis else None,
                      "facility": p.facility, "start": to(p.manufacturing_start),
                      "lot": p.vector_lot}
        elif p.apheresis is not None:
            stage = "collected"
            fields = {"apheresis": to(p.apheresis), "facility": p.facility}
    if not failed and p.infusion is not None:
        fields["infusion"] = to(p.infusion)
    base = PatientData(id=p.id, site=p.site, enrolled=to(p.enrolled), priority=p.priority,
                       doses=p.doses, stage=stage, **fields)  # type: ignore[arg-type]
    return candidates(problem, base)


def candidates(problem: Problem, p: PatientData) -> PatientData:
    """The patient with its candidate facilities and lots, or the reason it has none."""
    site = problem.sites[p.site]
    if p.stage == "manufactured":
        assert p.facility is not None
        assert p.start is not None
        fac = problem.facilities.get(p.facility)
        reason = None
        if fac is None:
            reason = f"facility {p.facility} is not a drug product facility"
        elif problem.lane(p.facility, p.site) is None:
            reason = f"no lane from {p.facility} to {p.site}"
        fixed_lot: tuple[str, ...] = (p.lot,) if p.lot else ()
        return replace(p, facilities=(p.facility,), lots=fixed_lot, reason=reason)
    if site.active_from is None:
        return replace(p, reason=f"site {p.site} not active before horizon end "
                                 f"(activation {site.active_date})")
    if not problem.is_batch and p.stage == "new" and site.apheresis_per_day == 0:
        return replace(p, reason=f"site {p.site} has no apheresis capacity")
    if site.infusion_per_day == 0:
        return replace(p, reason=f"site {p.site} has no infusion capacity")
    pool = [p.facility] if p.facility else list(problem.facilities)
    with_lane = [f for f in pool if f in problem.facilities
                 and (problem.is_batch or problem.lane(p.site, f) is not None)
                 and problem.lane(f, p.site) is not None]
    if not with_lane:
        return replace(p, reason=f"no lane between {p.site} and any drug product facility")
    ready = [f for f in with_lane if problem.facilities[f].ready is not None
             and problem.facilities[f].suites > 0]
    if not ready:
        return replace(p, reason="facility " + ", ".join(with_lane)
                       + " never ready within the horizon")
    earliest = 0 if problem.is_batch else (
        p.apheresis if p.apheresis is not None else problem.apheresis_first(p))
    starts: dict[str, int] = {}
    for f in ready:
        fac = problem.facilities[f]
        lane_in = 0 if problem.is_batch else (problem.lane(p.site, f) or 0)
        first = max(earliest + lane_in, fac.ready or 0, 0)
        last = problem.horizon
        if problem.fresh and not problem.is_batch and p.apheresis is not None:
            last = min(last, p.apheresis + problem.fresh_max_days_to_start)
        if problem.days_on(fac.start_weekdays, first, last):
            starts[f] = first
    if not starts:
        return replace(p, reason="no manufacturing start day within the horizon at "
                       + ", ".join(ready))
    first_start = min(starts.values())
    lots = tuple(
        lot.id for lot in sorted(problem.lots.values(), key=lambda x: (x.last, x.id))
        if lot.units > 0 and lot.last >= first_start and lot.first <= problem.horizon
    )
    needs_vector = any(problem.facilities[f].units_per_batch > 0 for f in starts)
    if needs_vector and not lots:
        return replace(p, facilities=tuple(starts),
                       reason="no vector lot valid before horizon end")
    return replace(p, facilities=tuple(starts), lots=lots)

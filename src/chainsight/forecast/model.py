"""The scenario compiled to day-indexed arrays: the one border between dates and days.

Day 0 is ``today``; the forecast looks at days ``0 .. H`` (``H = horizon_days``). Every
look-up table has one more entry, ``H + 1``, holding ``NEVER``: a day that does not come
within the horizon. Indices are clipped to ``H + 1`` before a look-up, so "never" and
"after the horizon" are the same thing to the simulation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from graphlib import TopologicalSorter

import numpy as np
from numpy.typing import NDArray

from chainsight.domain import Scenario, scenario_data
from chainsight.domain.common import weekday_numbers

NEVER = 1 << 28  # a day that never comes; sums of a few of them still fit in int64

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def next_day_table(allowed: BoolArray, length: int) -> IntArray:
    """``table[x]`` = first day ``>= x`` with ``allowed``; NEVER if none (length ``length``)."""
    idx = np.full(length, NEVER, dtype=np.int64)
    n = min(len(allowed), length - 1)
    days = np.arange(n, dtype=np.int64)
    idx[:n] = np.where(allowed[:n], days, NEVER)
    return np.minimum.accumulate(idx[::-1])[::-1].copy()


@dataclass(frozen=True)
class Transfer:
    """A tech transfer as arrays: milestones in topological order."""

    done: tuple[int | None, ...]
    planned_start: tuple[int | None, ...]
    duration: tuple[int, ...]
    after: tuple[tuple[int, ...], ...]
    slip: tuple[int, ...]


@dataclass(frozen=True)
class HistoryPatient:
    """A patient enrolled on or before today whose journey is not over."""

    index: int
    id: str
    site: int
    enrolled: int
    doses: int
    state: str  # "waiting" | "collected" | "manufacturing" | "released" | "failed"
    apheresis: int | None
    facility: int | None
    start: int | None


@dataclass(frozen=True)
class Compiled:
    """Everything the simulation needs, as arrays indexed by day, site, facility, lot."""

    scenario: Scenario
    horizon: int
    site_ids: tuple[str, ...]
    facility_ids: tuple[str, ...]
    lot_ids: tuple[str, ...]
    next_apheresis: IntArray  # (sites, H+2)
    next_infusion: IntArray  # (sites, H+2)
    lane_in: IntArray  # (facilities, sites), -1 where no lane
    lane_out: IntArray  # (facilities, sites), -1 where no lane
    manufacturing_days: IntArray
    qc_days: IntArray
    success: NDArray[np.float64]
    vector_units: IntArray
    shelf_days: IntArray
    doses_per_batch: IntArray
    suites: IntArray
    free_suites: IntArray  # (facilities, H+2+max manufacturing days)
    start_ok: BoolArray  # (facilities, H+2): a start weekday within the horizon
    next_start: IntArray  # (facilities, max suites, H+2): per suite, next feasible start
    ready_fixed: tuple[int | None, ...]
    transfers: tuple[Transfer | None, ...]
    lot_units: IntArray
    lot_first: IntArray  # release day
    lot_last: IntArray  # expiry without extension
    ext_first: IntArray  # first day the extension may apply (readout), NEVER if none
    ext_last: IntArray  # extended expiry, -1 if none
    ext_probability: NDArray[np.float64]
    history: tuple[HistoryPatient, ...]
    known_enrolled: int  # patients enrolled on or before today (closed ones included)
    enrolled_today: int
    last_known_enrolment: int | None
    future_patients: int
    dose_values: IntArray
    dose_weights: NDArray[np.float64]

    @property
    def weeks(self) -> int:
        """Weeks reported: week k starts on day 7k, up to the horizon."""
        return self.horizon // 7 + 1

    def date(self, day: int) -> dt.date:
        """The calendar date of a forecast day."""
        return self.scenario.today + dt.timedelta(days=int(day))


def scenario_digest(scenario: Scenario) -> str:
    """SHA-256 of the scenario's canonical JSON: the version of the inputs."""
    text = json.dumps(scenario_data(scenario), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compile_scenario(scenario: Scenario) -> Compiled:
    """Turn the scenario's dates into day-indexed arrays (see the module docstring)."""
    today = scenario.today
    horizon = scenario.trial.horizon_days
    length = horizon + 2

    def rel(day: dt.date) -> int:
        return (day - today).days

    weekday = (today.weekday() + np.arange(length)) % 7
    sites = scenario.sites
    site_ids = tuple(s.id for s in sites)
    s_index = {sid: i for i, sid in enumerate(site_ids)}
    next_aph = np.empty((len(sites), length), dtype=np.int64)
    next_inf = np.empty((len(sites), length), dtype=np.int64)
    for i, site in enumerate(sites):
        # The batch modality has no apheresis: the patient is ready the day they enrol.
        if site.apheresis is None:
            aph = np.ones(length, dtype=bool)
        else:
            days = np.array(sorted(weekday_numbers(list(site.apheresis.weekdays))))
            aph = np.isin(weekday, days) & (site.apheresis.per_day > 0)
        inf_days = np.array(sorted(weekday_numbers(list(site.infusion.weekdays))))
        inf = np.isin(weekday, inf_days) & (site.infusion.per_day > 0)
        next_aph[i] = next_day_table(aph, length)
        next_inf[i] = next_day_table(inf, length)

    facilities = scenario.dp_facilities
    facility_ids = tuple(f.id for f in facilities)
    f_index = {fid: j for j, fid in enumerate(facility_ids)}
    n_f = len(facilities)
    lane_in = np.full((n_f, len(sites)), -1, dtype=np.int64)
    lane_out = np.full((n_f, len(sites)), -1, dtype=np.int64)
    for j, fac in enumerate(facilities):
        for i, site in enumerate(sites):
            into = scenario.lane_days(site.id, fac.id)
            back = scenario.lane_days(fac.id, site.id)
            # A facility serves a site only with lanes both ways (material in, DP back).
            if into is not None and back is not None:
                lane_in[j, i] = into
                lane_out[j, i] = back
    processes = [scenario.process_at(f.id) for f in facilities]
    m_days = np.array([p.manufacturing_days for p in processes], dtype=np.int64)
    max_m = int(m_days.max()) if n_f else 1
    ext_len = length + max_m
    free = np.zeros((n_f, ext_len), dtype=np.int64)
    start_ok = np.zeros((n_f, length), dtype=bool)
    max_suites = max([f.suites for f in facilities], default=0)
    next_start = np.full((n_f, max(max_suites, 1), length), NEVER, dtype=np.int64)
    week_ext = (today.weekday() + np.arange(ext_len)) % 7
    for j, fac in enumerate(facilities):
        reserved = np.zeros(ext_len, dtype=np.int64)
        for r in fac.reservations:
            lo, hi = max(rel(r.start), 0), rel(r.end)
            if hi >= 0 and lo < ext_len:
                reserved[lo:min(hi + 1, ext_len)] += r.suites
        free[j] = np.maximum(fac.suites - reserved, 0)
        days = np.array(sorted(weekday_numbers(list(fac.start_weekdays))))
        ok_weekday = np.isin(week_ext, days)
        start_ok[j] = ok_weekday[:length] & (np.arange(length) <= horizon)
        m = int(m_days[j])
        for suite in range(fac.suites):
            # Reservations hold the lowest-numbered suites; suite `suite` is blocked on a
            # day when more than `suite` suites are reserved. A run needs its suite for
            # the whole window [d, d + m).
            blocked = (reserved > suite).astype(np.int64)
            csum = np.concatenate([[0], np.cumsum(blocked)])
            d = np.arange(length)
            window = csum[np.minimum(d + m, ext_len)] - csum[d]
            allowed = ok_weekday[:length] & (window == 0) & (d <= horizon)
            next_start[j, suite] = next_day_table(allowed, length)

    ready_fixed: list[int | None] = []
    transfers: list[Transfer | None] = []
    for fac in facilities:
        if fac.tech_transfer is None:
            ready_fixed.append(rel(fac.ready) if fac.ready is not None else 0)
            transfers.append(None)
        else:
            ready_fixed.append(None)
            transfers.append(_compile_transfer(scenario, fac.tech_transfer, rel))

    lots = list(scenario.vector.lots)
    lot_ids = [lot.id for lot in lots]
    units = [lot.units for lot in lots]
    first = [rel(lot.released) for lot in lots]
    last = [rel(lot.expires) for lot in lots]
    e_first: list[int] = []
    e_last: list[int] = []
    e_prob: list[float] = []
    for lot in lots:
        ext = lot.extension
        if ext is None or ext.status == "refused":
            e_first.append(NEVER)
            e_last.append(-1)
            e_prob.append(0.0)
        else:
            e_first.append(max(rel(ext.readout), rel(lot.released)) if ext.status == "pending"
                           else rel(lot.released))
            e_last.append(rel(ext.expires))
            e_prob.append(1.0 if ext.status == "granted" else ext.probability)
    # A campaign counts as booked at its earliest start (what-ifs may move it): its lot
    # is released after the lead time and keeps its shelf life from release.
    for k, campaign in enumerate(scenario.vector.campaigns):
        release = rel(campaign.earliest_release)
        lot_ids.append(campaign.id or f"campaign-{k + 1}")
        units.append(campaign.units)
        first.append(release)
        last.append(release + campaign.shelf_life_days)
        e_first.append(NEVER)
        e_last.append(-1)
        e_prob.append(0.0)

    history: list[HistoryPatient] = []
    known = 0
    enrolled_today = 0
    last_known: int | None = None
    for patient in scenario.patients:
        if patient.enrolled > today:
            continue
        known += 1
        enrolled_today += patient.enrolled == today
        day = rel(patient.enrolled)
        last_known = day if last_known is None else max(last_known, day)
        if patient.is_closed:
            continue
        if patient.outcome == "released":
            state = "released"
        elif patient.outcome == "failed":
            state = "failed"
        elif patient.manufacturing_start is not None:
            state = "manufacturing"
        elif patient.apheresis is not None:
            state = "collected"
        else:
            state = "waiting"
        history.append(HistoryPatient(
            index=len(history), id=patient.id, site=s_index[patient.site], enrolled=day,
            doses=patient.doses, state=state,
            apheresis=rel(patient.apheresis) if patient.apheresis else None,
            facility=f_index.get(patient.facility) if patient.facility else None,
            start=rel(patient.manufacturing_start) if patient.manufacturing_start else None,
        ))
    future = max(0, scenario.trial.target_enrollment - known)
    doses = np.array([p.doses for p in scenario.patients] or [1], dtype=np.int64)
    values, counts = np.unique(doses, return_counts=True)

    return Compiled(
        scenario=scenario, horizon=horizon, site_ids=site_ids, facility_ids=facility_ids,
        lot_ids=tuple(lot_ids), next_apheresis=next_aph, next_infusion=next_inf,
        lane_in=lane_in, lane_out=lane_out, manufacturing_days=m_days,
        qc_days=np.array([p.qc_release_days for p in processes], dtype=np.int64),
        success=np.array([p.success_rate for p in processes], dtype=np.float64),
        vector_units=np.array([p.vector_units_per_batch for p in processes], dtype=np.int64),
        shelf_days=np.array([p.dp_shelf_life_days for p in processes], dtype=np.int64),
        doses_per_batch=np.array([p.doses_per_batch for p in processes], dtype=np.int64),
        suites=np.array([f.suites for f in facilities], dtype=np.int64),
        free_suites=free, start_ok=start_ok, next_start=next_start,
        ready_fixed=tuple(ready_fixed), transfers=tuple(transfers),
        lot_units=np.array(units, dtype=np.int64), lot_first=np.array(first, dtype=np.int64),
        lot_last=np.array(last, dtype=np.int64), ext_first=np.array(e_first, dtype=np.int64),
        ext_last=np.array(e_last, dtype=np.int64),
        ext_probability=np.array(e_prob, dtype=np.float64),
        history=tuple(history), known_enrolled=known, enrolled_today=int(enrolled_today),
        last_known_enrolment=last_known, future_patients=future,
        dose_values=values.astype(np.int64),
        dose_weights=(counts / counts.sum()).astype(np.float64),
    )


def _compile_transfer(
    scenario: Scenario, transfer_id: str, to_day: Callable[[dt.date], int]
) -> Transfer:
    transfer = scenario.transfer(transfer_id)
    order = list(TopologicalSorter({m.id: m.after for m in transfer.milestones}).static_order())
    by_id = {m.id: m for m in transfer.milestones}
    pos = {mid: k for k, mid in enumerate(order)}
    ms = [by_id[mid] for mid in order]
    return Transfer(
        done=tuple(to_day(m.done) if m.done is not None else None for m in ms),
        planned_start=tuple(to_day(m.planned_start) if m.planned_start is not None else None
                            for m in ms),
        duration=tuple(m.duration_days for m in ms),
        after=tuple(tuple(pos[a] for a in m.after) for m in ms),
        slip=tuple(m.slip_risk_days for m in ms),
    )


def transfer_ready_days(transfer: Transfer, slips: IntArray) -> IntArray:
    """Ready day per run of a tech transfer, given extra days per milestone (runs, milestones).

    The same rule as :func:`chainsight.domain.schedule_transfer`, over runs at once:
    an open milestone starts on the latest of today, its planned start and its
    predecessors' finishes, and takes its duration plus its drawn slip.
    """
    runs = slips.shape[0]
    finish: list[IntArray] = []
    for k in range(len(transfer.duration)):
        done = transfer.done[k]
        if done is not None:
            finish.append(np.full(runs, done, dtype=np.int64))
            continue
        begin = np.zeros(runs, dtype=np.int64)
        planned = transfer.planned_start[k]
        if planned is not None:
            begin = np.maximum(begin, planned)
        for a in transfer.after[k]:
            begin = np.maximum(begin, finish[a])
        finish.append(begin + transfer.duration[k] + slips[:, k])
    ready: IntArray = np.max(np.stack(finish), axis=0)
    return ready

"""An independent discrete-event model of the autologous chain, written with SimPy.

It exists to check the vectorised simulation: the same story, told one run at a time
with processes that read like the patient's journey, naive searches instead of look-up
tables, the domain's own functions (``schedule_transfer``, ``suites_reserved``,
``Lot`` windows) instead of compiled arrays, and its own random draws. The tests compare
the two with two-sample tests; the benchmark compares their speed.

The modelling rules are those of ``engine.py``: a patient ready for manufacturing books
the earliest day on which some facility (lanes both ways, a start weekday, on or after
its ready day and the material's arrival) has a suite free for the whole run (a suite
is free from the end of its last booking; reservations hold the lowest-numbered suites)
and a vector lot is valid with units left (first expiring first out). A patient who
will be lost (a geometric number of weeks after enrolment) before the start does not
take the slot. Failed runs send the patient back to apheresis, up to ``max_attempts``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import simpy
from simpy.events import ProcessGenerator

from chainsight.domain import Scenario, schedule_transfer
from chainsight.domain.common import weekday_name
from chainsight.forecast.config import ForecastConfig
from chainsight.forecast.enrollment import EnrollmentFit, fit_enrollment

NEVER = math.inf


@dataclass
class RunRecord:
    """What one run of the reference model produced."""

    completion: float = NEVER  # day of the last enrolment, if within the horizon
    times_to_treatment: list[int] = field(default_factory=list)
    lost: int = 0
    infused: int = 0
    withdrawn: int = 0


@dataclass
class ReferenceResult:
    """Per-run results of the reference model."""

    runs: list[RunRecord]

    @property
    def completion(self) -> np.ndarray:
        """Enrolment completion day per run (inf if not within the horizon)."""
        return np.array([r.completion for r in self.runs], dtype=float)

    @property
    def ttt_mean(self) -> np.ndarray:
        """Mean time to treatment per run (nan if nobody was infused)."""
        return np.array([np.mean(r.times_to_treatment) if r.times_to_treatment else np.nan
                         for r in self.runs])

    @property
    def lost(self) -> np.ndarray:
        """Patients lost while waiting, per run."""
        return np.array([r.lost for r in self.runs])

    @property
    def infused(self) -> np.ndarray:
        """Patients infused within the horizon, per run."""
        return np.array([r.infused for r in self.runs])


@dataclass
class _Lot:
    units: int
    windows: list[tuple[int, int]]  # valid start days, both included
    readout: float  # day from which the (granted) extension is known
    base_expiry: int
    expiry: int


class _Chain:
    """One run: the trial's sites, facilities and vector, as SimPy sees them."""

    def __init__(self, scenario: Scenario, fit: EnrollmentFit, config: ForecastConfig,
                 rng: np.random.Generator) -> None:
        self.s = scenario
        self.config = config
        self.rng = rng
        self.today = scenario.today
        self.horizon = scenario.trial.horizon_days
        self.env = simpy.Environment()
        self.record = RunRecord()
        self.journeys: list[dict[str, float]] = []  # per patient: loss day, end of journey
        self.protocol = scenario.trial.protocol
        self.facilities = scenario.dp_facilities
        # Each suite's first free day, per facility.
        self.free_from = {f.id: [0] * f.suites for f in self.facilities}
        self.ready_day: dict[str, int] = {}
        for f in self.facilities:
            if f.tech_transfer is None:
                ready = f.ready or self.today
            else:
                transfer = scenario.transfer(f.tech_transfer)
                delays = {m.id: int(rng.integers(0, m.slip_risk_days + 1))
                          for m in transfer.milestones if m.slip_risk_days}
                ready = schedule_transfer(transfer, self.today, delays).ready
            self.ready_day[f.id] = max(0, (ready - self.today).days)
        self.lots: list[_Lot] = []
        for lot in scenario.vector.lots:
            first, last = ((lot.released - self.today).days, (lot.expires - self.today).days)
            windows = [(first, last)]
            readout, expiry = NEVER, last
            ext = lot.extension
            if ext is not None and ext.status != "refused" and (
                ext.status == "granted" or rng.random() < ext.probability
            ):
                readout = (ext.readout - self.today).days if ext.status == "pending" else first
                windows.append((max(int(readout), first), (ext.expires - self.today).days))
                expiry = max(expiry, (ext.expires - self.today).days)
            self.lots.append(_Lot(lot.units, windows, readout, last, expiry))
        for campaign in scenario.vector.campaigns:
            release = (campaign.earliest_release - self.today).days
            end = release + campaign.shelf_life_days
            self.lots.append(_Lot(campaign.units, [(release, end)], NEVER, end, end))
        self.fit = fit
        self.enrolled = 0
        self.known = sum(1 for p in scenario.patients if p.enrolled <= self.today)
        self.to_enrol = max(0, scenario.trial.target_enrollment - self.known)
        self.last_known = max(((p.enrolled - self.today).days for p in scenario.patients
                               if p.enrolled <= self.today), default=0)

    # ------------------------------------------------------------------ calendar
    def date(self, day: int) -> dt.date:
        return self.today + dt.timedelta(days=day)

    def next_weekday(self, day: float, weekdays: Sequence[str]) -> float:
        """First day >= ``day`` on one of ``weekdays`` within the horizon."""
        for d in range(max(int(day), 0), self.horizon + 1):
            if weekday_name(self.date(d)) in weekdays:
                return d
        return NEVER

    # ------------------------------------------------------------------ enrolment
    def site_process(self, index: int, opens: float, rate: float) -> ProcessGenerator:
        """A site opens, then enrols patients at its rate until the target is reached."""
        yield self.env.timeout(max(opens, 1.0))
        if rate <= 0:
            return
        while self.enrolled < self.to_enrol:
            yield self.env.timeout(self.rng.exponential(1.0 / rate))
            if self.env.now >= self.horizon + 1 or self.enrolled >= self.to_enrol:
                return
            self.enrolled += 1
            day = math.floor(self.env.now)
            if self.enrolled == self.to_enrol:
                self.record.completion = day
            self.env.process(self.patient(self.s.sites[index].id, day))

    # ------------------------------------------------------------------ patient
    def patient(self, site_id: str, enrolled: int, state: str = "waiting",
                collected: int | None = None, facility: str | None = None,
                start: int | None = None) -> ProcessGenerator:
        """A patient's journey: apheresis, a slot, manufacturing, release, infusion."""
        site = self.s.site(site_id)
        p_loss = self.protocol.dropout_per_week_waiting
        loss = (max(enrolled, 0) + 7 * int(self.rng.geometric(p_loss))) if p_loss > 0 \
            else NEVER
        aph_days = list(site.apheresis.weekdays) if site.apheresis else []
        journey = {"loss": loss, "end": NEVER, "enrolled": enrolled}
        self.journeys.append(journey)
        attempt = 0
        if state in ("manufacturing", "released") and facility is not None and start is not None:
            fac = self.s.facility(facility)
            m = self.s.process_at(facility).manufacturing_days
            if start + m > 0 and fac.suites:
                suites = self.free_from[facility]
                k = suites.index(min(suites))
                suites[k] = max(suites[k], start + m)
            outcome = yield from self.after_start(site_id, facility, start, enrolled, journey,
                                                  forced=state == "released")
            if outcome != "failed":
                return
            attempt = 1
            ready = self.next_weekday(
                start + m + self.s.process_at(facility).qc_release_days
                + self.protocol.apheresis_earliest_days, aph_days)
        elif state == "failed":
            attempt = 1
            ready = self.next_weekday(self.protocol.apheresis_earliest_days, aph_days)
        elif state == "collected":
            ready = collected if collected is not None else 0
        else:
            ready = self.next_weekday(enrolled + self.protocol.apheresis_earliest_days, aph_days)
        while True:
            if ready > self.horizon:
                return
            if loss < ready:
                return
            yield self.env.timeout(max(ready, 0) - self.env.now if ready > self.env.now else 0)
            booking = self.find_slot(site_id, int(ready))
            day = booking[0] if booking else NEVER
            if loss < day:  # lost before the start: the slot stays free for others
                return
            if booking is None or day > self.horizon:
                return
            self.take_slot(*booking)
            fid = booking[1]
            yield self.env.timeout(day - self.env.now)
            outcome = yield from self.after_start(site_id, fid, int(day), enrolled, journey)
            if outcome != "failed":
                return
            attempt += 1
            process = self.s.process_at(fid)
            release = int(day) + process.manufacturing_days + process.qc_release_days
            if attempt >= self.config.max_attempts:
                journey["end"] = release
                return
            ready = self.next_weekday(release + self.protocol.apheresis_earliest_days,
                                      aph_days)

    def after_start(self, site_id: str, fid: str, day: int, enrolled: int,
                    journey: dict[str, float], forced: bool = False) -> ProcessGenerator:
        """Manufacturing and QC; on success shipment and infusion."""
        process = self.s.process_at(fid)
        release = day + process.manufacturing_days + process.qc_release_days
        success = forced or self.rng.random() < process.success_rate
        if not success:
            if release > self.env.now:
                yield self.env.timeout(release - self.env.now)
            return "failed"
        lane = self.s.lane_days(fid, site_id) or 0
        arrival = max(release + lane, 0)
        infusion = self.next_weekday(arrival, list(self.s.site(site_id).infusion.weekdays))
        if infusion <= self.horizon and infusion > release + process.dp_shelf_life_days:
            return "failed"
        if journey["loss"] < infusion:
            return "lost"
        journey["end"] = infusion
        journey["infused"] = True
        if infusion <= self.horizon:
            yield self.env.timeout(infusion - self.env.now if infusion > self.env.now else 0)
            self.record.infused += 1
            self.record.times_to_treatment.append(int(infusion) - enrolled)
        return "infused"

    # ------------------------------------------------------------------ booking
    def find_slot(self, site_id: str, ready: int) -> tuple[int, str, int, _Lot | None] | None:
        """The earliest start any facility can give, with a vector unit (not yet taken)."""
        for day in range(max(ready, 0), self.horizon + 1):
            for fac in self.facilities:
                into = self.s.lane_days(site_id, fac.id)
                back = self.s.lane_days(fac.id, site_id)
                if into is None or back is None or day < ready + into:
                    continue
                if day < self.ready_day[fac.id]:
                    continue
                if weekday_name(self.date(day)) not in fac.start_weekdays:
                    continue
                suite = self.free_suite(fac.id, day)
                if suite is None:
                    continue
                need = self.s.process_at(fac.id).vector_units_per_batch
                lot = self.fefo_lot(day, need) if need > 0 else None
                if need > 0 and lot is None:
                    break  # no vector today at any facility: try the next day
                return day, fac.id, suite, lot
        return None

    def take_slot(self, day: int, fid: str, suite: int, lot: _Lot | None) -> None:
        """Book the suite for the run and take the vector units."""
        process = self.s.process_at(fid)
        if lot is not None:
            lot.units -= process.vector_units_per_batch
        self.free_from[fid][suite] = day + process.manufacturing_days

    def free_suite(self, fid: str, day: int) -> int | None:
        fac = self.s.facility(fid)
        m = self.s.process_at(fid).manufacturing_days
        for k, free in enumerate(self.free_from[fid]):
            if free > day:
                continue
            if all(fac.suites_reserved(self.date(t)) <= k for t in range(day, day + m)):
                return k
        return None

    def fefo_lot(self, day: int, need: int) -> _Lot | None:
        valid = [lot for lot in self.lots if lot.units >= need
                 and any(a <= day <= b for a, b in lot.windows)]
        if not valid:
            return None
        return min(valid, key=lambda lot: lot.expiry if day >= lot.readout else lot.base_expiry)

    # ------------------------------------------------------------------ run
    def run(self) -> RunRecord:
        fit, cfg, rng = self.fit, self.config, self.rng
        mu = max(rng.gamma(fit.mean_shape, 1.0 / fit.mean_rate), 1e-9)
        for i, site in enumerate(self.s.sites):
            if site.activation.actual is not None:
                opens = float((site.activation.actual - self.today).days)
            else:
                delay = rng.gamma(cfg.activation_delay_shape,
                                  cfg.activation_delay_mean_days / cfg.activation_delay_shape)
                opens = max((site.activation.planned - self.today).days, 0) + delay
            shape = fit.alpha + (fit.counts[i] if fit.observed[i] else 0)
            rate = fit.alpha / mu + (fit.expected_exposure[i] if fit.observed[i] else 0.0)
            theta = rng.gamma(shape, 1.0 / rate)
            self.env.process(self.site_process(i, opens, theta * fit.planned_per_day[i]))
        if self.to_enrol == 0:
            self.record.completion = self.last_known
        for p in self.s.patients:
            if p.enrolled > self.today or p.is_closed:
                continue
            if p.outcome == "released":
                state = "released"
            elif p.outcome == "failed":
                state = "failed"
            elif p.manufacturing_start is not None:
                state = "manufacturing"
            elif p.apheresis is not None:
                state = "collected"
            else:
                state = "waiting"
            rel = (p.enrolled - self.today).days
            self.env.process(self.patient(
                p.site, rel, state,
                (p.apheresis - self.today).days if p.apheresis else None, p.facility,
                (p.manufacturing_start - self.today).days if p.manufacturing_start else None))
        self.env.run(until=self.horizon + 1)
        # Lost: the loss day comes within the horizon before the journey ended.
        for j in self.journeys:
            if j["loss"] <= self.horizon and j["loss"] < j["end"] and j["enrolled"] <= self.horizon:
                self.record.lost += 1
            elif j["end"] <= self.horizon and j["end"] < NEVER and not self._infused_end(j):
                self.record.withdrawn += 1
        return self.record

    @staticmethod
    def _infused_end(journey: dict[str, float]) -> bool:
        return bool(journey.get("infused", False))


def simulate_reference(
    scenario: Scenario, runs: int, seed: int, config: ForecastConfig | None = None,
    fit: EnrollmentFit | None = None,
) -> ReferenceResult:
    """Run the SimPy model ``runs`` times (each run its own child stream of ``seed``)."""
    if scenario.trial.modality != "autologous":
        raise ValueError("the reference model covers the autologous chain only")
    config = config or ForecastConfig()
    fit = fit or fit_enrollment(scenario, config)
    seqs = np.random.SeedSequence(seed).spawn(runs)
    return ReferenceResult([
        _Chain(scenario, fit, config, np.random.default_rng(seq)).run() for seq in seqs
    ])

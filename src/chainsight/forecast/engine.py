"""The vectorised Monte Carlo simulation of the chain, over many runs at once.

Arrays are shaped ``(runs, ...)``. Enrolment is drawn for all runs in one go; the
patients' journeys are then processed booking by booking: at each step every run
takes its next patient to become ready for manufacturing (the next first attempt or
the next re-apheresis after a failed run, whichever is earlier), finds the earliest
start over facilities and suites that also has a valid vector unit, and books it. A
step is a handful of NumPy operations over runs, so the Python loop is over bookings,
never over runs.

Queue rule (the discrete-event reference in ``reference_des.py`` follows the same one):
patients book in the order they become ready; each takes the earliest start, over the
facilities with lanes both ways to its site, on a start weekday, on or after the
facility's ready day and the material's arrival (ready + lane), in a suite that is
free for the whole run. A suite is free from the end of its last booking (no
back-filling of gaps), and reservations hold the lowest-numbered suites. Vector is
taken first-expiring-first-out among lots valid on the start day.

Not modelled: the per-day apheresis and infusion capacity of a site (its weekdays
are), courier delays beyond the lane's days, and a fresh-material deadline (the
apheresis of fresh material is taken to be timed to the slot, so "ready" is the first
day the patient could be collected).

All randomness is drawn up front in fixed shapes from child streams of one
``SeedSequence``; a what-if that changes the path therefore still sees the same
draws (common random numbers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from chainsight.forecast.config import ForecastConfig
from chainsight.forecast.enrollment import (
    EnrollmentFit,
    activation_days,
    draw_site_rates,
    simulate_enrollment,
)
from chainsight.forecast.model import NEVER, Compiled, transfer_ready_days

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

_STREAMS = ("activation", "mean", "sites", "enrolment", "loss", "success", "extension",
            "transfer", "doses")


@dataclass(frozen=True)
class Overrides:
    """Changes a what-if makes to the compiled model (days from today)."""

    monthly_caps: Mapping[int, int] | None = None  # facility index -> starts per month


@dataclass
class ChunkResult:
    """Per-run results of one chunk of runs, already reduced for the summary."""

    enrolled_weekly: IntArray  # (runs, weeks)
    infused_weekly: IntArray
    waiting_weekly: IntArray
    on_hand_weekly: IntArray
    completion: IntArray  # (runs,) day of the last enrolment, NEVER if not in horizon
    last_infusion: IntArray  # (runs,) NEVER unless every patient is resolved in horizon
    lost: IntArray  # (runs,) patients lost while waiting, within the horizon
    withdrawn: IntArray  # (runs,) patients withdrawn after max_attempts failed runs
    infused: IntArray  # (runs,) patients infused within the horizon
    expired_units: IntArray  # (runs,)
    first_stockout: IntArray  # (runs,) NEVER if none in horizon
    ttt_hist: IntArray  # (H+1 + history,) time to treatment histogram, all runs
    ttt_mean: FloatArray  # (runs,) mean time to treatment, nan if nobody infused
    busy: FloatArray  # (facilities, weeks) suite-days used, summed over runs
    available: FloatArray  # (facilities, weeks) suite-days available, summed over runs
    within: int  # bookings starting within `within_days` of ready (slot advice)
    eligible: int
    runs_made: IntArray  # (runs,) manufacturing runs / batches started in horizon
    doses_expired: IntArray  # (runs,) batch modality only, else zeros


def streams(seq: np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """Named child generators of one chunk's seed sequence (fixed order)."""
    children = seq.spawn(len(_STREAMS))
    return {name: np.random.Generator(np.random.PCG64(child))
            for name, child in zip(_STREAMS, children, strict=True)}


def simulate_chunk(
    c: Compiled, fit: EnrollmentFit, runs: int, seq: np.random.SeedSequence,
    config: ForecastConfig, overrides: Overrides | None = None, within_days: int = 14,
) -> ChunkResult:
    """Simulate ``runs`` runs of the whole chain (either modality)."""
    overrides = overrides or Overrides()
    rng = streams(seq)
    sim = _Runs(c, fit, runs, rng, config, overrides, within_days)
    if c.scenario.trial.modality == "batch":
        sim.run_batch()
    else:
        sim.run_autologous()
    return sim.result()


class _Runs:
    """State of one chunk of runs; methods are steps of the story."""

    def __init__(self, c: Compiled, fit: EnrollmentFit, runs: int,
                 rng: dict[str, np.random.Generator], config: ForecastConfig,
                 overrides: Overrides, within_days: int) -> None:
        self.c = c
        self.fit = fit
        self.R = runs
        self.H = c.horizon
        self.config = config
        self.overrides = overrides
        self.within_days = within_days
        self.ar = np.arange(runs)
        hz = self.H
        n_hist = len(c.history)
        n_future = c.future_patients
        self.P = n_hist + n_future
        self.A = config.max_attempts

        # Enrolment: sites open, rates, arrivals.
        opens = activation_days(c.scenario, runs, rng["activation"], config)
        rates = draw_site_rates(fit, runs, rng["mean"], rng["sites"])
        times, sites = simulate_enrollment(rates, opens, n_future, rng["enrolment"])
        with np.errstate(invalid="ignore"):
            days = np.where(np.isfinite(times) & (times < hz + 1), np.floor(times), NEVER)
        self.site = np.empty((runs, self.P), dtype=np.int64)
        self.enrol = np.empty((runs, self.P), dtype=np.int64)
        for h in c.history:
            self.site[:, h.index] = h.site
            self.enrol[:, h.index] = h.enrolled
        self.site[:, n_hist:] = sites
        self.enrol[:, n_hist:] = days.astype(np.int64)
        if n_future:
            last = self.enrol[:, -1]
            self.completion = np.where(last <= hz, last, NEVER)
        else:
            self.completion = np.full(runs, c.last_known_enrolment if c.last_known_enrolment
                                      is not None else 0, dtype=np.int64)

        # Doses per patient (batch modality): known for history, drawn for the future.
        self.doses = np.full((runs, self.P), int(c.dose_values[0]), dtype=np.int64)
        for h in c.history:
            self.doses[:, h.index] = h.doses
        if n_future and c.dose_values.size > 1:
            self.doses[:, n_hist:] = rng["doses"].choice(
                c.dose_values, size=(runs, n_future), p=c.dose_weights)

        # Loss while waiting: a geometric number of weeks from enrolment (from today for
        # patients already enrolled: the chance per week does not depend on the past).
        p_loss = c.scenario.trial.protocol.dropout_per_week_waiting
        if p_loss > 0:
            weeks = rng["loss"].geometric(p_loss, size=(runs, self.P)).astype(np.int64)
            self.loss = np.where(self.enrol >= NEVER, NEVER,
                                 np.maximum(self.enrol, 0) + 7 * np.minimum(weeks, NEVER // 8))
        else:
            self.loss = np.full((runs, self.P), NEVER, dtype=np.int64)
        # Single precision is plenty for comparing with a success rate, and halves the
        # largest array of the simulation.
        self.success_draw = rng["success"].random((runs, self.P, self.A), dtype=np.float32)

        # Facilities: ready day per run (tech transfer slips drawn per run).
        n_fac = len(c.facility_ids)
        self.F = n_fac
        self.ready = np.zeros((runs, n_fac), dtype=np.int64)
        for j in range(n_fac):
            fixed = c.ready_fixed[j]
            transfer = c.transfers[j]
            if transfer is None:
                self.ready[:, j] = max(fixed or 0, 0)
            else:
                slip_max = np.array(transfer.slip, dtype=np.int64)
                slips = rng["transfer"].integers(0, slip_max + 1, size=(runs, slip_max.size))
                self.ready[:, j] = np.maximum(transfer_ready_days(transfer, slips), 0)
        self.max_suites = c.next_start.shape[1]
        # (facility, suite, run): one contiguous row per suite, for fast 1-D gathers.
        self.free_from = np.zeros((n_fac, self.max_suites, runs), dtype=np.int64)

        # Vector lots: per run, whether a pending extension is granted.
        n_lots = len(c.lot_ids)
        self.L = n_lots
        # One draw per scenario lot (campaign lots have no extension), so that a what-if
        # adding a campaign leaves the other draws where they were.
        n_scenario_lots = len(c.scenario.vector.lots)
        draws = np.zeros((runs, n_lots))
        draws[:, :n_scenario_lots] = rng["extension"].random((runs, n_scenario_lots))
        granted = draws < c.ext_probability
        self.units = np.broadcast_to(c.lot_units, (runs, n_lots)).copy()
        self.ext_first = np.where(granted, c.ext_first, NEVER)
        self.ext_last = np.where(granted, c.ext_last, -1)
        self.expiry = np.maximum(c.lot_last, self.ext_last)  # last valid day per run
        n_weeks = c.weeks
        self.W = n_weeks
        self.consumed = np.zeros((runs, n_lots, n_weeks + 1), dtype=np.int64)

        # Outcomes per patient.
        self.infusion = np.full((runs, self.P), NEVER, dtype=np.int64)
        self.lost_day = np.full((runs, self.P), NEVER, dtype=np.int64)
        self.withdrawn_day = np.full((runs, self.P), NEVER, dtype=np.int64)
        # Waiting is reported at week starts only: an interval [x, end) covers the week
        # starts 7k with ceil(x / 7) <= k < ceil(end / 7), so a difference array over
        # weeks is enough (and seven times smaller than one over days).
        self.wait_diff = np.zeros((runs, n_weeks + 1), dtype=np.int64)
        self.busy_diff = np.zeros((n_fac, hz + 2), dtype=np.int64)
        self.first_stockout = np.full(runs, NEVER, dtype=np.int64)
        self.runs_made = np.zeros(runs, dtype=np.int64)
        self.within = 0
        self.eligible = 0
        self.doses_expired = np.zeros(runs, dtype=np.int64)
        caps = overrides.monthly_caps or {}
        self.caps = np.array([caps.get(j, NEVER) for j in range(n_fac)], dtype=np.int64)
        self.has_caps = bool(caps)
        if caps:
            months = np.array([c.date(d).year * 12 + c.date(d).month for d in range(hz + 2)])
            self.month = months - months[0]
            nxt = np.full(hz + 2, NEVER, dtype=np.int64)
            change = np.nonzero(np.diff(self.month))[0] + 1
            for k, start in enumerate(change):
                lo = 0 if k == 0 else change[k - 1]
                nxt[lo:start] = start
            self.next_month = nxt
            self.month_used = np.zeros((runs, n_fac, int(self.month[-1]) + 1), dtype=np.int64)

    # ---------------------------------------------------------------- vector
    def vector_first(self, rows: IntArray, day: IntArray, need: IntArray
                     ) -> tuple[IntArray, IntArray]:
        """First day >= ``day`` a lot with ``need`` units is valid, and the FEFO lot then."""
        c = self.c
        if self.L == 0:
            return np.full(rows.size, NEVER, dtype=np.int64), np.zeros(rows.size, dtype=np.int64)
        d = day[:, None]
        first_a = np.where(d <= c.lot_last, np.maximum(d, c.lot_first), NEVER)
        e_first = self.ext_first[rows]
        e_last = self.ext_last[rows]
        first_b = np.where(d <= e_last, np.maximum(d, e_first), NEVER)
        first = np.where(self.units[rows] >= need[:, None], np.minimum(first_a, first_b), NEVER)
        v = first.min(axis=1)
        # First expiring as known on that day: the extension counts once read out.
        known_expiry = np.where(v[:, None] >= e_first, np.maximum(c.lot_last, e_last), c.lot_last)
        lot = np.where(first == v[:, None], known_expiry, NEVER).argmin(axis=1)
        return v, lot.astype(np.int64)

    # ---------------------------------------------------------------- capacity
    def capacity_first(self, rows: IntArray, f: int, lo: IntArray) -> tuple[IntArray, IntArray]:
        """Earliest start >= ``lo`` in some suite of facility ``f``, and that suite."""
        c = self.c
        n = int(c.suites[f])
        if n == 0:
            return np.full(rows.size, NEVER, dtype=np.int64), np.zeros(rows.size, dtype=np.int64)
        lo = np.maximum(lo, self.ready[rows, f])
        cand = np.empty((rows.size, n), dtype=np.int64)
        for s in range(n):
            x = np.minimum(np.maximum(lo, self.free_from[f, s].take(rows)), self.H + 1)
            cand[:, s] = c.next_start[f, s, x]
        suite = cand.argmin(axis=1)
        return cand[np.arange(rows.size), suite], suite

    def slot_first(self, rows: IntArray, f: int, lo: IntArray) -> tuple[IntArray, IntArray]:
        """Earliest start >= ``lo`` at ``f`` with a free suite and, under slot advice, a
        month whose quota of starts is not used up; and the suite."""
        cur = lo
        while True:
            d, suite = self.capacity_first(rows, f, cur)
            if self.caps[f] >= NEVER:
                return d, suite
            month = self.month[np.minimum(d, self.H + 1)]
            full = (d < NEVER) & (self.month_used[rows, f, month] >= self.caps[f])
            if not full.any():
                return d, suite
            cur = np.where(full, self.next_month[np.minimum(d, self.H + 1)], cur)

    def earliest_start(self, rows: IntArray, lo: IntArray
                       ) -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray]:
        """Earliest start over facilities with a suite (and quota) and a vector unit.

        ``lo`` is (facilities, rows): the first day the material can be at each. Returns
        day, facility, suite, lot, and the day it would have been had the vector not
        mattered (a later start is a stock-out). The facility is chosen on capacity,
        then the vector is checked on that day; if there is none, every facility moves
        on to the day a unit is next valid. (Facilities may need different units per
        run: the unit count of the facility chosen on capacity is the one checked.)
        """
        n = rows.size
        day = np.full(n, NEVER, dtype=np.int64)
        fac = np.zeros(n, dtype=np.int64)
        suite = np.zeros(n, dtype=np.int64)
        lot = np.zeros(n, dtype=np.int64)
        cap_only = np.full(n, NEVER, dtype=np.int64)
        todo = np.arange(n)
        cur = lo.copy()
        first = True
        while todo.size:
            sub = rows[todo]
            found = np.full(todo.size, NEVER, dtype=np.int64)
            f_best = np.zeros(todo.size, dtype=np.int64)
            s_best = np.zeros(todo.size, dtype=np.int64)
            for f in range(self.F):
                d, s = self.slot_first(sub, f, cur[f, todo])
                better = d < found
                found = np.where(better, d, found)
                f_best = np.where(better, f, f_best)
                s_best = np.where(better, s, s_best)
            if first:
                cap_only = found.copy()
                first = False
            need = self.c.vector_units[f_best]
            if need.any():  # with no lot at all, vector_first says "never"
                v, lt = self.vector_first(sub, found, need)
                v = np.where(need > 0, v, found)
            else:
                v, lt = found, np.zeros(todo.size, dtype=np.int64)
            done = (found >= NEVER) | (v >= NEVER) | (v == found)
            finished = todo[done]
            day[finished] = np.where((v[done] >= NEVER), NEVER, found[done])
            fac[finished] = f_best[done]
            suite[finished] = s_best[done]
            lot[finished] = lt[done]
            todo = todo[~done]
            if todo.size:
                cur[:, todo] = np.maximum(cur[:, todo], v[~done][None, :])
        return day, fac, suite, lot, cap_only

    # ---------------------------------------------------------------- autologous
    def run_autologous(self) -> None:
        """Book every patient's runs in order of readiness, retries merged in time."""
        c, hz, n_runs = self.c, self.H, self.R
        earliest = c.scenario.trial.protocol.apheresis_earliest_days
        ready = np.full((n_runs, self.P), NEVER, dtype=np.int64)
        attempt0 = np.zeros((n_runs, self.P), dtype=np.int64)
        n_hist = len(c.history)
        fut = self.enrol[:, n_hist:]
        if fut.size:
            x = np.minimum(np.where(fut >= NEVER, hz + 1, fut + earliest), hz + 1)
            ready[:, n_hist:] = c.next_apheresis[self.site[:, n_hist:], x]
        # Retries: a small buffer per run, grown when needed.
        self.retry_day = np.full((n_runs, 4), NEVER, dtype=np.int64)
        self.retry_patient = np.zeros((n_runs, 4), dtype=np.int64)
        self.retry_attempt = np.zeros((n_runs, 4), dtype=np.int64)
        for h in c.history:
            p = h.index
            if h.state == "waiting":
                ready[:, p] = c.next_apheresis[h.site, min(max(h.enrolled + earliest, 0), hz + 1)]
            elif h.state == "collected":
                ready[:, p] = h.apheresis if h.apheresis is not None else 0
            elif h.state == "failed":
                ready[:, p] = c.next_apheresis[h.site, min(earliest, hz + 1)]
                attempt0[:, p] = 1
            else:
                self._in_flight(h.index, h.facility or 0, h.start or 0,
                                forced_success=h.state == "released")
        order = np.argsort(ready, axis=1, kind="stable")
        ready_sorted = np.take_along_axis(ready, order, axis=1)
        ptr = np.zeros(n_runs, dtype=np.int64)
        ready_flat = ready_sorted.reshape(-1)
        order_flat = order.reshape(-1)
        attempt0_flat = attempt0.reshape(-1)
        any_retry = bool((self.retry_day < NEVER).any())
        n_pat = self.P
        while True:
            has_first = ptr < n_pat
            head = self.ar * n_pat + np.minimum(ptr, n_pat - 1)  # flat index of the next one
            xa = np.where(has_first, ready_flat.take(head), NEVER)
            if any_retry:
                k = self.retry_day.argmin(axis=1)
                xb = self.retry_day[self.ar, k]
            else:  # no run failed yet: skip the retry buffer
                k = np.zeros(n_runs, dtype=np.int64)
                xb = np.full(n_runs, NEVER, dtype=np.int64)
            use_retry = xb < xa
            x = np.where(use_retry, xb, xa)
            active = x <= hz
            if not active.any():
                break
            rows = np.nonzero(active)[0]
            retry_rows = rows[use_retry[rows]]
            first_rows = rows[~use_retry[rows]]
            patient = np.empty(n_runs, dtype=np.int64)
            attempt = np.empty(n_runs, dtype=np.int64)
            patient[first_rows] = order_flat.take(head[first_rows])
            attempt[first_rows] = attempt0_flat.take(first_rows * n_pat + patient[first_rows])
            ptr[first_rows] += 1
            patient[retry_rows] = self.retry_patient[retry_rows, k[retry_rows]]
            attempt[retry_rows] = self.retry_attempt[retry_rows, k[retry_rows]]
            self.retry_day[retry_rows, k[retry_rows]] = NEVER
            self._book(rows, patient[rows], attempt[rows], x[rows])
            any_retry = bool((self.retry_day < NEVER).any())

    def _book(self, rows: IntArray, p: IntArray, attempt: IntArray, x: IntArray) -> None:
        c, hz = self.c, self.H
        flat = rows * self.P + p
        site = self.site.take(flat)
        lanes = c.lane_in[:, site]
        lo = np.where(lanes >= 0, np.maximum(x[None, :] + lanes, 0), NEVER)
        best, best_f, best_suite, best_lot, cap_only = self.earliest_start(rows, lo)
        # Stock-out: the patient could have started but for the vector.
        short = (best > cap_only) & (cap_only <= hz)
        self.first_stockout[rows] = np.where(
            short, np.minimum(self.first_stockout[rows], cap_only), self.first_stockout[rows])
        loss = self.loss.take(flat)
        lost = loss < best
        x = np.maximum(x, 0)  # material collected before today waits from today
        end = np.maximum(np.minimum(np.minimum(best, loss), hz + 1), x)
        self.add_waiting(rows, x, end)
        # Slot advice: did the start come within N days of the patient being ready?
        horizon_ok = x + self.within_days <= hz
        seen = horizon_ok & ~(lost & (loss < x + self.within_days))
        self.eligible += int(seen.sum())
        self.within += int((seen & (best <= x + self.within_days)).sum())

        self.lost_day[rows[lost], p[lost]] = loss[lost]
        book = ~lost & (best <= hz)
        if not book.any():
            return
        b = rows[book]
        pb, fb, db = p[book], best_f[book], best[book]
        m = c.manufacturing_days[fb]
        self.free_from[fb, best_suite[book], b] = db + m
        units = c.vector_units[fb]
        if self.L:
            lot = best_lot[book]
            self.units[b, lot] -= units
            self.consumed[b, lot, db // 7] += units
        if self.has_caps:
            self.month_used[b, fb, self.month[db]] += 1
        self._after_start(b, pb, fb, db, attempt[book], None)

    def add_waiting(self, rows: IntArray, start: IntArray, end: IntArray) -> None:
        """Count patients waiting over days [start, end) (rows unique) at week starts."""
        first = np.minimum(-(-start // 7), self.W)
        stop = np.minimum(-(-end // 7), self.W)
        flat = self.wait_diff.reshape(-1)  # a view: rows are unique, so += is exact
        base = rows * (self.W + 1)
        flat[base + first] += 1
        flat[base + stop] -= 1

    def occupy(self, rows: IntArray, f: IntArray, day: IntArray, m: IntArray) -> None:
        """Count suite-days used (for utilisation) and runs started within the horizon."""
        hz = self.H
        end = np.minimum(day + m, hz + 1)
        held = end > 0  # runs that started before today still hold their suite
        width = hz + 2
        size = self.F * width
        # bincount rather than np.add.at: the same sums, many times faster.
        self.busy_diff += (np.bincount(f[held] * width + np.maximum(day[held], 0), minlength=size)
                           - np.bincount(f[held] * width + end[held], minlength=size)
                           ).reshape(self.F, width)
        self.runs_made[rows[day >= 0]] += 1

    def _in_flight(self, p: int, f: int, start: int, forced_success: bool) -> None:
        """A history patient whose run started before today: it holds its suite."""
        rows = self.ar
        m = int(self.c.manufacturing_days[f])
        if start + m > 0 and self.c.suites[f] > 0:
            suite = self.free_from[f, : self.c.suites[f]].argmin(axis=0)
            self.free_from[f, suite, rows] = np.maximum(self.free_from[f, suite, rows], start + m)
        fs = np.full(self.R, f, dtype=np.int64)
        ps = np.full(self.R, p, dtype=np.int64)
        self._after_start(rows, ps, fs, np.full(self.R, start, dtype=np.int64),
                          np.zeros(self.R, dtype=np.int64),
                          np.ones(self.R, dtype=bool) if forced_success else None)

    def _after_start(self, rows: IntArray, p: IntArray, f: IntArray, day: IntArray,
                     attempt: IntArray, forced: NDArray[np.bool_] | None) -> None:
        """Manufacturing, QC release, shipment and infusion, or back to apheresis."""
        c, hz = self.c, self.H
        m = c.manufacturing_days[f]
        self.occupy(rows, f, day, m)
        release = day + m + c.qc_days[f]
        ok = forced if forced is not None else (
            self.success_draw.reshape(-1).take(
                (rows * self.P + p) * self.A + np.minimum(attempt, self.A - 1)) < c.success[f])
        flat = rows * self.P + p
        site = self.site.take(flat)
        loss = self.loss.take(flat)
        arrival = np.maximum(release + c.lane_out[f, site], 0)
        infusion = c.next_infusion[site, np.minimum(arrival, hz + 1)]
        # Out of shelf life before it could be infused: as good as a failed run. (An
        # infusion beyond the horizon is not judged.)
        good = ok & ((infusion >= NEVER) | (infusion <= release + c.shelf_days[f]))
        lost = good & (loss < infusion)
        self.lost_day[rows[lost], p[lost]] = loss[lost]
        inf_ok = good & ~lost
        self.infusion[rows[inf_ok], p[inf_ok]] = infusion[inf_ok]
        failed = ~good
        if not failed.any():
            return
        nxt = attempt + 1
        give_up = failed & (nxt >= self.A)
        self.withdrawn_day[rows[give_up], p[give_up]] = np.maximum(release[give_up], 0)
        again = failed & ~give_up
        earliest = c.scenario.trial.protocol.apheresis_earliest_days
        x2 = c.next_apheresis[site, np.clip(release + earliest, 0, hz + 1)]
        lost2 = again & (loss < x2)
        self.lost_day[rows[lost2], p[lost2]] = loss[lost2]
        push = again & ~lost2 & (x2 <= hz)
        if push.any():
            self._push_retry(rows[push], p[push], nxt[push], x2[push])

    def _push_retry(self, rows: IntArray, p: IntArray, attempt: IntArray, day: IntArray) -> None:
        free = self.retry_day[rows] >= NEVER
        if not free.any(axis=1).all():
            grow = self.retry_day.shape[1]
            self.retry_day = np.pad(self.retry_day, ((0, 0), (0, grow)), constant_values=NEVER)
            self.retry_patient = np.pad(self.retry_patient, ((0, 0), (0, grow)))
            self.retry_attempt = np.pad(self.retry_attempt, ((0, 0), (0, grow)))
            free = self.retry_day[rows] >= NEVER
        k = free.argmax(axis=1)
        self.retry_day[rows, k] = day
        self.retry_patient[rows, k] = p
        self.retry_attempt[rows, k] = attempt

    # ---------------------------------------------------------------- batch
    def run_batch(self) -> None:
        """Batches made to cover forecast demand; patients dosed first come, first served."""
        from chainsight.forecast.batch import run_batch

        run_batch(self)

    # ---------------------------------------------------------------- results
    def result(self) -> ChunkResult:
        """Reduce the per-patient outcomes to what the forecast reports."""
        c, hz, n_runs, n_weeks = self.c, self.H, self.R, self.W
        week_starts = np.arange(n_weeks) * 7

        def weekly_counts(days: IntArray) -> IntArray:
            ok = (days >= 0) & (days <= hz)
            rr = np.broadcast_to(self.ar[:, None], days.shape)[ok]
            flat = rr * n_weeks + days[ok] // 7
            counts = np.bincount(flat, minlength=n_runs * n_weeks)
            return counts.reshape(n_runs, n_weeks).astype(np.int64)

        enrolled = weekly_counts(self.enrol)
        # Patients already closed but enrolled today count in week 0's enrolment.
        closed_today = c.enrolled_today - sum(1 for h in c.history if h.enrolled == 0)
        enrolled[:, 0] += closed_today
        infused = weekly_counts(self.infusion)
        waiting = np.cumsum(self.wait_diff, axis=1)[:, :n_weeks]

        # Vector on hand at each week start: valid lots' units not yet consumed.
        running = np.cumsum(self.consumed, axis=2)[:, :, : n_weeks - 1]
        cum_before = np.concatenate(
            [np.zeros((n_runs, self.L, 1), dtype=np.int64), running], axis=2)
        left = c.lot_units[None, :, None] - cum_before
        w = week_starts[None, None, :]
        valid = ((w >= c.lot_first[None, :, None]) & (w <= c.lot_last[None, :, None])) | (
            (w >= self.ext_first[:, :, None]) & (w <= self.ext_last[:, :, None]))
        on_hand = (left * valid).sum(axis=1)
        total_used = self.consumed.sum(axis=2)
        expires_in = (self.expiry >= 0) & (self.expiry < hz)
        expired = ((c.lot_units[None, :] - total_used) * expires_in).sum(axis=1)

        inf_ok = self.infusion <= hz
        # Lost: the loss day comes within the horizon before the journey ends (infusion
        # or withdrawal), whatever the patient was waiting for at that moment.
        lost_ok = (self.enrol <= hz) & (self.loss <= hz) & (self.loss < self.infusion) & (
            self.loss < self.withdrawn_day)
        withdrawn_ok = (self.withdrawn_day <= hz) & (self.withdrawn_day <= self.loss)
        resolved = np.where(inf_ok, self.infusion, NEVER)
        resolved = np.minimum(resolved, np.where(lost_ok, self.loss, NEVER))
        resolved = np.minimum(resolved, np.where(withdrawn_ok, self.withdrawn_day, NEVER))
        all_done = (resolved <= hz).all(axis=1) & (self.completion <= hz)
        last_inf = np.where(inf_ok, self.infusion, -1).max(axis=1, initial=-1)
        last_infusion = np.where(all_done & (last_inf >= 0), last_inf, NEVER)

        ttt = np.where(inf_ok, self.infusion - self.enrol, -1)
        offset = max(0, -int(self.enrol.min(initial=0)))
        vals = ttt[inf_ok]
        ttt_hist = np.bincount(vals, minlength=hz + 2 + offset).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            n_inf = inf_ok.sum(axis=1)
            ttt_mean = np.where(n_inf > 0, np.where(inf_ok, ttt, 0).sum(axis=1) / np.maximum(
                n_inf, 1), np.nan)

        busy_daily = np.cumsum(self.busy_diff, axis=1)[:, : hz + 1].astype(np.float64)
        avail_daily = np.zeros((self.F, hz + 1))
        for j in range(self.F):
            counts = np.bincount(np.minimum(self.ready[:, j], hz + 1), minlength=hz + 2)
            open_runs = np.cumsum(counts)[: hz + 1]
            avail_daily[j] = c.free_suites[j, : hz + 1] * open_runs
        pad = n_weeks * 7 - (hz + 1)
        busy = np.pad(busy_daily, ((0, 0), (0, pad))).reshape(self.F, n_weeks, 7).sum(axis=2)
        available = np.pad(avail_daily, ((0, 0), (0, pad))).reshape(self.F, n_weeks, 7).sum(axis=2)
        return ChunkResult(
            enrolled_weekly=enrolled, infused_weekly=infused, waiting_weekly=waiting,
            on_hand_weekly=on_hand.astype(np.int64), completion=self.completion,
            last_infusion=last_infusion, lost=lost_ok.sum(axis=1).astype(np.int64),
            withdrawn=withdrawn_ok.sum(axis=1).astype(np.int64),
            infused=inf_ok.sum(axis=1).astype(np.int64), expired_units=expired.astype(np.int64),
            first_stockout=self.first_stockout, ttt_hist=ttt_hist, ttt_mean=ttt_mean,
            busy=busy, available=available, within=self.within, eligible=self.eligible,
            runs_made=self.runs_made, doses_expired=self.doses_expired,
        )

"""The batch modality: batches made to cover forecast demand, doses that expire.

Per run and per day: released batches join the stock; waiting patients are dosed first
come, first served from the batches that expire first (a patient may take doses from
two batches when one runs short); and a batch is started when the doses on hand plus
those in production fall below the doses waiting patients need plus the doses expected
to be needed over the production lead time (a make-to-forecast replenishment policy
with the model's expected enrolment rate). A batch occupies a suite like a run,
consumes vector, fails with ``1 - success_rate`` (no doses), and its doses can be
allocated while they can still be shipped and infused before they expire.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from chainsight.forecast.model import NEVER

if TYPE_CHECKING:
    from chainsight.forecast.engine import _Runs

IntArray = NDArray[np.int64]


def run_batch(sim: _Runs) -> None:
    """Simulate the batch modality for every run of ``sim`` (see the module docstring)."""
    c, hz, n_runs, n_fac = sim.c, sim.H, sim.R, sim.F
    ar = sim.ar
    n_pat = sim.P
    n_future = c.future_patients
    max_m = int(c.manufacturing_days.max()) if n_fac else 1
    occ = np.zeros((n_runs, max(n_fac, 1), hz + 2 + max_m), dtype=np.int64)
    max_lane = int(c.lane_out.max(initial=0))
    # Doses are allocated only while they can still reach a site and be infused.
    guard = max_lane + 7
    lead = int((c.manufacturing_days + c.qc_days).max(initial=0)) + max_lane + 7

    # Expected enrolment rate (patients/day) by day, from the fitted model and the
    # planned openings: what a planner knows, not the run's drawn rates.
    fit = sim.fit
    mean_rate = fit.posterior_mean_factor() * fit.planned_per_day
    opens = np.empty(len(c.site_ids))
    for i, site in enumerate(c.scenario.sites):
        if site.activation.actual is not None:
            opens[i] = (site.activation.actual - c.scenario.today).days
        else:
            opens[i] = max((site.activation.planned - c.scenario.today).days, 0) + \
                sim.config.activation_delay_mean_days
    days = np.arange(hz + 2)
    rate_by_day = (mean_rate[None, :] * (opens[None, :] <= days[:, None])).sum(axis=1)
    mean_doses = float((c.dose_values * c.dose_weights).sum())

    enrolled_by_day = np.zeros((n_runs, hz + 2), dtype=np.int64)
    doses_by_day = np.zeros((n_runs, hz + 2), dtype=np.int64)
    e = np.clip(sim.enrol, 0, hz + 1)
    np.add.at(enrolled_by_day, (np.broadcast_to(ar[:, None], e.shape), e),
              (sim.enrol < NEVER).astype(np.int64))
    np.add.at(doses_by_day, (np.broadcast_to(ar[:, None], e.shape), e),
              np.where(sim.enrol < NEVER, sim.doses, 0))
    n_hist = len(c.history)
    enrolled_cum = np.cumsum(enrolled_by_day, axis=1) - n_hist  # future enrolments so far
    doses_cum = np.cumsum(doses_by_day, axis=1)

    order = np.argsort(sim.enrol, axis=1, kind="stable")
    head = np.zeros(n_runs, dtype=np.int64)
    dosed_q = np.zeros(n_runs, dtype=np.int64)
    gone_q = np.zeros(n_runs, dtype=np.int64)
    dose_day = np.full((n_runs, n_pat), NEVER, dtype=np.int64)

    cap = 8
    b_rel = np.full((n_runs, cap), NEVER, dtype=np.int64)
    b_exp = np.full((n_runs, cap), -1, dtype=np.int64)
    b_left = np.zeros((n_runs, cap), dtype=np.int64)
    b_fac = np.zeros((n_runs, cap), dtype=np.int64)
    n_b = np.zeros(n_runs, dtype=np.int64)
    pipeline = np.zeros(n_runs, dtype=np.int64)
    draws = sim.success_draw.reshape(n_runs, -1)

    for h in c.history:  # a dose already released: infused when it arrives
        if h.state == "released":
            f = h.facility or 0
            arrival = max(0, (h.start or 0) + int(c.manufacturing_days[f] + c.qc_days[f])
                          + int(c.lane_out[f, h.site]))
            day = c.next_infusion[h.site, min(arrival, hz + 1)]
            lost = sim.loss[:, h.index] < day
            sim.lost_day[lost, h.index] = sim.loss[lost, h.index]
            sim.infusion[~lost, h.index] = day
            dose_day[:, h.index] = 0

    for d in range(hz + 1):
        # Batches released today: their nominal doses leave the pipeline.
        released_today = b_rel == d
        pipeline -= (released_today * c.doses_per_batch[b_fac]).sum(axis=1)
        usable = (b_rel <= d) & (b_exp >= d + guard)
        stock = (b_left * usable).sum(axis=1)

        # Dose waiting patients, first come first served.
        for _ in range(n_pat + 1):
            hp = order[ar, np.minimum(head, n_pat - 1)]
            present = (head < n_pat) & (sim.enrol[ar, hp] <= d)
            done_already = present & (dose_day[ar, hp] < NEVER)
            lost = present & ~done_already & (sim.loss[ar, hp] <= d)
            if lost.any():
                rows = np.nonzero(lost)[0]
                sim.lost_day[rows, hp[rows]] = sim.loss[rows, hp[rows]]
                gone_q[rows] += sim.doses[rows, hp[rows]]
            need = sim.doses[ar, hp]
            can = present & ~done_already & ~lost & (need <= stock)
            advance = done_already | lost | can
            if not advance.any():
                break
            if can.any():
                rows = np.nonzero(can)[0]
                _dose(sim, rows, hp[rows], need[rows], d, b_left, b_exp, b_fac, usable,
                      dose_day)
                stock[rows] -= need[rows]
                dosed_q[rows] += need[rows]
            head[advance] += 1

        # Replenish: doses waiting plus expected demand over the lead time.
        waiting_q = doses_cum[:, d] - dosed_q - gone_q
        remaining = np.maximum(n_future - enrolled_cum[:, d], 0)
        expected = np.minimum(rate_by_day[min(d + lead, hz + 1)] * lead, remaining) * mean_doses
        want = stock + pipeline < waiting_q + expected
        for f in range(n_fac):
            m = int(c.manufacturing_days[f])
            if not c.start_ok[f, d] or c.suites[f] == 0 or not want.any():
                continue
            window = c.free_suites[f, d:d + m][None, :] - occ[:, f, d:d + m]
            room = want & (sim.ready[:, f] <= d) & (window.min(axis=1) >= 1)
            if not room.any():
                continue
            rows = np.nonzero(room)[0]
            u = int(c.vector_units[f])
            if u > 0:
                v, lot = sim.vector_first(rows, np.full(rows.size, d, dtype=np.int64),
                                          np.full(rows.size, u, dtype=np.int64))
                has = v == d
                short = rows[~has]
                sim.first_stockout[short] = np.minimum(sim.first_stockout[short], d)
                rows, lot = rows[has], lot[has]
                sim.units[rows, lot] -= u
                sim.consumed[rows, lot, d // 7] += u
            if rows.size == 0:
                continue
            occ[rows, f, d:d + m] += 1
            full = n_b[rows] >= b_rel.shape[1]
            if full.any():
                grow = b_rel.shape[1]
                b_rel = np.pad(b_rel, ((0, 0), (0, grow)), constant_values=NEVER)
                b_exp = np.pad(b_exp, ((0, 0), (0, grow)), constant_values=-1)
                b_left = np.pad(b_left, ((0, 0), (0, grow)))
                b_fac = np.pad(b_fac, ((0, 0), (0, grow)))
            k = n_b[rows]
            release = d + m + int(c.qc_days[f])
            ok = draws[rows, k % draws.shape[1]] < c.success[f]
            b_rel[rows, k] = release
            b_exp[rows, k] = release + int(c.shelf_days[f])
            b_left[rows, k] = np.where(ok, c.doses_per_batch[f], 0)
            b_fac[rows, k] = f
            n_b[rows] += 1
            pipeline[rows] += c.doses_per_batch[f]
            sim.occupy(rows, np.full(rows.size, f, dtype=np.int64),
                       np.full(rows.size, d, dtype=np.int64), np.full(rows.size, m, dtype=np.int64))
            want[rows] = (stock + pipeline < waiting_q + expected)[rows]

    # Waiting for doses (reported as waiting_for_slot): from enrolment to dosing or loss.
    start = np.clip(sim.enrol, 0, hz + 1)
    end = np.minimum(np.minimum(dose_day, sim.lost_day), hz + 1)
    end = np.maximum(end, start)
    for p in range(n_pat):
        sim.add_waiting(ar, start[:, p], end[:, p])
    expired = (b_exp < hz) & (b_rel <= hz)
    sim.doses_expired = (b_left * expired).sum(axis=1).astype(np.int64)


def _dose(sim: _Runs, rows: IntArray, p: IntArray, need: IntArray, d: int,
          b_left: IntArray, b_exp: IntArray, b_fac: IntArray, usable: NDArray[np.bool_],
          dose_day: IntArray) -> None:
    """Take ``need`` doses for patient ``p`` from the first-expiring usable batches."""
    c, hz = sim.c, sim.H
    need = need.copy()
    first_fac = np.full(rows.size, -1, dtype=np.int64)
    while (need > 0).any():
        key = np.where(usable[rows] & (b_left[rows] > 0), b_exp[rows], NEVER)
        k = key.argmin(axis=1)
        take = np.minimum(need, b_left[rows, k])
        if not take.any():  # nothing left to take: the caller checked the stock
            break
        b_left[rows, k] -= take
        need -= take
        first_fac = np.where(first_fac < 0, b_fac[rows, k], first_fac)
    site = sim.site[rows, p]
    arrival = d + c.lane_out[first_fac, site]
    infusion = c.next_infusion[site, np.minimum(np.maximum(arrival, 0), hz + 1)]
    dose_day[rows, p] = d
    lost = sim.loss[rows, p] < infusion
    sim.lost_day[rows[lost], p[lost]] = sim.loss[rows[lost], p[lost]]
    sim.infusion[rows[~lost], p[~lost]] = infusion[~lost]

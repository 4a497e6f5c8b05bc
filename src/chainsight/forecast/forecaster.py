"""The forecast: simulate many runs of the chain and summarise them as P10 / P50 / P90.

``forecast(scenario, runs, seed)`` returns the ``chainsight-forecast/1`` JSON of
SCENARIO_FORMAT.md. Conventions where the format leaves room:

* quantiles are the sample's own values (``inverted_cdf``), so counts stay integers and
  the same seed gives the same numbers on every platform;
* a date that, in the runs at that quantile, does not come within the horizon is
  ``null`` (``enrollment_complete`` when the target is not reached, ``last_infusion``
  when a patient is still in the chain at the horizon's end);
* ``time_to_treatment_days`` pools every patient infused within the horizon in every
  run (enrolment to infusion), history patients included;
* ``suite_utilisation`` is the trial's suite-days in use over the suite-days open to it
  (suites minus reservations, from the facility's ready day), over all runs; 0.0 in a
  week with no capacity;
* ``vector_units_on_hand`` counts units of lots released and not expired on the week's
  first day; ``vector_units_expired`` the units of lots whose last valid day falls
  inside the horizon, left unused;
* ``vector_stockout_probability.by_horizon_end`` is the share of runs in which some
  patient could have started manufacturing but for the vector; ``first_week_p10`` the
  week by which a tenth of runs have had their first stock-out (null if fewer do).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import math
import multiprocessing as mp
import platform
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy
from numpy.typing import NDArray

from chainsight.domain import Scenario
from chainsight.forecast.config import ForecastConfig
from chainsight.forecast.engine import ChunkResult, Overrides, simulate_chunk
from chainsight.forecast.enrollment import EnrollmentFit, fit_enrollment
from chainsight.forecast.model import NEVER, Compiled, compile_scenario, scenario_digest

FORMAT = "chainsight-forecast/1"
Progress = Callable[[int, int], None]

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Simulation:
    """All runs of one forecast, per run, before they are summarised."""

    compiled: Compiled
    fit: EnrollmentFit
    config: ForecastConfig
    runs: int
    seed: int
    enrolled_weekly: IntArray
    infused_weekly: IntArray
    waiting_weekly: IntArray
    on_hand_weekly: IntArray
    completion: IntArray
    last_infusion: IntArray
    lost: IntArray
    withdrawn: IntArray
    infused: IntArray
    expired_units: IntArray
    first_stockout: IntArray
    ttt_hist: IntArray
    ttt_mean: NDArray[np.float64]
    busy: NDArray[np.float64]
    available: NDArray[np.float64]
    within: int
    eligible: int
    runs_made: IntArray
    doses_expired: IntArray

    @property
    def share_within(self) -> float:
        """Share of bookings starting within the slot-advice window of being ready."""
        return self.within / self.eligible if self.eligible else 1.0


def simulate(
    scenario: Scenario, runs: int, seed: int, config: ForecastConfig | None = None,
    overrides: Overrides | None = None, within_days: int = 14,
    progress: Progress | None = None, fit: EnrollmentFit | None = None, workers: int = 1,
) -> Simulation:
    """Run the Monte Carlo simulation; ``progress(done, total)`` is told after each chunk.

    The runs are simulated in chunks of ``config.chunk_runs``; chunk ``k`` draws from
    child ``k`` of ``SeedSequence(seed)``, so a seed reproduces the same runs whatever
    reports progress, and a what-if on the same seed sees the same draws. With
    ``workers`` > 1 the chunks run in that many processes: the same runs, the same
    result, sooner on a machine with the cores.
    """
    if runs <= 0:
        raise ValueError(f"runs must be a positive number, not {runs}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    config = config or ForecastConfig()
    compiled = compile_scenario(scenario)
    fit = fit or fit_enrollment(scenario, config)
    chunks = math.ceil(runs / config.chunk_runs)
    seqs = np.random.SeedSequence(seed).spawn(chunks)
    sizes = [min(config.chunk_runs, runs - k * config.chunk_runs) for k in range(chunks)]
    jobs = [(compiled, fit, sizes[k], seqs[k], config, overrides, within_days)
            for k in range(chunks)]
    parts: list[ChunkResult] = []
    if workers > 1 and chunks > 1:
        # fork shares the compiled scenario without re-importing the package; the chunks
        # come back in order, so the result is the serial one.
        context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else None)
        with ProcessPoolExecutor(max_workers=min(workers, chunks), mp_context=context) as pool:
            for part in pool.map(_run_chunk, jobs):
                parts.append(part)
                if progress is not None:
                    progress(sum(sizes[: len(parts)]), runs)
    else:
        for job in jobs:
            parts.append(_run_chunk(job))
            if progress is not None:
                progress(sum(sizes[: len(parts)]), runs)

    def cat(name: str) -> Any:
        return np.concatenate([getattr(p, name) for p in parts], axis=0)

    width = max(p.ttt_hist.size for p in parts)
    hist = sum((np.pad(p.ttt_hist, (0, width - p.ttt_hist.size)) for p in parts),
               np.zeros(width, dtype=np.int64))
    return Simulation(
        compiled=compiled, fit=fit, config=config, runs=runs, seed=seed,
        enrolled_weekly=cat("enrolled_weekly"), infused_weekly=cat("infused_weekly"),
        waiting_weekly=cat("waiting_weekly"), on_hand_weekly=cat("on_hand_weekly"),
        completion=cat("completion"), last_infusion=cat("last_infusion"), lost=cat("lost"),
        withdrawn=cat("withdrawn"), infused=cat("infused"),
        expired_units=cat("expired_units"), first_stockout=cat("first_stockout"),
        ttt_hist=hist, ttt_mean=cat("ttt_mean"),
        busy=sum((p.busy for p in parts), np.zeros_like(parts[0].busy)),
        available=sum((p.available for p in parts), np.zeros_like(parts[0].available)),
        within=sum(p.within for p in parts), eligible=sum(p.eligible for p in parts),
        runs_made=cat("runs_made"), doses_expired=cat("doses_expired"),
    )


def _run_chunk(job: tuple[Any, ...]) -> ChunkResult:
    return simulate_chunk(*job)


def quantile(values: NDArray[Any], q: float) -> int:
    """The ``q`` quantile as one of the sample's values (integers stay integers)."""
    return int(np.quantile(values, q, method="inverted_cdf"))


def _pq(values: NDArray[Any], qs: tuple[float, ...] = (0.1, 0.5, 0.9)) -> dict[str, int]:
    return {f"p{round(q * 100)}": quantile(values, q) for q in qs}


def _hist_quantile(hist: IntArray, q: float) -> int | None:
    total = int(hist.sum())
    if total == 0:
        return None
    cdf = np.cumsum(hist)
    return int(np.searchsorted(cdf, q * total, side="left"))


def summarise(sim: Simulation, include_meta: bool = True) -> dict[str, Any]:
    """The forecast JSON of a simulation (format ``chainsight-forecast/1``)."""
    c = sim.compiled
    hz = c.horizon

    def date_or_null(day: int) -> str | None:
        return c.date(day).isoformat() if 0 <= day <= hz or day < 0 else None

    def dates(values: IntArray) -> dict[str, str | None]:
        return {k: date_or_null(v) if v < NEVER else None for k, v in _pq(values).items()}

    weekly = []
    for k in range(c.weeks):
        util = {}
        for j, fid in enumerate(c.facility_ids):
            avail = float(sim.available[j, k])
            util[fid] = round(float(sim.busy[j, k]) / avail, 4) if avail > 0 else 0.0
        weekly.append({
            "week_start": c.date(7 * k).isoformat(),
            "enrolled": _pq(sim.enrolled_weekly[:, k]),
            "infused": _pq(sim.infused_weekly[:, k]),
            "waiting_for_slot": _pq(sim.waiting_weekly[:, k], (0.5, 0.9)),
            "suite_utilisation": util,
            "vector_units_on_hand": _pq(sim.on_hand_weekly[:, k]),
        })
    stock = sim.first_stockout <= hz
    first_week = quantile(np.where(stock, sim.first_stockout, NEVER), 0.1)
    ttt50 = _hist_quantile(sim.ttt_hist, 0.5)
    ttt90 = _hist_quantile(sim.ttt_hist, 0.9)
    out: dict[str, Any] = {
        "format": FORMAT,
        "runs": sim.runs,
        "seed": sim.seed,
        "enrollment_complete": dates(sim.completion),
        "last_infusion": dates(sim.last_infusion),
        "weekly": weekly,
        "vector_stockout_probability": {
            "by_horizon_end": round(float(stock.mean()), 4),
            "first_week_p10": c.date(7 * (first_week // 7)).isoformat()
            if first_week <= hz else None,
        },
        "vector_units_expired": _pq(sim.expired_units, (0.5, 0.9)),
        "patients_lost_waiting": _pq(sim.lost, (0.5, 0.9)),
        "time_to_treatment_days": {"p50": ttt50, "p90": ttt90},
    }
    if not include_meta:
        return out
    scenario = c.scenario
    out.update({
        "trial": scenario.trial.id,
        "today": scenario.today.isoformat(),
        "horizon_end": scenario.trial.horizon_end.isoformat(),
        "modality": scenario.trial.modality,
        "enrollment_complete_probability": round(float((sim.completion <= hz).mean()), 4),
        "patients_infused": _pq(sim.infused),
        "patients_withdrawn_after_failed_runs": _pq(sim.withdrawn, (0.5, 0.9)),
        "manufacturing_runs_started": _pq(sim.runs_made),
        "doses_expired": _pq(sim.doses_expired, (0.5, 0.9))
        if scenario.trial.modality == "batch" else None,
        "enrollment_model": {
            **sim.fit.summary(),
            "site_rate_per_month": {
                sid: round(float(v), 4)
                for sid, v in zip(sim.fit.site_ids, sim.fit.posterior_mean_per_month(),
                                  strict=True)
            },
        },
        "parameters": sim.config.as_dict(),
        "inputs": {"scenario_sha256": scenario_digest(scenario),
                   "known_patients": c.known_enrolled,
                   "patients_to_enrol": c.future_patients},
        "versions": versions(),
    })
    return out


def versions() -> dict[str, str]:
    """Library versions a forecast depends on (recorded with it)."""
    try:
        own = importlib.metadata.version("chainsight")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source checkout
        own = "unknown"
    return {"chainsight": own, "numpy": np.__version__, "scipy": scipy.__version__,
            "python": platform.python_version()}


def forecast(
    scenario: Scenario, runs: int = 1000, seed: int = 0, config: ForecastConfig | None = None,
    overrides: Overrides | None = None, progress: Progress | None = None, workers: int = 1,
) -> dict[str, Any]:
    """Forecast the trial: the ``chainsight-forecast/1`` JSON (module docstring)."""
    return summarise(simulate(scenario, runs, seed, config, overrides, progress=progress,
                              workers=workers))


def day_of(scenario: Scenario, day: dt.date) -> int:
    """Days from the scenario's today to ``day``."""
    return (day - scenario.today).days

"""Synthetic trials: for the benchmark and for calibration against a known truth."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainsight.domain import Scenario, parse_scenario
from chainsight.forecast.enrollment import DAYS_PER_MONTH

_TODAY = dt.date(2027, 1, 4)
_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri"]


def _site(i: int, activation: dict[str, Any], rate: float) -> dict[str, Any]:
    return {
        "id": f"S{i + 1:02d}", "name": f"Site {i + 1}", "country": "US",
        "activation": activation, "enrollment_rate_per_month": round(rate, 4),
        "apheresis": {"weekdays": ["Mon", "Tue", "Wed", "Thu"], "per_day": 1},
        "infusion": {"weekdays": _WEEKDAYS, "per_day": 2},
    }


def _base(trial_id: str, today: dt.date, horizon: int, target: int) -> dict[str, Any]:
    return {
        "format": "chainsight/1",
        "trial": {"id": trial_id, "name": "Synthetic trial", "modality": "autologous",
                  "today": today.isoformat(), "horizon_days": horizon,
                  "target_enrollment": target,
                  "protocol": {"material": "cryopreserved", "dropout_per_week_waiting": 0.01}},
        "process": {"manufacturing_days": 10, "qc_release_days": 14, "success_rate": 0.93,
                    "vector_units_per_batch": 1, "doses_per_batch": 1,
                    "dp_shelf_life_days": 365},
    }


def synthetic_trial(n_sites: int = 36, target: int = 300, seed: int = 0,
                    horizon_days: int = 720) -> Scenario:
    """A large autologous trial: ``n_sites`` sites (a third open), three CDMOs (one in
    tech transfer), three vector lots and a campaign, and some patients in flight."""
    rng = np.random.default_rng(seed)
    today = _TODAY
    data = _base(f"SYN-{n_sites}-{target}", today, horizon_days, target)
    sites = []
    for i in range(n_sites):
        rate = float(rng.uniform(0.4, 1.6))
        if i < n_sites // 3:
            actual = today - dt.timedelta(days=int(rng.integers(30, 240)))
            sites.append(_site(i, {"planned": actual.isoformat(), "actual": actual.isoformat()},
                               rate))
        else:
            planned = today + dt.timedelta(days=int(rng.integers(0, 200)))
            sites.append(_site(i, {"planned": planned.isoformat(), "actual": None}, rate))
    data["sites"] = sites
    data["facilities"] = [
        {"id": "CDMO-A", "name": "A", "kind": "drug_product", "country": "US", "suites": 4,
         "start_weekdays": ["Mon", "Tue", "Wed", "Thu"], "ready": "2026-01-01",
         "reservations": [{"suites": 2, "start": "2027-04-01", "end": "2027-05-15"}]},
        {"id": "CDMO-B", "name": "B", "kind": "drug_product", "country": "NL", "suites": 3,
         "start_weekdays": ["Tue", "Thu"], "tech_transfer": "TT-B", "reservations": []},
        {"id": "CDMO-C", "name": "C", "kind": "drug_product", "country": "JP", "suites": 2,
         "start_weekdays": ["Mon", "Wed"], "ready": "2026-06-01", "reservations": [],
         "process": {"success_rate": 0.9, "manufacturing_days": 12}},
        {"id": "VEC-1", "name": "V", "kind": "vector", "country": "US", "suites": 1,
         "start_weekdays": ["Mon"], "ready": "2025-01-01", "reservations": []},
    ]
    lanes = []
    for s in sites:
        for f, (into, back) in {"CDMO-A": (1, 2), "CDMO-B": (2, 3), "CDMO-C": (3, 4)}.items():
            lanes.append({"from": s["id"], "to": f, "days": into})
            lanes.append({"from": f, "to": s["id"], "days": back})
    data["lanes"] = lanes
    data["vector"] = {
        "lots": [
            {"id": "LV-1", "facility": "VEC-1", "units": 60, "released": "2026-05-01",
             "expires": "2027-06-30", "extension": {"expires": "2027-12-31",
                                                    "readout": "2027-05-15",
                                                    "probability": 0.7}},
            {"id": "LV-2", "facility": "VEC-1", "units": 80, "released": "2027-03-01",
             "expires": "2028-06-30"},
            {"id": "LV-3", "facility": "VEC-1", "units": 40, "released": "2026-11-01",
             "expires": "2028-01-31"},
        ],
        "campaigns": [{"facility": "VEC-1", "earliest_start": "2027-04-01",
                       "lead_time_days": 180, "units": 120, "shelf_life_days": 540}],
    }
    data["tech_transfer"] = [{"id": "TT-B", "facility": "CDMO-B", "milestones": [
        {"id": "kickoff", "name": "Kick-off", "planned_start": "2026-10-01",
         "duration_days": 1, "done": "2026-10-01"},
        {"id": "eng", "name": "Engineering runs", "duration_days": 60, "after": ["kickoff"]},
        {"id": "ppq", "name": "PPQ", "duration_days": 60, "after": ["eng"],
         "slip_risk_days": 45},
    ]}]
    patients = []
    open_sites = [s for s in sites if s["activation"]["actual"]]
    for k in range(min(target // 10, 40)):
        site = open_sites[k % len(open_sites)]
        opened = dt.date.fromisoformat(site["activation"]["actual"])
        enrolled = today - dt.timedelta(days=int(rng.integers(0, min(60, (today - opened).days))))
        p: dict[str, Any] = {"id": f"P{k + 1:03d}", "site": site["id"],
                             "enrolled": enrolled.isoformat()}
        if k % 3 == 1:
            p["apheresis"] = (enrolled + dt.timedelta(days=0)).isoformat()
        patients.append(p)
    data["patients"] = patients
    return parse_scenario(data)


@dataclass(frozen=True)
class CalibrationCase:
    """A synthetic trial cut part-way, with its true (later) enrolment completion."""

    scenario: Scenario
    true_completion_day: float  # days after the scenario's today, continuous
    plan_completion_day: float  # what the planning assumption alone predicts


def calibration_case(
    rng: np.random.Generator, n_sites: int = 8, target: int = 45, alpha: float = 3.0,
    mean_rate_per_month: float = 0.8, plan_factor: float = 2.0, cut_share: float = 1 / 3,
) -> CalibrationCase:
    """Draw true site rates from ``Gamma(alpha, mean)``, enrol until ``cut_share`` of the
    target, and describe the trial at that point with a planning assumption
    ``plan_factor`` times the true mean rate. All sites opened on the same day."""
    rates = rng.gamma(alpha, mean_rate_per_month / alpha, size=n_sites) / DAYS_PER_MONTH
    total = rates.sum()
    times = np.cumsum(rng.standard_exponential(target)) / total
    sites = rng.choice(n_sites, size=target, p=rates / total)
    n_cut = max(1, round(target * cut_share))
    cut_time = times[n_cut - 1]
    opened = _TODAY
    today = opened + dt.timedelta(days=int(np.floor(cut_time)) + 1)
    # Enrolments that fell on the cut day itself are before "today" by construction.
    known = times < (today - opened).days
    data = _base("CAL", today, 3650, target)
    data["process"]["vector_units_per_batch"] = 0  # enrolment is what is calibrated
    plan_rate = plan_factor * mean_rate_per_month
    data["sites"] = [_site(i, {"planned": opened.isoformat(), "actual": opened.isoformat()},
                           plan_rate) for i in range(n_sites)]
    data["facilities"] = [{"id": "CDMO-A", "name": "A", "kind": "drug_product",
                           "country": "US", "suites": 4, "start_weekdays": _WEEKDAYS,
                           "ready": "2026-01-01"}]
    data["lanes"] = [lane for i in range(n_sites) for lane in (
        {"from": f"S{i + 1:02d}", "to": "CDMO-A", "days": 1},
        {"from": "CDMO-A", "to": f"S{i + 1:02d}", "days": 1})]
    data["patients"] = [
        {"id": f"P{k + 1:03d}", "site": f"S{sites[k] + 1:02d}",
         "enrolled": (opened + dt.timedelta(days=int(np.floor(times[k])))).isoformat()}
        for k in range(target) if known[k]
    ]
    elapsed = (today - opened).days
    remaining = target - int(known.sum())
    plan_total = n_sites * plan_rate / DAYS_PER_MONTH
    return CalibrationCase(
        scenario=parse_scenario(data),
        true_completion_day=float(times[-1] - elapsed),
        plan_completion_day=remaining / plan_total,
    )

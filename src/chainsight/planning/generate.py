"""Generated congested autologous trials for benchmarks and tests.

Enrolment outpaces the suites at first (a backlog on the planning day, a second CDMO
still in tech transfer), a quarter of the patients carry a higher priority, and one
vector lot expires early: the situations where first-come-first-served booking loses
most against a joint plan.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from chainsight.domain import Scenario, parse_scenario

_WEEK = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def congested_trial_data(patients: int, seed: int = 0,
                         today: dt.date = dt.date(2027, 1, 4),
                         suite_scale: float = 1.0) -> dict[str, Any]:
    """Scenario data of a congested trial with ``patients`` patients (reproducible).

    ``suite_scale`` multiplies both CDMOs' suites: below 1 the queue grows longer and
    the order in which patients are served matters more.
    """
    if suite_scale <= 0:
        raise ValueError(f"suite_scale must be positive, not {suite_scale}")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    horizon = 540

    def day(offset: int) -> str:
        return (today + dt.timedelta(days=int(offset))).isoformat()

    n_sites = max(3, patients // 20)
    sites = []
    for i in range(n_sites):
        aph = sorted(rng.choice(5, size=int(rng.integers(2, 5)), replace=False).tolist())
        sites.append({
            "id": f"S{i + 1:02d}", "name": f"Site {i + 1}", "country": "US",
            "activation": {"planned": day(-200), "actual": day(-200 + int(rng.integers(0, 60)))},
            "enrollment_rate_per_month": 1.0,
            "apheresis": {"weekdays": [_WEEK[d] for d in aph], "per_day": 1},
            "infusion": {"weekdays": list(_WEEK[:5]), "per_day": 2},
        })
    # Suites sized so that the first CDMO alone cannot keep up with enrolment (a queue
    # builds while the second is in tech transfer) and both together can clear it.
    run_days = 10
    needed = patients * run_days / 360
    suites_a = max(1, round(needed * 0.7 * suite_scale))
    suites_b = max(1, round(needed * 0.6 * suite_scale))
    facilities = [
        {"id": "CDMO-A", "name": "CDMO A", "kind": "drug_product", "country": "US",
         "suites": suites_a, "start_weekdays": ["Mon", "Tue", "Wed", "Thu"], "ready": day(-300),
         "reservations": [{"suites": max(1, suites_a // 3), "start": day(30), "end": day(90),
                           "label": "commercial campaign (other client)"}]},
        {"id": "CDMO-B", "name": "CDMO B", "kind": "drug_product", "country": "NL",
         "suites": suites_b, "start_weekdays": ["Tue", "Thu"], "ready": day(75),
         "process": {"qc_release_days": 7}, "reservations": []},
    ]
    lanes = []
    for s in sites:
        for f, (inbound, outbound) in (("CDMO-A", (1, 2)), ("CDMO-B", (2, 3))):
            lanes += [{"from": s["id"], "to": f, "days": inbound + int(rng.integers(0, 2))},
                      {"from": f, "to": s["id"], "days": outbound + int(rng.integers(0, 2))}]
    lots = [
        {"id": "LV-001", "units": max(2, patients // 5), "released": day(-200),
         "expires": day(100)},
        {"id": "LV-002", "units": max(2, patients // 2), "released": day(-30),
         "expires": day(horizon + 200)},
        {"id": "LV-003", "units": max(2, patients // 2), "released": day(60),
         "expires": day(horizon + 300)},
    ]
    # A tenth already waiting on the planning day, the rest over the first year.
    offsets = np.sort(np.concatenate([
        rng.integers(-40, 0, size=patients // 10),
        rng.integers(0, 360, size=patients - patients // 10)]))
    people = []
    for i, off in enumerate(offsets):
        people.append({"id": f"P{i + 1:04d}", "site": sites[int(rng.integers(0, n_sites))]["id"],
                       "enrolled": day(int(off)),
                       "priority": 2.0 if rng.random() < 0.25 else 1.0})
    return {
        "format": "chainsight/1",
        "trial": {"id": f"GEN-{patients}", "name": f"Generated congested trial ({patients})",
                  "modality": "autologous", "today": today.isoformat(), "horizon_days": horizon,
                  "target_enrollment": patients,
                  "protocol": {"apheresis_earliest_days": 3, "apheresis_latest_days": 28,
                               "material": "cryopreserved", "fresh_max_days_to_start": 3,
                               "infusion_latest_days_after_arrival": 21}},
        "process": {"manufacturing_days": run_days, "qc_release_days": 14, "success_rate": 0.93,
                    "vector_units_per_batch": 1, "doses_per_batch": 1,
                    "dp_shelf_life_days": 180},
        "sites": sites, "facilities": facilities, "lanes": lanes,
        "vector": {"lots": lots}, "patients": people,
        "objective": {"time_to_treatment": 1.0, "protocol_deviation": 50.0,
                      "vector_units_expired": 5.0},
    }


def congested_trial(patients: int, seed: int = 0, suite_scale: float = 1.0) -> Scenario:
    """A generated congested trial as a checked scenario."""
    return parse_scenario(congested_trial_data(patients, seed, suite_scale=suite_scale))

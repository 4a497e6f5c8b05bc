"""Tiny hand-built scenarios for planner tests, as data, parsed with the domain model."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from chainsight.domain import Scenario, parse_scenario

TODAY = dt.date(2027, 1, 4)  # a Monday
ALL_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def day(offset: int) -> str:
    """ISO date ``offset`` days after TODAY."""
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def base(modality: str = "autologous", patients: int = 2, suites: int = 1,
         material: str = "cryopreserved") -> dict[str, Any]:
    """One site, one facility, one lot; every calendar open; short process."""
    data: dict[str, Any] = {
        "format": "chainsight/1",
        "trial": {
            "id": "TINY", "name": "Tiny trial", "modality": modality,
            "today": TODAY.isoformat(), "horizon_days": 120, "target_enrollment": patients,
            "protocol": {"apheresis_earliest_days": 0, "apheresis_latest_days": 60,
                         "material": material, "fresh_max_days_to_start": 2,
                         "infusion_latest_days_after_arrival": 30},
        },
        "process": {"manufacturing_days": 5, "qc_release_days": 3, "success_rate": 0.9,
                    "vector_units_per_batch": 1,
                    "doses_per_batch": 4 if modality == "batch" else 1,
                    "dp_shelf_life_days": 60},
        "sites": [{
            "id": "S1", "name": "Site", "country": "US",
            "activation": {"planned": "2026-01-01", "actual": "2026-01-01"},
            "enrollment_rate_per_month": 1.0,
            "apheresis": {"weekdays": ALL_DAYS, "per_day": 5},
            "infusion": {"weekdays": ALL_DAYS, "per_day": 5},
        }],
        "facilities": [{
            "id": "F1", "name": "Facility", "kind": "drug_product", "country": "US",
            "suites": suites, "start_weekdays": ALL_DAYS, "ready": "2026-01-01",
            "reservations": [],
        }],
        "lanes": [{"from": "S1", "to": "F1", "days": 1}, {"from": "F1", "to": "S1", "days": 1}],
        "vector": {"lots": [{"id": "L1", "units": 50, "released": "2026-01-01",
                             "expires": "2028-01-01"}]},
        "patients": [{"id": f"P{i + 1:02d}", "site": "S1", "enrolled": day(0), "priority": 1.0}
                     for i in range(patients)],
        "objective": {"time_to_treatment": 1.0, "protocol_deviation": 50.0,
                      "vector_units_expired": 5.0, "batch_fixed_cost": 20.0,
                      "doses_expired": 5.0},
    }
    return data


def build(data: dict[str, Any]) -> Scenario:
    """Parse scenario data (a deep copy, so callers may keep editing theirs)."""
    return parse_scenario(copy.deepcopy(data))


def site2(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Add a second site S2 with lanes to F1 (and apply ``changes`` to it)."""
    site = copy.deepcopy(data["sites"][0]) | {"id": "S2", "name": "Site two"}
    site.update(changes)
    data["sites"].append(site)
    data["lanes"] += [{"from": "S2", "to": "F1", "days": 1}, {"from": "F1", "to": "S2", "days": 1}]
    return data

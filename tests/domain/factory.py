"""A small valid scenario as plain data, for tests to break one piece at a time."""

from __future__ import annotations

import copy
from typing import Any

BASE: dict[str, Any] = {
    "format": "chainsight/1",
    "trial": {
        "id": "T-1",
        "name": "Test trial",
        "modality": "autologous",
        "today": "2027-01-04",
        "horizon_days": 365,
        "target_enrollment": 10,
        "protocol": {
            "apheresis_earliest_days": 3,
            "apheresis_latest_days": 21,
            "material": "fresh",
            "fresh_max_days_to_start": 2,
            "infusion_latest_days_after_arrival": 14,
            "dropout_per_week_waiting": 0.01,
        },
    },
    "process": {
        "manufacturing_days": 10,
        "qc_release_days": 14,
        "success_rate": 0.92,
        "vector_units_per_batch": 1,
        "doses_per_batch": 1,
        "dp_shelf_life_days": 180,
    },
    "sites": [
        {
            "id": "S01",
            "name": "Site one",
            "country": "US",
            "activation": {"planned": "2026-09-01", "actual": "2026-09-20"},
            "enrollment_rate_per_month": 1.0,
            "apheresis": {"weekdays": ["Mon", "Tue"], "per_day": 1},
            "infusion": {"weekdays": ["Mon", "Tue", "Wed"], "per_day": 1},
        },
        {
            "id": "S02",
            "name": "Site two",
            "country": "FR",
            "activation": {"planned": "2027-02-01", "actual": None},
            "enrollment_rate_per_month": 0.5,
            "apheresis": {"weekdays": ["Wed"], "per_day": 1},
            "infusion": {"weekdays": ["Thu"], "per_day": 1},
        },
    ],
    "facilities": [
        {
            "id": "CDMO-A",
            "name": "Manufacturer A",
            "kind": "drug_product",
            "country": "US",
            "suites": 2,
            "start_weekdays": ["Mon", "Tue", "Wed", "Thu"],
            "ready": "2026-03-01",
            "reservations": [
                {"suites": 1, "start": "2027-02-01", "end": "2027-02-28", "label": "other client"}
            ],
        },
        {
            "id": "CDMO-B",
            "name": "Manufacturer B",
            "kind": "drug_product",
            "country": "NL",
            "suites": 1,
            "start_weekdays": ["Mon"],
            "tech_transfer": "TT-B",
            "reservations": [],
        },
        {
            "id": "VEC-1",
            "name": "Vector maker",
            "kind": "vector",
            "country": "US",
            "suites": 1,
            "start_weekdays": ["Mon"],
            "ready": "2025-01-01",
            "reservations": [],
        },
    ],
    "lanes": [
        {"from": "S01", "to": "CDMO-A", "days": 1},
        {"from": "CDMO-A", "to": "S01", "days": 2},
        {"from": "S02", "to": "CDMO-B", "days": 1},
        {"from": "CDMO-B", "to": "S02", "days": 2},
    ],
    "vector": {
        "lots": [
            {
                "id": "LV-001",
                "facility": "VEC-1",
                "units": 5,
                "released": "2026-02-10",
                "expires": "2027-02-15",
                "extension": {
                    "expires": "2027-08-15",
                    "readout": "2027-02-01",
                    "probability": 0.8,
                    "status": "pending",
                },
            }
        ],
        "campaigns": [
            {
                "facility": "VEC-1",
                "earliest_start": "2027-03-01",
                "lead_time_days": 180,
                "units": 60,
                "shelf_life_days": 540,
            }
        ],
    },
    "tech_transfer": [
        {
            "id": "TT-B",
            "facility": "CDMO-B",
            "milestones": [
                {"id": "kickoff", "name": "Kick-off", "planned_start": "2026-09-01",
                 "duration_days": 1, "done": "2026-09-01"},
                {"id": "docs", "name": "Docs", "duration_days": 60, "after": ["kickoff"]},
                {"id": "eng", "name": "Engineering", "duration_days": 40, "after": ["docs"]},
                {"id": "qa", "name": "QA review", "duration_days": 10, "after": ["docs"]},
                {"id": "gmp", "name": "GMP", "duration_days": 14, "after": ["eng", "qa"]},
            ],
        }
    ],
    "patients": [
        {"id": "P001", "site": "S01", "enrolled": "2026-10-05", "apheresis": "2026-10-12",
         "facility": "CDMO-A", "manufacturing_start": "2026-10-13", "vector_lot": "LV-001",
         "outcome": "infused", "infusion": "2026-11-16", "priority": 1.0},
        {"id": "P002", "site": "S01", "enrolled": "2026-12-28", "priority": 2.0},
    ],
    "objective": {"time_to_treatment": 1.0, "protocol_deviation": 50.0,
                  "vector_units_expired": 5.0},
}


def scenario_data() -> dict[str, Any]:
    """A fresh deep copy of the valid base scenario."""
    return copy.deepcopy(BASE)

"""A whole patient journey on the demo trial, as raw events, for domain and record tests.

Patient P004 (site S01, enrolled 2026-12-28) is collected on Tuesday 2027-01-05, made at
CDMO-A on lot LV-001 from Wednesday 2027-01-06, released on 2027-01-30 and infused on
Monday 2027-02-01.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from chainsight.domain.identity import make_coi

TRIAL = "CART-DEMO"
PATIENT = "P004"
COI = str(make_coi("A1234", 27, "000001"))
OTHER_COI = str(make_coi("A1234", 27, "000002"))
NOW = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)


def custody(day: str, origin: str, to: str, *, ok: bool = True) -> dict[str, Any]:
    """A hand-over at 10:00 UTC on ``day``; with ``ok=False`` a described excursion."""
    entry: dict[str, Any] = {"from": origin, "to": to, "by": "courier agent 7",
                             "where": f"{origin} dock", "at": f"{day}T10:00:00Z",
                             "temperature_ok": ok}
    if not ok:
        entry["excursion"] = {"description": "logger above range", "max_celsius": 12.5,
                              "minutes": 40}
    return entry


def event(kind: str, on: str, **fields: Any) -> dict[str, Any]:
    """A raw event of the demo trial about P004 unless ``patient`` says otherwise."""
    data: dict[str, Any] = {"kind": kind, "trial": TRIAL, "occurred_on": on,
                            "actor": "site coordinator", "patient": PATIENT}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def journey() -> list[dict[str, Any]]:
    """P004's journey from booking the apheresis to the infusion, in order."""
    return [
        event("apheresis_scheduled", "2027-01-04", day="2027-01-05"),
        event("apheresis_done", "2027-01-05", coi=COI, donation_id="G123417654321A"),
        event("material_shipped", "2027-01-05", coi=COI, facility="CDMO-A",
              custody=custody("2027-01-05", "S01", "courier")),
        event("material_received", "2027-01-06", coi=COI, facility="CDMO-A",
              custody=custody("2027-01-06", "courier", "CDMO-A")),
        event("run_started", "2027-01-06", coi=COI, facility="CDMO-A", vector_lot="LV-001"),
        event("qc_released", "2027-01-30", coi=COI),
        event("dp_shipped", "2027-01-30", coi=COI,
              custody=custody("2027-01-30", "CDMO-A", "courier")),
        event("dp_received", "2027-02-01", coi=COI,
              custody=custody("2027-02-01", "courier", "S01")),
        event("infused", "2027-02-01", coi=COI),
    ]

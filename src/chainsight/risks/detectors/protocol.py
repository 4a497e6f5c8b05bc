"""`protocol_window`: patients whose planned apheresis or infusion falls outside the windows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from chainsight.risks.alerts import Alert, alert_id, severity_of
from chainsight.risks.inputs import RadarInputs, parse_day


def _describe(deviation: Any) -> tuple[str, int]:
    """A plan deviation as (which window, days over)."""
    if isinstance(deviation, dict):
        window = str(deviation.get("window") or deviation.get("kind") or
                     deviation.get("rule") or "window")
        return window, int(deviation.get("days", 0) or 0)
    return str(deviation), 0


def detect(inputs: RadarInputs) -> list[Alert]:
    """One alert per patient the plan can only treat with a protocol deviation."""
    protocol = inputs.scenario.trial.protocol
    alerts: list[Alert] = []
    for row in inputs.planned_patients():
        deviations = row.get("deviations") or []
        if not deviations:
            continue
        described = [_describe(d) for d in deviations]
        days = sum(d for _, d in described)
        windows = sorted({w for w, _ in described})
        enrolled = parse_day(row.get("enrolled"))
        arrival = parse_day(row.get("dp_arrival"))
        is_apheresis = any("apheresis" in w for w in windows)
        if is_apheresis and enrolled is not None:
            due = enrolled + dt.timedelta(days=protocol.apheresis_latest_days)
            action = (f"Find an apheresis day for {row['patient']} at {row['site']} by {due} "
                      "(an extra apheresis day, or a slot freed by another patient), or file "
                      "the deviation with the protocol team.")
        else:
            due = (arrival + dt.timedelta(days=protocol.infusion_latest_days_after_arrival)
                   if arrival else inputs.today)
            action = (f"Schedule the infusion of {row['patient']} at {row['site']} by {due}, "
                      "or file the deviation with the protocol team.")
        # A day or three over is a deviation to file; two weeks over endangers the patient.
        impact = 1 if days <= 3 else 2 if days <= 14 else 3
        ends = [parse_day(d.get("window_end")) for d in deviations if isinstance(d, dict)]
        window_end = min((e for e in ends if e is not None), default=None)
        alerts.append(Alert(
            id=alert_id("protocol_window", row["patient"], *windows),
            kind="protocol_window",
            severity=severity_of(1.0, impact),
            title=(f"{row['patient']} at {row['site']}: planned outside the "
                   f"{' and '.join(windows)} window"
                   + (f" by {days} day{'s' if days != 1 else ''}" if days else "")),
            owner="site",
            due=max(inputs.today, window_end or due),
            action=action,
            evidence={"deviations": deviations, "apheresis": row.get("apheresis"),
                      "infusion": row.get("infusion"), "enrolled": row.get("enrolled")},
            probability=1.0,
            impact=impact,
            patients=[row["patient"]],
            sites=[row["site"]],
        ))
    return alerts

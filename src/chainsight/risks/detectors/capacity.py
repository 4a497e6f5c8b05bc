"""`capacity_shortfall`: weeks where forecast demand for suites exceeds what is free at a CDMO."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from chainsight.risks.alerts import Alert, alert_id, impact_level, severity_of
from chainsight.risks.inputs import RadarInputs, parse_day

# A facility whose suites are this busy in a week with patients waiting is the bottleneck.
SATURATED = 0.9
# Notice a CDMO needs to give the trial an extra slot.
SLOT_NOTICE_DAYS = 28


def _weeks_short(inputs: RadarInputs) -> list[dict[str, Any]]:
    floor = inputs.settings.capacity_wait_floor
    weeks = (inputs.forecast or {}).get("weekly", [])
    return [w for w in weeks if float((w.get("waiting_for_slot") or {}).get("p90", 0)) > floor]


def detect(inputs: RadarInputs) -> list[Alert]:
    """One alert per saturated facility: how many more slots, where, in which weeks."""
    if inputs.forecast is None:
        return []
    short = _weeks_short(inputs)
    if not short:
        return []
    scenario, today = inputs.scenario, inputs.today
    facilities = [f.id for f in scenario.dp_facilities]
    alerts: list[Alert] = []
    per_facility: dict[str, list[dict[str, Any]]] = {f: [] for f in facilities}
    for week in short:
        use = week.get("suite_utilisation") or {}
        # A queue beside idle suites is transit or weekday alignment, not a shortfall.
        for facility in facilities:
            if float(use.get(facility, 0.0)) >= SATURATED:
                per_facility[facility].append(week)
    for facility, weeks in per_facility.items():
        if not weeks:
            continue
        p50 = [float(w["waiting_for_slot"].get("p50", 0)) for w in weeks]
        p90 = [float(w["waiting_for_slot"]["p90"]) for w in weeks]
        first = parse_day(weeks[0]["week_start"]) or today
        extra = max(1, math.ceil(max(p90)))
        days_per_run = scenario.process_at(facility).manufacturing_days
        # Quantiles bound how likely the queue is: a median above zero means it is likely.
        probability = 0.75 if max(p50) >= 1 else 0.25
        impact = impact_level(max(p90))
        week_list = [w["week_start"] for w in weeks]
        span = week_list[0] if len(week_list) == 1 else f"{week_list[0]} to {week_list[-1]}"
        alerts.append(Alert(
            id=alert_id("capacity_shortfall", facility),
            kind="capacity_shortfall",
            severity=severity_of(probability, impact),
            title=(f"Patients queue for a suite at {facility} in {len(weeks)} weeks "
                   f"({span}): up to {max(p90):.0f} waiting (P90)"),
            owner="sponsor",
            due=max(today, first - dt.timedelta(days=SLOT_NOTICE_DAYS)),
            action=(f"Reserve {extra} more suite{'s' if extra > 1 else ''} at {facility} for "
                    f"the weeks {span} (about {extra * 7 / days_per_run:.1f} more run starts a "
                    "week), or move patients to another ready facility."),
            evidence={"weeks": week_list, "waiting_for_slot_p50": p50,
                      "waiting_for_slot_p90": p90,
                      "suite_utilisation": [
                          (w.get("suite_utilisation") or {}).get(facility) for w in weeks],
                      "extra_slots_per_week": extra},
            probability=probability,
            impact=impact,
            facilities=[facility],
            what_if={"label": f"{extra} more suite(s) at {facility} from {first}",
                     "suites": [{"facility": facility, "suites": extra,
                                 "from": first.isoformat()}]},
        ))
    return alerts

"""`shipment_stability`: fresh material or dry-shipper holds that a lane or a weekend breaks."""

from __future__ import annotations

import datetime as dt

from chainsight.domain import Scenario
from chainsight.domain.common import WEEKDAYS, weekday_numbers
from chainsight.risks.alerts import Alert, alert_id, impact_level, severity_of
from chainsight.risks.inputs import RadarInputs, parse_day


def _patients_at(inputs: RadarInputs, site: str, facility: str | None = None,
                 *, to_collect: bool = False) -> list[str]:
    """Open patients of ``site`` (made at ``facility`` when the plan says so); with
    ``to_collect``, only those whose apheresis is still ahead."""
    if inputs.plan is None:
        return sorted(
            p.id for p in inputs.scenario.patients
            if p.site == site and not p.is_closed
            and (not to_collect or p.apheresis is None or p.outcome == "failed")
        )
    rows = inputs.planned_patients()
    return sorted(
        r["patient"] for r in rows
        if r["site"] == site and (facility is None or r.get("facility") == facility)
        and (not to_collect or (parse_day(r.get("apheresis")) or inputs.today) >= inputs.today)
    )


def _reachable(scenario: Scenario, weekday: int, facility_id: str, lane: int) -> bool:
    """Whether fresh material collected on ``weekday`` can start at the facility in time.

    It arrives after ``lane`` days and must start by ``fresh_max_days_to_start`` days after
    collection, on one of the facility's start weekdays.
    """
    limit = scenario.trial.protocol.fresh_max_days_to_start
    starts = weekday_numbers(list(scenario.facility(facility_id).start_weekdays))
    return any((weekday + k) % 7 in starts for k in range(lane, limit + 1))


def detect(inputs: RadarInputs) -> list[Alert]:
    """Lanes and weekdays on which material cannot stay inside its stability window."""
    scenario = inputs.scenario
    alerts: list[Alert] = []
    due = inputs.today + dt.timedelta(days=7)
    if scenario.trial.protocol.material == "fresh":
        for site in scenario.sites:
            alert = _fresh_material(inputs, site.id, due)
            if alert is not None:
                alerts.append(alert)
    hold = inputs.settings.dry_shipper_hold_days
    for facility in scenario.dp_facilities:
        for site in scenario.sites:
            outbound = scenario.lane_days(facility.id, site.id)
            if outbound is None or outbound < hold:
                continue
            patients = _patients_at(inputs, site.id, facility.id)
            impact = impact_level(len(patients))
            alerts.append(Alert(
                id=alert_id("shipment_stability", "dry_shipper", facility.id, site.id),
                kind="shipment_stability",
                severity=severity_of(0.9, impact),
                title=(f"DP lane {facility.id} -> {site.id} takes {outbound} days, at or "
                       f"beyond the dry shipper's {hold}-day hold"),
                owner="courier",
                due=due,
                action=(f"Qualify a faster lane or a longer-hold shipper from {facility.id} "
                        f"to {site.id}, or re-ice the shipper at a hub on the way."),
                evidence={"lane_days": outbound, "dry_shipper_hold_days": hold},
                probability=0.9,
                impact=impact,
                patients=patients,
                facilities=[facility.id],
                sites=[site.id],
            ))
    return alerts


def _fresh_material(inputs: RadarInputs, site_id: str, due: dt.date) -> Alert | None:
    """One alert per site whose fresh material misses every start from some apheresis day.

    A weekday from which no facility can be reached in time is an apheresis day lost to
    the trial; one from which only some facilities are reachable is lost flexibility.
    """
    scenario = inputs.scenario
    site = scenario.site(site_id)
    if site.apheresis is None:
        return None
    limit = scenario.trial.protocol.fresh_max_days_to_start
    offered = list(site.apheresis.weekdays)
    lanes = {f.id: scenario.lane_days(site_id, f.id) for f in scenario.dp_facilities}
    routes: dict[str, list[str]] = {}
    for name in offered:
        day = WEEKDAYS.index(name)
        routes[name] = [f for f, lane in lanes.items()
                        if lane is not None and _reachable(scenario, day, f, lane)]
    lost = [d for d in offered if not routes[d]]
    narrowed = {f: [d for d in offered if f not in routes[d]]
                for f, lane in lanes.items() if lane is not None}
    narrowed = {f: days for f, days in narrowed.items() if days}
    if not lost and not narrowed:
        return None
    share = len(lost) / len(offered)
    patients = _patients_at(inputs, site_id, to_collect=True)
    impact = impact_level(len(patients) * share)
    if lost:
        kept = [d for d in offered if d not in lost]
        title = (f"Fresh material collected at {site_id} on {'/'.join(lost)} reaches no "
                 f"manufacturing start within {limit} days ({len(lost)} of {len(offered)} "
                 "apheresis days lost)")
        action = (f"Schedule apheresis at {site_id} on {'/'.join(kept) or 'no usable day'}; "
                  f"or ask a CDMO to open a start on the day the material arrives, or "
                  f"cryopreserve the material collected on {'/'.join(lost)}.")
        probability = share
    else:
        worst = max(narrowed, key=lambda f: len(narrowed[f]))
        title = (f"Fresh material collected at {site_id} on {'/'.join(narrowed[worst])} "
                 f"cannot start at {worst} within {limit} days")
        action = (f"Book {site_id}'s apheresis for {worst} only on days that reach one of its "
                  "starts; the plan does so already.")
        probability, impact = 0.25, 1
    return Alert(
        id=alert_id("shipment_stability", "fresh", site_id),
        kind="shipment_stability",
        severity=severity_of(probability, impact),
        title=title,
        owner="site",
        due=due,
        action=action,
        evidence={"apheresis_weekdays": offered, "weekdays_lost": lost,
                  "weekdays_not_reaching": narrowed,
                  "fresh_max_days_to_start": limit,
                  "lane_days": {f: d for f, d in lanes.items() if d is not None}},
        probability=probability,
        impact=impact,
        patients=patients,
        facilities=sorted(narrowed),
        sites=[site_id],
    )

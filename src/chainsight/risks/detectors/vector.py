"""Vector detectors: `vector_stockout`, `vector_campaign_deadline` and `vector_expiry`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from chainsight.domain import Lot
from chainsight.risks.alerts import Alert, alert_id, impact_level, severity_of
from chainsight.risks.inputs import RadarInputs, parse_day

# A campaign's lead time when the scenario lists none (months from slot to release).
DEFAULT_LEAD_TIME_DAYS = 180
# A new campaign's size and shelf life when the scenario lists no campaign to book.
DEFAULT_CAMPAIGN_UNITS = 60
DEFAULT_SHELF_LIFE_DAYS = 540
# How far ahead an expiring lot is worth watching even when the plan uses all of it.
EXPIRY_WATCH_DAYS = 90


def _stockout(inputs: RadarInputs) -> tuple[float, dt.date | None]:
    forecast = inputs.forecast or {}
    block: dict[str, Any] = forecast.get("vector_stockout_probability") or {}
    return float(block.get("by_horizon_end") or 0.0), parse_day(block.get("first_week_p10"))


def _open_patients(inputs: RadarInputs) -> int:
    scenario = inputs.scenario
    enrolled_open = sum(1 for p in scenario.patients if not p.is_closed)
    still_to_enrol = max(0, scenario.trial.target_enrollment - len(scenario.patients))
    return enrolled_open + still_to_enrol


def _next_release(inputs: RadarInputs, after: dt.date) -> Lot | None:
    """The first lot released after ``after`` (a stock-out before it is a gap, not the end)."""
    later = [lot for lot in inputs.scenario.vector.lots if lot.released > after]
    return min(later, key=lambda lot: lot.released) if later else None


def detect_stockout(inputs: RadarInputs) -> list[Alert]:
    """The chance of running out of vector before the horizon ends, and when."""
    probability, first_week = _stockout(inputs)
    if inputs.forecast is None or probability < inputs.settings.stockout_probability_floor:
        return []
    # A stock-out stops every patient still to be made: the impact is the open demand.
    impact = impact_level(_open_patients(inputs) * probability)
    lots = [lot.id for lot in inputs.scenario.vector.lots]
    due = (first_week - dt.timedelta(days=7)) if first_week else inputs.today
    pending = [lot for lot in inputs.scenario.vector.lots
               if lot.extension is not None and lot.extension.status == "pending"]
    chase = "; chase the pending extension readouts of " + ", ".join(
        f"{lot.id} ({lot.extension.readout})" for lot in pending if lot.extension
    ) if pending else ""
    gap_until = _next_release(inputs, first_week) if first_week else None
    if gap_until is not None:
        title = (f"{probability:.0%} chance of running out of vector before lot "
                 f"{gap_until.id} is released on {gap_until.released}"
                 + (f" (from the week of {first_week})" if first_week else ""))
        action = (f"Bridge the gap until {gap_until.id}: ask its manufacturer to expedite the "
                  f"release, and give the units on hand to the patients closest to "
                  f"manufacturing{chase}.")
    else:
        title = (f"{probability:.0%} chance of running out of vector before "
                 f"{inputs.scenario.trial.horizon_end}"
                 + (f", possibly from the week of {first_week}" if first_week else ""))
        action = ("Secure vector: book the next vector campaign (see the campaign deadline) "
                  f"and keep lots for the patients closest to manufacturing{chase}.")
    return [Alert(
        id=alert_id("vector_stockout", inputs.scenario.trial.id),
        kind="vector_stockout",
        severity=severity_of(probability, impact),
        title=title,
        owner="sponsor",
        due=max(inputs.today, due),
        action=action,
        evidence={"stockout_probability_by_horizon_end": probability,
                  "first_stockout_week_p10": first_week.isoformat() if first_week else None,
                  "gap_until_lot": gap_until.id if gap_until else None,
                  "open_demand_patients": _open_patients(inputs)},
        probability=probability,
        impact=impact,
        lots=lots,
    )]


def supply_exhaustion(inputs: RadarInputs) -> tuple[float, dt.date | None]:
    """When the vector already made (lots, without new campaigns) runs out for good.

    Read off the supply forecast (no new campaign booked): the first week after the last
    known lot release in which the units on hand at a quantile fall below one run's
    need. The P10 of units on hand gives the early date (nine runs in ten still have
    vector then); how many quantiles cross gives the probability.
    """
    forecast = inputs.supply_forecast or inputs.forecast or {}
    per_run = max(1, inputs.scenario.process.vector_units_per_batch)
    releases = [lot.released for lot in inputs.scenario.vector.lots]
    last_release = max(releases) if releases else inputs.today
    weeks = [w for w in forecast.get("weekly", [])
             if (parse_day(w["week_start"]) or inputs.today) >= last_release]

    def crossing(q: str) -> dt.date | None:
        for week in weeks:
            if float((week.get("vector_units_on_hand") or {}).get(q, per_run)) < per_run:
                return parse_day(week["week_start"])
        return None

    early = crossing("p10")
    if early is None:
        return 0.0, None
    probability = 0.9 if crossing("p90") else 0.5 if crossing("p50") else 0.2
    return probability, early


def detect_campaign_deadline(inputs: RadarInputs) -> list[Alert]:
    """The day by which the next vector campaign must be booked so that its lot is
    released before the early (P10) stock-out week of the vector already made."""
    if inputs.forecast is None and inputs.supply_forecast is None:
        return []
    probability, first_week = supply_exhaustion(inputs)
    if first_week is None or probability < inputs.settings.stockout_probability_floor:
        return []
    scenario, today = inputs.scenario, inputs.today
    campaigns = sorted(scenario.vector.campaigns, key=lambda c: c.earliest_release)
    campaign = campaigns[0] if campaigns else None
    lead = campaign.lead_time_days if campaign else DEFAULT_LEAD_TIME_DAYS
    deadline = first_week - dt.timedelta(days=lead)
    earliest = campaign.earliest_start if campaign else today
    start = max(deadline, earliest, today)
    release = start + dt.timedelta(days=lead)
    days_left = (deadline - today).days
    if days_left < 0:
        probability_late = probability
        title = (f"Vector campaign deadline passed {-days_left} days ago: the earliest "
                 f"campaign ({start}) releases on {release}, after the vector on hand may "
                 f"run out ({first_week})")
    elif days_left <= inputs.settings.campaign_warning_days:
        probability_late = probability
        title = (f"Book the next vector campaign by {deadline} ({days_left} days left) to be "
                 f"released before the possible stock-out ({first_week})")
    else:
        probability_late = probability / 2
        title = (f"Next vector campaign must be booked by {deadline} to be released before "
                 f"the possible stock-out ({first_week})")
    impact = impact_level(_open_patients(inputs) * probability)
    where = campaign.facility if campaign else "the vector manufacturer"
    # The action is a booking of a new campaign: the radar weighs it against the supply
    # forecast, in which no listed campaign is counted as booked.
    vector_makers = [f.id for f in scenario.facilities if f.kind == "vector"]
    maker = campaign.facility if campaign else (vector_makers[0] if vector_makers else None)
    what_if = None if maker is None else {
        "label": f"vector campaign booked to start {start}",
        "campaigns": [{
            "facility": maker, "start": start.isoformat(), "lead_time_days": lead,
            "units": campaign.units if campaign else DEFAULT_CAMPAIGN_UNITS,
            "shelf_life_days": campaign.shelf_life_days if campaign else DEFAULT_SHELF_LIFE_DAYS,
        }],
    }
    return [Alert(
        id=alert_id("vector_campaign_deadline", scenario.trial.id),
        kind="vector_campaign_deadline",
        severity=severity_of(probability_late, impact),
        title=title,
        owner="sponsor",
        due=max(today, deadline),
        action=(f"Book a vector campaign at {where} to start on {start} "
                f"(release {release}, {campaign.units if campaign else 'n'} units)."),
        evidence={"supply_runs_out_week_p10": first_week.isoformat(),
                  "probability_supply_runs_out": probability,
                  "lead_time_days": lead, "deadline": deadline.isoformat(),
                  "campaign_earliest_start": earliest.isoformat(),
                  "release_if_booked": release.isoformat()},
        probability=probability_late,
        impact=impact,
        lots=[],
        facilities=[campaign.facility] if campaign else [],
        what_if=what_if,
    )]


def _candidates_to_move(inputs: RadarInputs, lot: Lot) -> list[str]:
    """Patients planned on another lot whose start falls inside this lot's window."""
    names = []
    for row in inputs.planned_patients():
        start = parse_day(row.get("manufacturing_start"))
        if (row.get("vector_lot") not in (None, lot.id) and start is not None
                and lot.released <= start <= lot.effective_expiry):
            names.append(row["patient"])
    return sorted(names)


def detect_expiry(inputs: RadarInputs) -> list[Alert]:
    """Vector units that will expire unused: the readout to chase, the patients to move."""
    scenario, today = inputs.scenario, inputs.today
    per_run = max(1, scenario.process.vector_units_per_batch)
    planned = {row["lot"]: row for row in (inputs.plan or {}).get("vector_lots", [])}
    alerts: list[Alert] = []
    for lot in scenario.vector.lots:
        expiry = lot.effective_expiry
        if lot.units == 0 or expiry < today or expiry > scenario.trial.horizon_end:
            continue
        days_left = (expiry - today).days
        if inputs.plan is not None:
            at_risk = int(planned.get(lot.id, {}).get("units_expiring_unused", 0))
        elif days_left <= EXPIRY_WATCH_DAYS:
            at_risk = 0  # without a plan, how much will be used is unknown: watch it
        else:
            continue
        if at_risk == 0 and days_left > EXPIRY_WATCH_DAYS:
            continue
        ext = lot.extension
        pending = ext is not None and ext.status == "pending"
        # What expires is certain unless a pending extension may still save it.
        p_expire = (1.0 - ext.probability) if (pending and ext is not None) else 1.0
        if at_risk == 0:
            # The plan uses every unit in time; the risk is a slip past the expiry day.
            p_expire *= 0.25
        impact = impact_level(max(at_risk, 1 if at_risk == 0 else 0) / per_run)
        movers = _candidates_to_move(inputs, lot)
        steps = []
        if pending and ext is not None:
            steps.append(f"chase the stability readout due {ext.readout} (extension to "
                         f"{ext.expires}, {ext.probability:.0%} expected)")
        if movers and at_risk:
            steps.append("move " + ", ".join(movers[: max(1, at_risk // per_run)])
                         + f" onto {lot.id}")
        if not steps:
            steps.append(f"start runs on {lot.id} before {expiry}, or offer the units to "
                         "another study")
        title = (f"Lot {lot.id}: {at_risk} of {lot.units} units will expire unused on {expiry}"
                 if at_risk else
                 f"Lot {lot.id} expires on {expiry} ({days_left} days) with {lot.units} units "
                 "on hand" + (": every unit is planned, with no room for a slip"
                              if inputs.plan is not None else ""))
        alerts.append(Alert(
            id=alert_id("vector_expiry", lot.id),
            kind="vector_expiry",
            severity=severity_of(p_expire, impact),
            title=title,
            owner="sponsor",
            due=max(today, min(expiry, ext.readout) if (pending and ext) else expiry),
            action=_sentence("; ".join(steps)),
            evidence={"units_on_hand": lot.units, "units_expiring_unused": at_risk,
                      "expires": expiry.isoformat(), "days_to_expiry": days_left,
                      "extension": ext.model_dump(mode="json") if ext else None,
                      "forecast_units_expired": (inputs.forecast or {}).get(
                          "vector_units_expired")},
            probability=p_expire,
            impact=impact,
            patients=movers,
            lots=[lot.id],
        ))
    return alerts



def _sentence(text: str) -> str:
    """Upper-case the first letter only: ids such as LV-001 keep their case."""
    return text[:1].upper() + text[1:] + "."

"""`tech_transfer_slip`: a milestone late or at risk on the critical path of a tech transfer."""

from __future__ import annotations

import datetime as dt

from chainsight.domain import TechTransfer, schedule_transfer
from chainsight.domain.readiness import TransferSchedule
from chainsight.risks.alerts import Alert, alert_id, impact_level, severity_of
from chainsight.risks.inputs import RadarInputs, parse_day

# The chance a critical milestone with a stated slip risk uses it, when no forecast says more.
SLIP_PRIOR = 0.5


def baseline(transfer: TechTransfer) -> TransferSchedule:
    """The transfer as planned: planned starts and durations, ignoring what has been done."""
    fresh = transfer.model_copy(update={
        "milestones": [m.model_copy(update={"done": None}) for m in transfer.milestones]
    })
    starts = [m.planned_start for m in transfer.milestones if m.planned_start is not None]
    return schedule_transfer(fresh, min(starts) if starts else dt.date.min)


def _patients_hit(inputs: RadarInputs, facility: str, start: dt.date,
                  end: dt.date) -> tuple[list[str], list[str]]:
    patients, weeks = [], set()
    for row in inputs.planned_patients():
        day = parse_day(row.get("manufacturing_start"))
        if row.get("facility") == facility and day is not None and start <= day <= end:
            patients.append(row["patient"])
            weeks.add((day - dt.timedelta(days=day.weekday())).isoformat())
    return sorted(patients), sorted(weeks)


def detect(inputs: RadarInputs) -> list[Alert]:
    """One alert per tech transfer that is behind its plan or carries slip risk on its
    critical path."""
    scenario, today = inputs.scenario, inputs.today
    alerts: list[Alert] = []
    for transfer in scenario.tech_transfer:
        now = schedule_transfer(transfer, today)
        planned = baseline(transfer)
        late_days = (now.ready - planned.ready).days
        critical = now.critical_path
        by_id = {m.id: m for m in transfer.milestones}
        slip = sum(by_id[m.id].slip_risk_days for m in critical)
        if late_days <= 0 and slip == 0:
            continue
        p90_ready = now.ready + dt.timedelta(days=slip)
        hit, weeks = _patients_hit(inputs, transfer.facility, now.ready, p90_ready)
        first = critical[0] if critical else None
        latest_start = (first.latest_finish - (first.finish - first.start)) if first else today
        evidence: dict[str, object] = {
            "ready": now.ready.isoformat(),
            "ready_as_planned": planned.ready.isoformat(),
            "days_behind_plan": max(0, late_days),
            "ready_if_slip_risks_happen": p90_ready.isoformat(),
            "critical_path": [
                {"milestone": m.id, "name": m.name, "start": m.start.isoformat(),
                 "finish": m.finish.isoformat(), "slack_days": m.slack_days,
                 "slip_risk_days": by_id[m.id].slip_risk_days}
                for m in critical
            ],
            "open_milestones_with_slack": [
                {"milestone": m.id, "slack_days": m.slack_days}
                for m in now.milestones if not m.done and m.slack_days > 0
            ],
            "weeks_hit": weeks,
        }
        if late_days > 0:
            probability = 1.0
            impact = max(2, impact_level(len(hit)))
            title = (f"Tech transfer {transfer.id} to {transfer.facility} is {late_days} days "
                     f"behind plan: ready {now.ready} instead of {planned.ready}")
        else:
            probability = SLIP_PRIOR
            impact = impact_level(len(hit))
            title = (f"Tech transfer {transfer.id} to {transfer.facility} may slip up to {slip} "
                     f"days (ready {now.ready}, {p90_ready} if the risks happen)")
        steps = ", ".join(m.id for m in critical) or "none open"
        alerts.append(Alert(
            id=alert_id("tech_transfer_slip", transfer.id),
            kind="tech_transfer_slip",
            severity=severity_of(probability, impact),
            title=title,
            owner="cdmo",
            due=max(today, latest_start),
            action=(f"Recover the critical path at {transfer.facility} ({steps}): agree a "
                    f"recovery plan for {first.id if first else 'the next step'} and keep "
                    f"patients planned on other facilities until readiness is confirmed."),
            evidence=evidence,
            probability=probability,
            impact=impact,
            patients=hit,
            facilities=[transfer.facility],
        ))
    return alerts

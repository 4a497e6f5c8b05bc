"""`site_activation_delay`: a site past its planned activation, and what it costs enrolment."""

from __future__ import annotations

from chainsight.risks.alerts import Alert, alert_id, impact_level, severity_of
from chainsight.risks.inputs import RadarInputs

DAYS_PER_MONTH = 30.44


def detect(inputs: RadarInputs) -> list[Alert]:
    """Every site not yet activated whose planned activation day has passed."""
    scenario, today = inputs.scenario, inputs.today
    alerts: list[Alert] = []
    for site in scenario.sites:
        if site.activation.actual is not None:
            continue
        late = (today - site.activation.planned).days
        if late <= inputs.settings.activation_grace_days:
            continue
        lost_so_far = site.enrollment_rate_per_month * late / DAYS_PER_MONTH
        evidence: dict[str, object] = {
            "planned_activation": site.activation.planned.isoformat(),
            "days_late": late,
            "enrollment_rate_per_month": site.enrollment_rate_per_month,
            "enrolments_forgone_so_far": round(lost_so_far, 2),
            "enrolments_forgone_per_further_month": round(site.enrollment_rate_per_month, 2),
        }
        impact = impact_level(lost_so_far + site.enrollment_rate_per_month)
        alerts.append(Alert(
            id=alert_id("site_activation_delay", site.id),
            kind="site_activation_delay",
            severity=severity_of(1.0, impact),
            title=f"Site {site.id} ({site.name}) is {late} days past its planned activation",
            owner="site",
            due=today,
            action=(
                f"Escalate the activation of {site.id}: confirm the open items (contract, "
                f"ethics, training, pharmacy set-up) and a new date; every further month "
                f"costs about {site.enrollment_rate_per_month:.1f} enrolments."
            ),
            evidence=evidence,
            probability=1.0,
            impact=impact,
            sites=[site.id],
            what_if={"label": f"activate {site.id} now",
                     "sites": [{"site": site.id, "activation": today.isoformat()}]},
        ))
    return alerts

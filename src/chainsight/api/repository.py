"""Every query on the service's own tables. Functions take the caller's session and never
commit."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from chainsight.api.auditing import note
from chainsight.api.models import AlertStateRow, DeliveryRow, PlanRow, UserRow, WebhookRow


def now() -> dt.datetime:
    """The current time in UTC."""
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC time (SQLite hands them back naive)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


# ---------------------------------------------------------------- plans


def latest_plan(session: Session, trial: str) -> PlanRow | None:
    """The trial's current (newest) plan."""
    return session.scalar(select(PlanRow).where(PlanRow.trial == trial)
                          .order_by(PlanRow.id.desc()).limit(1))


def add_plan(session: Session, *, trial: str, plan: dict[str, Any], by: str, reason: str
             ) -> PlanRow:
    """Store a new current plan (the trail notes it was made, not its whole content)."""
    created = now()
    plan_id = session.execute(insert(PlanRow).values(
        trial=trial, created_at=created, created_by=by, reason=reason,
        plan=json.dumps(plan)).returning(PlanRow.id)).scalar_one()
    solver = plan.get("solver") or {}
    note(session, actor=by, reason=reason, action="insert", table=PlanRow.__tablename__,
         row_key=str(plan_id), trial=trial,
         new={"solver": solver, "patients": len(plan.get("patients") or []),
              "unplanned": len(plan.get("unplanned") or [])})
    row = session.get(PlanRow, plan_id)
    assert row is not None
    return row


# ---------------------------------------------------------------- alert states


def sync_alerts(session: Session, trial: str, alerts: Sequence[dict[str, Any]]
                ) -> dict[str, AlertStateRow]:
    """Keep a row per alert id: new alerts are added (and so announced), the current
    content is kept on each, alerts no longer raised are marked inactive."""
    rows = {row.alert_id: row for row in session.scalars(
        select(AlertStateRow).where(AlertStateRow.trial == trial))}
    current = {str(a["id"]): a for a in alerts}
    for alert_id, alert in current.items():
        data = json.dumps(alert, sort_keys=True)
        row = rows.get(alert_id)
        if row is None:
            session.execute(insert(AlertStateRow).values(
                trial=trial, alert_id=alert_id, data=data, first_seen_at=now(), active=True))
        elif row.data != data or not row.active:
            session.execute(update(AlertStateRow).where(AlertStateRow.id == row.id)
                            .values(data=data, active=True))
    gone = [row.id for alert_id, row in rows.items() if alert_id not in current and row.active]
    if gone:
        session.execute(update(AlertStateRow).where(AlertStateRow.id.in_(gone))
                        .values(active=False))
    session.expire_all()
    return {row.alert_id: row for row in session.scalars(
        select(AlertStateRow).where(AlertStateRow.trial == trial,
                                    AlertStateRow.active.is_(True)))}


def alert_state(session: Session, trial: str, alert_id: str) -> AlertStateRow | None:
    """The stored state of one alert."""
    return session.scalar(select(AlertStateRow).where(AlertStateRow.trial == trial,
                                                      AlertStateRow.alert_id == alert_id))


def acknowledge(session: Session, row: AlertStateRow, *, by: str, comment: str,
                assignee: str | None) -> None:
    """Record who acknowledged the alert, why, and who it is assigned to (audited)."""
    when = now()
    session.execute(update(AlertStateRow).where(AlertStateRow.id == row.id).values(
        acknowledged_at=when, acknowledged_by=by, comment=comment, assignee=assignee))
    note(session, actor=by, reason=f"alert {row.alert_id} acknowledged", action="update",
         table=AlertStateRow.__tablename__, row_key=str(row.id), trial=row.trial,
         old={"acknowledged_by": row.acknowledged_by, "assignee": row.assignee},
         new={"acknowledged_by": by, "comment": comment, "assignee": assignee,
              "acknowledged_at": when.isoformat()})
    session.expire(row)


def alerts_after(session: Session, after_id: int, limit: int = 500) -> Sequence[AlertStateRow]:
    """Alert rows first seen after ``after_id`` (for the stream)."""
    return session.scalars(select(AlertStateRow).where(AlertStateRow.id > after_id)
                           .order_by(AlertStateRow.id).limit(limit)).all()


def last_alert_id(session: Session) -> int:
    """The id of the newest alert row (0 if none)."""
    return int(session.scalar(select(func.max(AlertStateRow.id))) or 0)


# ---------------------------------------------------------------- webhooks


def webhooks_of(session: Session, organisation: str) -> Sequence[WebhookRow]:
    """An organisation's active webhooks."""
    return session.scalars(select(WebhookRow).where(WebhookRow.organisation == organisation,
                                                    WebhookRow.active.is_(True))
                           .order_by(WebhookRow.id)).all()


def active_webhooks(session: Session) -> list[tuple[WebhookRow, UserRow]]:
    """Every active webhook with the user who registered it (whose scope it sends)."""
    rows = session.execute(select(WebhookRow, UserRow)
                           .join(UserRow, UserRow.id == WebhookRow.owner_id)
                           .where(WebhookRow.active.is_(True)).order_by(WebhookRow.id)).all()
    return [(hook, user) for hook, user in rows]


def deliveries_of(session: Session, webhook_id: int, limit: int) -> Sequence[DeliveryRow]:
    """A webhook's delivery log, newest first."""
    return session.scalars(select(DeliveryRow).where(DeliveryRow.webhook_id == webhook_id)
                           .order_by(DeliveryRow.id.desc()).limit(limit)).all()

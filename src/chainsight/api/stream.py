"""Server-sent events: new events, radar alerts and record incidents as they are
committed, filtered by the same scoping as every read.

The stream reads the database (rows after the last one sent), so it sees changes made
by any process: another server worker or the command line. A commit in this process
wakes the streams at once; otherwise they look every ``stream_poll_seconds``. The SSE
``id`` is the position (``<event>.<alert>.<incident>`` row ids), so a browser that
reconnects with ``Last-Event-ID`` misses nothing.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chainsight.api import repository as repo
from chainsight.api.auth.principal import Principal
from chainsight.api.dependencies import load_context
from chainsight.api.scoping import (
    TrialContext,
    alert_view,
    event_view,
    incident_view,
    sees_trial,
)
from chainsight.record.models import AlertRow, EventRow

BATCH = 200


class Hub:
    """Wakes every open stream when this process commits a change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def poke(self) -> None:
        """Wake all streams (safe from any thread)."""
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # its loop has closed: the stream is gone
                continue

    def subscribe(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        """A wake-up event for the calling stream."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(waiter)
        return waiter

    def unsubscribe(self, waiter: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        """Forget a closed stream."""
        with self._lock:
            self._waiters.discard(waiter)


@dataclass
class Position:
    """The last event, alert and incident row a stream has passed."""

    event: int = 0
    alert: int = 0
    incident: int = 0

    def text(self) -> str:
        """As the SSE id."""
        return f"{self.event}.{self.alert}.{self.incident}"

    @classmethod
    def parse(cls, text: str | None) -> Position | None:
        """From a ``Last-Event-ID``; None if it is not one of ours."""
        if not text:
            return None
        parts = text.strip().split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            return None
        return cls(*(int(p) for p in parts))


def current_position(session: Session) -> Position:
    """The newest rows now: a new stream starts after them."""
    return Position(
        event=int(session.scalar(select(func.max(EventRow.id))) or 0),
        alert=repo.last_alert_id(session),
        incident=int(session.scalar(select(func.max(AlertRow.id))) or 0),
    )


def _event_item(row: EventRow) -> dict[str, Any]:
    return {"trial": row.trial, "sequence": row.sequence, "kind": row.kind,
            "occurred_on": row.occurred_on.isoformat(), "patient": row.patient,
            "coi": row.coi, "recorded_by": row.recorded_by,
            "recorded_at": row.recorded_at.isoformat(), "idempotency_key": row.idempotency_key,
            "event": json.loads(row.payload)}


def _incident_item(row: AlertRow) -> dict[str, Any]:
    return {"trial": row.trial, "id": row.id, "kind": row.kind, "code": row.code,
            "patient": row.patient, "field": row.field, "message": row.message,
            "raised_by": row.raised_by, "raised_at": row.raised_at.isoformat()}


def poll(factory: sessionmaker[Session], principal: Principal, position: Position,
         trial: str | None) -> tuple[list[tuple[str, dict[str, Any]]], Position]:
    """What happened after ``position`` that the principal may see, and the new position."""
    found: list[tuple[str, dict[str, Any]]] = []
    contexts: dict[str, TrialContext | None] = {}
    with factory() as session:

        def context(trial_id: str) -> TrialContext | None:
            if trial_id not in contexts:
                ctx = load_context(session, trial_id)
                contexts[trial_id] = ctx if ctx is not None and sees_trial(
                    principal, ctx.scenario) else None
            return contexts[trial_id]

        events = select(EventRow).where(EventRow.id > position.event)
        incidents = select(AlertRow).where(AlertRow.id > position.incident)
        if trial is not None:
            events = events.where(EventRow.trial == trial)
            incidents = incidents.where(AlertRow.trial == trial)
        after = Position(position.event, position.alert, position.incident)
        for row in session.scalars(events.order_by(EventRow.id).limit(BATCH)):
            after.event = row.id
            ctx = context(row.trial)
            view = event_view(principal, ctx, _event_item(row)) if ctx else None
            if view is not None:
                found.append(("event", view))
        for alert in repo.alerts_after(session, position.alert, BATCH):
            after.alert = alert.id
            if trial is not None and alert.trial != trial:
                continue
            ctx = context(alert.trial)
            data = {**json.loads(alert.data), "trial": alert.trial}
            seen = alert_view(principal, ctx, data) if ctx else None
            if seen is not None:
                found.append(("alert", seen))
        for incident in session.scalars(incidents.order_by(AlertRow.id).limit(BATCH)):
            after.incident = incident.id
            ctx = context(incident.trial)
            shown = incident_view(principal, ctx, _incident_item(incident)) if ctx else None
            if shown is not None:
                found.append(("incident", shown))
    return found, after

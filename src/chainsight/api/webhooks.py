"""Signed webhooks: registration per organisation, an outbox of deliveries written with the
change itself, and a background worker that sends them with retries and backoff.

Each delivery is a POST of JSON with ``X-ChainSight-Signature: sha256=<hex>``, the
HMAC-SHA256 of the raw body under the webhook's secret; the receiver recomputes it to
know the message came from here and was not altered. A delivery that fails (no answer,
or not 2xx) is tried again after ``base * 2**(attempt-1)`` seconds (capped), up to
``webhook_max_attempts`` tries; every try is kept in the delivery log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chainsight.api import repository as repo
from chainsight.api.auditing import note
from chainsight.api.auth.principal import Principal, Role
from chainsight.api.models import DeliveryRow, UserRow, WebhookRow
from chainsight.api.problems import ApiProblem, FieldError
from chainsight.api.schemas import WebhookIn
from chainsight.api.scoping import TrialContext
from chainsight.api.settings import Settings

SIGNATURE_HEADER = "X-ChainSight-Signature"
log = logging.getLogger("chainsight.api.webhooks")

View = Callable[[Principal, TrialContext], dict[str, Any] | None]


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for a body: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is this body's signature under ``secret`` (constant time)."""
    return hmac.compare_digest(sign(secret, body), signature)


def principal_of(user: UserRow) -> Principal:
    """The scope a webhook sends in: that of the user who registered it."""
    role: Role = user.role  # type: ignore[assignment]  # checked when the user was added
    return Principal(user_id=user.id, name=user.name, role=role, site=user.site,
                     facility=user.facility, courier=user.courier)


def register(session: Session, *, principal: Principal, body: WebhookIn,
             settings: Settings) -> tuple[WebhookRow, str]:
    """Register a webhook for the principal's organisation; returns it and its secret."""
    host = urlsplit(body.url).hostname or ""
    if settings.webhook_allow_hosts and host not in settings.webhook_allow_hosts:
        raise ApiProblem(422, "Invalid input", "webhooks may only point at allowed hosts",
                         kind="validation",
                         errors=[FieldError(field="body.url",
                                            message=f"host {host!r} is not allowed here")])
    secret = "whsec_" + secrets.token_urlsafe(24)
    values = {"organisation": principal.organisation, "owner_id": principal.user_id,
              "url": body.url, "secret": secret, "topics": ",".join(sorted(set(body.topics))),
              "trial": body.trial, "description": body.description,
              "created_at": repo.now(), "active": True}
    hook_id = session.execute(insert(WebhookRow).values(**values)
                              .returning(WebhookRow.id)).scalar_one()
    note(session, actor=principal.actor, reason="webhook registered", action="insert",
         table=WebhookRow.__tablename__, row_key=str(hook_id),
         new={k: v for k, v in values.items() if k not in ("secret", "created_at")})
    row = session.get(WebhookRow, hook_id)
    assert row is not None
    return row, secret


def unregister(session: Session, *, principal: Principal, hook: WebhookRow) -> None:
    """Stop a webhook (kept, with its log, but inactive)."""
    session.execute(update(WebhookRow).where(WebhookRow.id == hook.id).values(active=False))
    note(session, actor=principal.actor, reason="webhook removed", action="update",
         table=WebhookRow.__tablename__, row_key=str(hook.id), old={"active": True},
         new={"active": False})


def enqueue(session: Session, *, ctx: TrialContext, topic: str, item: str, view: View) -> int:
    """Put a message in the outbox of every webhook whose organisation may see it.

    ``view`` gives the item as a principal may see it (None: not at all), so a webhook
    never carries more than its organisation could read through the API.
    """
    queued = 0
    for hook, user in repo.active_webhooks(session):
        if topic not in hook.topics.split(",") or hook.trial not in (None, ctx.trial):
            continue
        data = view(principal_of(user), ctx)
        if data is None:
            continue
        created = repo.now()
        body = json.dumps({"webhook": hook.id, "topic": topic, "item": item,
                           "trial": ctx.trial, "created_at": created.isoformat(),
                           "data": data}, sort_keys=True, default=str)
        try:
            with session.begin_nested():
                session.execute(insert(DeliveryRow).values(
                    webhook_id=hook.id, topic=topic, item=item, body=body, status="pending",
                    attempts=0, next_attempt_at=time.time(), last_status=None,
                    last_error=None, created_at=created, delivered_at=None))
            queued += 1
        except IntegrityError:
            continue  # already queued for this webhook
    return queued


class WebhookWorker:
    """Sends due deliveries in a background thread until stopped."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        self.factory = factory
        self.settings = settings
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="chainsight-webhooks",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.webhook_timeout_seconds + 5)
            self._thread = None

    def poke(self) -> None:
        """Something may be due now."""
        self._wake.set()

    def _run(self) -> None:
        with httpx.Client(timeout=self.settings.webhook_timeout_seconds,
                          follow_redirects=False) as client:
            while not self._stop.is_set():
                try:
                    sent = self.run_once(client)
                except Exception:  # the worker must outlive a bad moment of the database
                    log.exception("webhook worker: round failed")
                    sent = 0
                if sent == 0:
                    self._wake.wait(self.settings.webhook_poll_seconds)
                    self._wake.clear()

    def _claim(self, limit: int = 20) -> list[tuple[int, str, str, str, int]]:
        """Take due deliveries: pushing their next try past the send time is the lease, so
        another worker does not send them at the same time."""
        now = time.time()
        lease = now + self.settings.webhook_timeout_seconds * 2 + 5
        claimed: list[tuple[int, str, str, str, int]] = []
        with self.factory() as session, session.begin():
            due = session.execute(
                select(DeliveryRow.id, DeliveryRow.next_attempt_at, DeliveryRow.body,
                       WebhookRow.url, WebhookRow.secret, DeliveryRow.attempts)
                .join(WebhookRow, WebhookRow.id == DeliveryRow.webhook_id)
                .where(DeliveryRow.status == "pending", DeliveryRow.next_attempt_at <= now)
                .order_by(DeliveryRow.next_attempt_at).limit(limit)).all()
            for delivery_id, due_at, body, url, secret, attempts in due:
                taken = session.execute(
                    update(DeliveryRow).where(DeliveryRow.id == delivery_id,
                                              DeliveryRow.next_attempt_at == due_at,
                                              DeliveryRow.status == "pending")
                    .values(next_attempt_at=lease))
                if getattr(taken, "rowcount", 0) == 1:
                    claimed.append((delivery_id, body, url, secret, attempts))
        return claimed

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th failed try."""
        base = self.settings.webhook_backoff_base_seconds
        return float(min(base * 2 ** (attempt - 1), self.settings.webhook_backoff_max_seconds))

    def run_once(self, client: httpx.Client) -> int:
        """Send what is due now; returns how many were tried."""
        claimed = self._claim()
        for delivery_id, body, url, secret, attempts in claimed:
            raw = body.encode("utf-8")
            headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, raw),
                       "X-ChainSight-Delivery": str(delivery_id),
                       "User-Agent": "ChainSight-Webhooks/1"}
            status: int | None = None
            error: str | None = None
            try:
                response = client.post(url, content=raw, headers=headers)
                status = response.status_code
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            except httpx.HTTPError as failure:
                error = f"{type(failure).__name__}: {failure}"[:500]
            attempt = attempts + 1
            values: dict[str, Any] = {"attempts": attempt, "last_status": status,
                                      "last_error": error}
            if error is None:
                values |= {"status": "delivered", "delivered_at": dt.datetime.now(dt.UTC)}
            elif attempt >= self.settings.webhook_max_attempts:
                values |= {"status": "failed"}
            else:
                values |= {"next_attempt_at": time.time() + self.backoff(attempt)}
            with self.factory() as session, session.begin():
                session.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id)
                                .values(**values))
        return len(claimed)

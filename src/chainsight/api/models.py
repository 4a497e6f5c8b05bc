"""The service's own tables, on the store's declarative base.

Secrets (password hashes, token hashes, webhook secrets) and high-volume bookkeeping
(idempotency records, webhook deliveries) are written with Core statements, never by an
ORM flush: the record's audit hooks copy every ORM-flushed row into the audit trail,
and neither secrets nor delivery retries belong there. What does belong there (a user
added, a token issued, a webhook registered, an alert acknowledged) is written to the
trail explicitly, with secrets left out (:mod:`chainsight.api.auditing`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from chainsight.store.models import Base

CODE = String(64)
NAME = String(100)
ROLE = String(16)
HASH = String(64)
WHEN = DateTime(timezone=True)


class UserRow(Base):
    """A person or a system that may use the service, with its role and organisation."""

    __tablename__ = "api_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    role: Mapped[str] = mapped_column(ROLE)  # sponsor | site | cdmo | courier | auditor
    site: Mapped[str | None] = mapped_column(CODE)
    facility: Mapped[str | None] = mapped_column(CODE)
    courier: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(WHEN)
    created_by: Mapped[str] = mapped_column(String(200))


class CredentialRow(Base):
    """A user's password, as an argon2 hash (users without one log in by token only)."""

    __tablename__ = "api_credentials"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("api_users.id", ondelete="CASCADE"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(Text)


class TokenRow(Base):
    """An API token or a browser session: only the sha256 of the secret is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("api_users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(ROLE)  # api | session
    token_hash: Mapped[str] = mapped_column(HASH, unique=True)
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(WHEN)
    expires_at: Mapped[dt.datetime | None] = mapped_column(WHEN)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(WHEN)


class IdempotencyRow(Base):
    """The answer to a creating POST, kept under the caller's ``Idempotency-Key``."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("api_users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(HASH)
    status_code: Mapped[int]
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(WHEN)


class PlanRow(Base):
    """A plan made for a trial (chainsight-plan/1 JSON); the newest is the current one."""

    __tablename__ = "api_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial: Mapped[str] = mapped_column(CODE, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(WHEN)
    created_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    plan: Mapped[str] = mapped_column(Text)


class AlertStateRow(Base):
    """A radar alert as first seen, with who acknowledged it and to whom it is assigned.

    Alert ids are stable across scans (same kind and subject), so the acknowledgement
    survives re-planning; a new row is what the stream and webhooks announce.
    """

    __tablename__ = "api_alerts"
    __table_args__ = (UniqueConstraint("trial", "alert_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial: Mapped[str] = mapped_column(CODE)
    alert_id: Mapped[str] = mapped_column(String(120))
    data: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[dt.datetime] = mapped_column(WHEN)
    active: Mapped[bool] = mapped_column(Boolean)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(WHEN)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    assignee: Mapped[str | None] = mapped_column(String(200))


class WebhookRow(Base):
    """A URL an organisation registered; deliveries are signed with its ``secret``."""

    __tablename__ = "api_webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(300), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("api_users.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(100))
    topics: Mapped[str] = mapped_column(String(100))  # comma-separated: event,alert
    trial: Mapped[str | None] = mapped_column(CODE)
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(WHEN)
    active: Mapped[bool] = mapped_column(Boolean)


class DeliveryRow(Base):
    """One message for one webhook, and how sending it went (the delivery log)."""

    __tablename__ = "api_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "topic", "item"),
        Index("ix_api_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("api_webhooks.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(ROLE)  # event | alert
    item: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(ROLE)  # pending | delivered | failed
    attempts: Mapped[int]
    # Seconds since the epoch: compared the same way on every database.
    next_attempt_at: Mapped[float] = mapped_column(Double)
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(WHEN)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(WHEN)

"""The service's tables: users, credentials, tokens, idempotency records, plans, alert
states, webhooks and their deliveries.

Revision ID: 0201
Revises: 0101
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0201"
down_revision: str | Sequence[str] | None = "0101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: a migration must not change when the models do.
CODE = sa.String(length=64)
NAME = sa.String(length=100)
ROLE = sa.String(length=16)
HASH = sa.String(length=64)
WHO = sa.String(length=200)
WHEN = sa.DateTime(timezone=True)


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))


def _uq(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], ondelete="CASCADE",
                                   name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        "api_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("role", ROLE, nullable=False),
        sa.Column("site", CODE, nullable=True),
        sa.Column("facility", CODE, nullable=True),
        sa.Column("courier", WHO, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("created_by", WHO, nullable=False),
        _pk("api_users"),
        _uq("api_users", "name"),
    )
    op.create_table(
        "api_credentials",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_api_credentials")),
        _fk("api_credentials", "user_id", "api_users"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", ROLE, nullable=False),
        sa.Column("token_hash", HASH, nullable=False),
        sa.Column("label", WHO, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=True),
        sa.Column("revoked_at", WHEN, nullable=True),
        _pk("api_tokens"),
        _uq("api_tokens", "token_hash"),
        _fk("api_tokens", "user_id", "api_users"),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])
    op.create_table(
        "api_idempotency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("request_hash", HASH, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        _pk("api_idempotency"),
        _uq("api_idempotency", "user_id", "key"),
        _fk("api_idempotency", "user_id", "api_users"),
    )
    op.create_table(
        "api_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial", CODE, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("created_by", WHO, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        _pk("api_plans"),
    )
    op.create_index(op.f("ix_api_plans_trial"), "api_plans", ["trial"])
    op.create_table(
        "api_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial", CODE, nullable=False),
        sa.Column("alert_id", sa.String(length=120), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("first_seen_at", WHEN, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_at", WHEN, nullable=True),
        sa.Column("acknowledged_by", WHO, nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("assignee", WHO, nullable=True),
        _pk("api_alerts"),
        _uq("api_alerts", "trial", "alert_id"),
    )
    op.create_table(
        "api_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation", sa.String(length=300), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("topics", sa.String(length=100), nullable=False),
        sa.Column("trial", CODE, nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _pk("api_webhooks"),
        _fk("api_webhooks", "owner_id", "api_users"),
    )
    op.create_index(op.f("ix_api_webhooks_organisation"), "api_webhooks", ["organisation"])
    op.create_table(
        "api_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("topic", ROLE, nullable=False),
        sa.Column("item", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", ROLE, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Double(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("delivered_at", WHEN, nullable=True),
        _pk("api_deliveries"),
        _uq("api_deliveries", "webhook_id", "topic", "item"),
        _fk("api_deliveries", "webhook_id", "api_webhooks"),
    )
    op.create_index(op.f("ix_api_deliveries_webhook_id"), "api_deliveries", ["webhook_id"])
    op.create_index("ix_api_deliveries_due", "api_deliveries", ["status", "next_attempt_at"])


def downgrade() -> None:
    for table in ("api_deliveries", "api_webhooks", "api_alerts", "api_plans",
                  "api_idempotency", "api_tokens", "api_credentials", "api_users"):
        op.drop_table(table)

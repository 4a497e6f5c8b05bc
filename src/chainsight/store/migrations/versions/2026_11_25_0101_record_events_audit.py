"""The operational record: events, journeys, chain of identity and custody, bookings, alerts,
and the hash-chained audit trail, append-only in the database.

Revision ID: 0101
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0101"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: a migration must not change when the models do.
CODE = sa.String(length=64)
COI = sa.String(length=16)
WHO = sa.String(length=200)
KIND = sa.String(length=32)

# Rows nobody may change or remove once written: the source of truth and the trail.
APPEND_ONLY = ("record_events", "record_custody", "record_alerts", "record_audit")


def _pk(table: str, column: str = "id") -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(column, name=op.f(f"pk_{table}"))


def _uq(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def _ix(table: str, column: str) -> None:
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column])


def upgrade() -> None:
    op.create_table(
        "record_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial", CODE, nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("kind", KIND, nullable=False),
        sa.Column("patient", CODE, nullable=True),
        sa.Column("coi", COI, nullable=True),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("recorded_by", WHO, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        _pk("record_events"),
        _uq("record_events", "trial", "sequence"),
        _uq("record_events", "trial", "idempotency_key"),
    )
    _ix("record_events", "patient")
    op.create_table(
        "record_journeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial", CODE, nullable=False),
        sa.Column("patient", CODE, nullable=False),
        sa.Column("coi", COI, nullable=True),
        sa.Column("state", KIND, nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        _pk("record_journeys"),
        _uq("record_journeys", "trial", "patient"),
        _uq("record_journeys", "coi"),
    )
    op.create_table(
        "record_ledgers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial", CODE, nullable=False),
        sa.Column("facility_code", sa.String(length=5), nullable=False),
        sa.Column("quarantined", sa.Text(), nullable=False),
        sa.Column("last_on", sa.Text(), nullable=False),
        _pk("record_ledgers"),
        _uq("record_ledgers", "trial"),
    )
    op.create_table(
        "record_coi",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coi", COI, nullable=False),
        sa.Column("trial", CODE, nullable=False),
        sa.Column("patient", CODE, nullable=True),
        sa.Column("issued_by", WHO, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        _pk("record_coi"),
        _uq("record_coi", "coi"),
    )
    _ix("record_coi", "trial")
    op.create_table(
        "record_custody",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("trial", CODE, nullable=False),
        sa.Column("patient", CODE, nullable=False),
        sa.Column("coi", COI, nullable=False),
        sa.Column("material", KIND, nullable=False),
        sa.Column("from_party", sa.Text(), nullable=False),
        sa.Column("to_party", sa.Text(), nullable=False),
        sa.Column("signed_by", sa.Text(), nullable=False),
        sa.Column("place", sa.Text(), nullable=False),
        sa.Column("handed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("temperature_ok", sa.Boolean(), nullable=False),
        sa.Column("excursion", sa.Text(), nullable=True),
        sa.Column("qa_status", KIND, nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["record_events.id"],
                                name=op.f("fk_record_custody_event_id_record_events")),
        _pk("record_custody"),
    )
    _ix("record_custody", "event_id")
    _ix("record_custody", "patient")
    op.create_table(
        "record_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial", CODE, nullable=False),
        sa.Column("patient", CODE, nullable=True),
        sa.Column("kind", KIND, nullable=False),
        sa.Column("code", KIND, nullable=False),
        sa.Column("field", sa.String(length=200), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("raised_by", WHO, nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        _pk("record_alerts"),
    )
    _ix("record_alerts", "trial")
    op.create_table(
        "record_bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial", CODE, nullable=False),
        sa.Column("resource_kind", KIND, nullable=False),
        sa.Column("resource", CODE, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("patient", CODE, nullable=False),
        _pk("record_bookings"),
        _uq("record_bookings", "trial", "resource_kind", "resource", "day", "slot"),
    )
    op.create_table(
        "record_locks",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        _pk("record_locks", "name"),
    )
    op.create_table(
        "record_audit",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("actor", WHO, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_key", sa.String(length=200), nullable=False),
        sa.Column("trial", CODE, nullable=True),
        sa.Column("patient", CODE, nullable=True),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        _pk("record_audit", "seq"),
        _uq("record_audit", "prev_hash"),
        _uq("record_audit", "hash"),
    )
    for column in ("at", "actor", "trial", "patient"):
        _ix("record_audit", column)
    op.create_table(
        "record_audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        _pk("record_audit_head"),
    )
    # The head row is written with the first entry: an empty trail leaves no row behind.
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_guards()
    else:
        _sqlite_guards()


def _sqlite_guards() -> None:
    for table in APPEND_ONLY:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {operation} refused'); END"
            )
    # The head may only move forward one entry at a time, onto an entry that exists.
    op.execute(
        "CREATE TRIGGER record_audit_head_forward BEFORE UPDATE ON record_audit_head "
        "WHEN NEW.seq != OLD.seq + 1 OR NOT EXISTS (SELECT 1 FROM record_audit "
        "WHERE seq = NEW.seq AND hash = NEW.hash) "
        "BEGIN SELECT RAISE(ABORT, 'record_audit_head only moves to the next entry'); END"
    )
    op.execute(
        "CREATE TRIGGER record_audit_head_no_delete BEFORE DELETE ON record_audit_head "
        "BEGIN SELECT RAISE(ABORT, 'record_audit_head cannot be removed'); END"
    )


def _postgresql_guards() -> None:
    op.execute(
        "CREATE FUNCTION record_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP "
        "USING ERRCODE = 'integrity_constraint_violation'; END $$"
    )
    for table in APPEND_ONLY:
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION record_append_only()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION record_append_only()")
    op.execute(
        "CREATE FUNCTION record_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'record_audit_head cannot be removed' "
        "USING ERRCODE = 'integrity_constraint_violation'; END IF; "
        "IF NEW.seq <> OLD.seq + 1 OR NOT EXISTS (SELECT 1 FROM record_audit "
        "WHERE seq = NEW.seq AND hash = NEW.hash) THEN "
        "RAISE EXCEPTION 'record_audit_head only moves to the next entry' "
        "USING ERRCODE = 'integrity_constraint_violation'; END IF; "
        "RETURN NEW; END $$"
    )
    op.execute("CREATE TRIGGER record_audit_head_forward BEFORE UPDATE OR DELETE ON "
               "record_audit_head FOR EACH ROW EXECUTE FUNCTION record_audit_head_forward()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS record_audit_head_forward ON record_audit_head")
        op.execute("DROP FUNCTION IF EXISTS record_audit_head_forward()")
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS record_append_only()")
    for table in ("record_audit_head", "record_audit", "record_locks", "record_bookings",
                  "record_alerts", "record_custody", "record_coi", "record_ledgers",
                  "record_journeys", "record_events"):
        op.drop_table(table)

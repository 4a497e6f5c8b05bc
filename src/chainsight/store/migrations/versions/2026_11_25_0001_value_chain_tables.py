"""The value chain: trials, sites, facilities, reservations, lanes, vector, tech transfer,
patients.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: a migration must not change when the models do.
CODE = sa.String(length=64)
CHOICE = sa.String(length=16)
WEEKDAYS = sa.JSON(none_as_null=True)


def _id(table: str) -> list[SchemaItem]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _in_trial(table: str) -> list[SchemaItem]:
    """A list element of a trial: its trial, place in the list and unique scenario id."""
    return [
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f(f"fk_{table}_trial_id_trials"),
            ondelete="CASCADE",
        ),
    ]


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> SchemaItem:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _one_of(table: str, name: str, column: str, values: Sequence[str]) -> SchemaItem:
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=op.f(f"ck_{table}_{name}"))


def _unique(table: str, *columns: str) -> SchemaItem:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def _index(table: str, column: str) -> None:
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column])


def upgrade() -> None:
    op.create_table(
        "trials",
        *_id("trials"),
        sa.Column("code", CODE, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("modality", CHOICE, nullable=False),
        sa.Column("today", sa.Date(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("target_enrollment", sa.Integer(), nullable=False),
        sa.Column("apheresis_earliest_days", sa.Integer(), nullable=False),
        sa.Column("apheresis_latest_days", sa.Integer(), nullable=False),
        sa.Column("material", CHOICE, nullable=False),
        sa.Column("fresh_max_days_to_start", sa.Integer(), nullable=False),
        sa.Column("infusion_latest_days_after_arrival", sa.Integer(), nullable=False),
        sa.Column("dropout_per_week_waiting", sa.Double(), nullable=False),
        sa.Column("manufacturing_days", sa.Integer(), nullable=False),
        sa.Column("qc_release_days", sa.Integer(), nullable=False),
        sa.Column("success_rate", sa.Double(), nullable=False),
        sa.Column("vector_units_per_batch", sa.Integer(), nullable=False),
        sa.Column("doses_per_batch", sa.Integer(), nullable=False),
        sa.Column("dp_shelf_life_days", sa.Integer(), nullable=False),
        sa.Column("objective_time_to_treatment", sa.Double(), nullable=False),
        sa.Column("objective_protocol_deviation", sa.Double(), nullable=False),
        sa.Column("objective_vector_units_expired", sa.Double(), nullable=False),
        sa.Column("objective_batch_fixed_cost", sa.Double(), nullable=False),
        sa.Column("objective_doses_expired", sa.Double(), nullable=False),
        _one_of("trials", "modality", "modality", ("autologous", "batch")),
        _one_of("trials", "material", "material", ("fresh", "cryopreserved")),
        _unique("trials", "code"),
    )
    op.create_table(
        "facilities",
        *_id("facilities"),
        *_in_trial("facilities"),
        sa.Column("code", CODE, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", CHOICE, nullable=False),
        sa.Column("country", sa.String(length=3), nullable=False),
        sa.Column("suites", sa.Integer(), nullable=False),
        sa.Column("start_weekdays", WEEKDAYS, nullable=False),
        sa.Column("ready", sa.Date(), nullable=True),
        sa.Column("tech_transfer_id", sa.Integer(), nullable=True),
        sa.Column("manufacturing_days", sa.Integer(), nullable=True),
        sa.Column("qc_release_days", sa.Integer(), nullable=True),
        sa.Column("success_rate", sa.Double(), nullable=True),
        sa.Column("vector_units_per_batch", sa.Integer(), nullable=True),
        sa.Column("doses_per_batch", sa.Integer(), nullable=True),
        sa.Column("dp_shelf_life_days", sa.Integer(), nullable=True),
        # Closes the cycle with tech_transfers.facility_id. SQLite cannot add a foreign
        # key later, so it gets it here (it does not check that the target exists);
        # other databases skip a use_alter key in CREATE TABLE and get it below.
        sa.ForeignKeyConstraint(
            ["tech_transfer_id"], ["tech_transfers.id"],
            name=op.f("fk_facilities_tech_transfer_id_tech_transfers"),
            ondelete="SET NULL", use_alter=True,
        ),
        _one_of("facilities", "kind", "kind", ("drug_product", "vector")),
        _unique("facilities", "trial_id", "code"),
    )
    _index("facilities", "tech_transfer_id")
    op.create_table(
        "sites",
        *_id("sites"),
        *_in_trial("sites"),
        sa.Column("code", CODE, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("country", sa.String(length=3), nullable=False),
        sa.Column("activation_planned", sa.Date(), nullable=False),
        sa.Column("activation_actual", sa.Date(), nullable=True),
        sa.Column("enrollment_rate_per_month", sa.Double(), nullable=False),
        sa.Column("apheresis_weekdays", WEEKDAYS, nullable=True),
        sa.Column("apheresis_per_day", sa.Integer(), nullable=True),
        sa.Column("infusion_weekdays", WEEKDAYS, nullable=False),
        sa.Column("infusion_per_day", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(apheresis_weekdays IS NULL) = (apheresis_per_day IS NULL)",
            name=op.f("ck_sites_apheresis"),
        ),
        _unique("sites", "trial_id", "code"),
    )
    op.create_table(
        "lanes",
        *_id("lanes"),
        *_in_trial("lanes"),
        sa.Column("from_site_id", sa.Integer(), nullable=True),
        sa.Column("from_facility_id", sa.Integer(), nullable=True),
        sa.Column("to_site_id", sa.Integer(), nullable=True),
        sa.Column("to_facility_id", sa.Integer(), nullable=True),
        sa.Column("days", sa.Integer(), nullable=False),
        _fk("lanes", "from_site_id", "sites"),
        _fk("lanes", "from_facility_id", "facilities"),
        _fk("lanes", "to_site_id", "sites"),
        _fk("lanes", "to_facility_id", "facilities"),
        sa.CheckConstraint(
            "(from_site_id IS NULL) <> (from_facility_id IS NULL)", name=op.f("ck_lanes_from_one")
        ),
        sa.CheckConstraint(
            "(to_site_id IS NULL) <> (to_facility_id IS NULL)", name=op.f("ck_lanes_to_one")
        ),
    )
    for column in ("trial_id", "from_site_id", "from_facility_id", "to_site_id",
                   "to_facility_id"):
        _index("lanes", column)
    op.create_table(
        "reservations",
        *_id("reservations"),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("suites", sa.Integer(), nullable=False),
        sa.Column("start_day", sa.Date(), nullable=False),
        sa.Column("end_day", sa.Date(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        _fk("reservations", "facility_id", "facilities", ondelete="CASCADE"),
    )
    _index("reservations", "facility_id")
    op.create_table(
        "tech_transfers",
        *_id("tech_transfers"),
        *_in_trial("tech_transfers"),
        sa.Column("code", CODE, nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        _fk("tech_transfers", "facility_id", "facilities"),
        _unique("tech_transfers", "trial_id", "code"),
    )
    _index("tech_transfers", "facility_id")
    if op.get_context().dialect.supports_alter:
        op.create_foreign_key(
            op.f("fk_facilities_tech_transfer_id_tech_transfers"),
            "facilities", "tech_transfers", ["tech_transfer_id"], ["id"], ondelete="SET NULL",
        )
    op.create_table(
        "vector_campaigns",
        *_id("vector_campaigns"),
        *_in_trial("vector_campaigns"),
        sa.Column("code", CODE, nullable=True),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("earliest_start", sa.Date(), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("shelf_life_days", sa.Integer(), nullable=False),
        _fk("vector_campaigns", "facility_id", "facilities"),
        _unique("vector_campaigns", "trial_id", "code"),
    )
    _index("vector_campaigns", "facility_id")
    op.create_table(
        "vector_lots",
        *_id("vector_lots"),
        *_in_trial("vector_lots"),
        sa.Column("code", CODE, nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("released", sa.Date(), nullable=False),
        sa.Column("expires", sa.Date(), nullable=False),
        sa.Column("extension_expires", sa.Date(), nullable=True),
        sa.Column("extension_readout", sa.Date(), nullable=True),
        sa.Column("extension_probability", sa.Double(), nullable=True),
        sa.Column("extension_status", CHOICE, nullable=True),
        _fk("vector_lots", "facility_id", "facilities"),
        sa.CheckConstraint(
            "(extension_expires IS NULL) = (extension_readout IS NULL) AND "
            "(extension_expires IS NULL) = (extension_probability IS NULL) AND "
            "(extension_expires IS NULL) = (extension_status IS NULL)",
            name=op.f("ck_vector_lots_extension"),
        ),
        _one_of("vector_lots", "extension_status", "extension_status",
                ("pending", "granted", "refused")),
        _unique("vector_lots", "trial_id", "code"),
    )
    _index("vector_lots", "facility_id")
    op.create_table(
        "milestones",
        *_id("milestones"),
        sa.Column("tech_transfer_id", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("code", CODE, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("planned_start", sa.Date(), nullable=True),
        sa.Column("duration_days", sa.Integer(), nullable=False),
        sa.Column("done", sa.Date(), nullable=True),
        sa.Column("slip_risk_days", sa.Integer(), nullable=False),
        _fk("milestones", "tech_transfer_id", "tech_transfers", ondelete="CASCADE"),
        _unique("milestones", "tech_transfer_id", "code"),
    )
    op.create_table(
        "milestone_dependencies",
        *_id("milestone_dependencies"),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("after_id", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        _fk("milestone_dependencies", "milestone_id", "milestones", ondelete="CASCADE"),
        _fk("milestone_dependencies", "after_id", "milestones", ondelete="CASCADE"),
        _unique("milestone_dependencies", "milestone_id", "after_id"),
    )
    _index("milestone_dependencies", "after_id")
    op.create_table(
        "patients",
        *_id("patients"),
        *_in_trial("patients"),
        sa.Column("code", CODE, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("enrolled", sa.Date(), nullable=False),
        sa.Column("apheresis", sa.Date(), nullable=True),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("manufacturing_start", sa.Date(), nullable=True),
        sa.Column("vector_lot_id", sa.Integer(), nullable=True),
        sa.Column("outcome", CHOICE, nullable=True),
        sa.Column("infusion", sa.Date(), nullable=True),
        sa.Column("priority", sa.Double(), nullable=False),
        sa.Column("doses", sa.Integer(), nullable=False),
        _fk("patients", "site_id", "sites"),
        _fk("patients", "facility_id", "facilities"),
        _fk("patients", "vector_lot_id", "vector_lots"),
        _one_of("patients", "outcome", "outcome", ("released", "failed", "infused", "withdrawn")),
        _unique("patients", "trial_id", "code"),
    )
    for column in ("site_id", "facility_id", "vector_lot_id"):
        _index("patients", column)


def downgrade() -> None:
    if op.get_context().dialect.supports_alter:
        op.drop_constraint(
            op.f("fk_facilities_tech_transfer_id_tech_transfers"), "facilities",
            type_="foreignkey",
        )
    for table in ("patients", "milestone_dependencies", "milestones", "vector_lots",
                  "vector_campaigns", "tech_transfers", "reservations", "lanes", "sites",
                  "facilities", "trials"):
        op.drop_table(table)

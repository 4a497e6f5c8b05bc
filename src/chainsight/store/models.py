"""Tables of the value chain: one row per trial, site, facility, lot, patient...

Every table has a surrogate integer key (``id``) so that later records (events, audit,
plans) can point at a row that survives a change of its scenario id. The scenario's
own id is the ``code`` column, unique within its trial. Lists keep their order through
an ``ordinal`` column. Nothing here knows about scenarios: ``repository`` maps.
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints from the first table on: Alembic's batch mode (SQLite) can only
# alter a constraint it can name, and the names stay stable across databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CODE = String(64)
"""A scenario id (``S01``, ``CDMO-A``): the domain allows at most 64 characters."""
COUNTRY = String(3)
CHOICE = String(16)


class Base(DeclarativeBase):
    """Declarative base of every ChainSight table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 - SQLAlchemy's class attribute
        float: Double(),
        str: Text(),
        dt.date: Date(),
        list[str]: JSON(none_as_null=True),
    }


class Ordered(Base):
    """A row of a list in the scenario: ``ordinal`` keeps its place (0, 1, 2...)."""

    __abstract__ = True

    ordinal: Mapped[int]


def import_all_models() -> MetaData:
    """Import every ``chainsight.<package>.models`` module and return the whole metadata.

    Packages above the store (the record, later users and alerts) declare their tables
    on this ``Base`` in a ``models`` module of their own. The store never imports them by
    name (layers point one way), but Alembic's autogenerate and the schema parity test
    need every table. Only packages that have a ``models.py`` are imported.
    """
    import chainsight

    for folder in chainsight.__path__:
        for package in pkgutil.iter_modules([folder]):
            if package.ispkg and (Path(folder) / package.name / "models.py").is_file():
                importlib.import_module(f"chainsight.{package.name}.models")
    return Base.metadata


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name)


def _trial_fk(*, index: bool = False) -> Mapped[int]:
    # Most tables lead a unique (trial_id, code) with it, which serves as its index.
    return mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), index=index)


MODALITIES = ("autologous", "batch")
MATERIALS = ("fresh", "cryopreserved")
FACILITY_KINDS = ("drug_product", "vector")
EXTENSION_STATUSES = ("pending", "granted", "refused")
OUTCOMES = ("released", "failed", "infused", "withdrawn")


class TrialRow(Base):
    """A trial with its protocol windows, base process and objective weights.

    Protocol, process and objective are one-to-one with the trial, so they are columns
    here (the objective's prefixed ``objective_``) rather than tables of their own.
    """

    __tablename__ = "trials"
    __table_args__ = (
        _one_of("modality", MODALITIES, "modality"),
        _one_of("material", MATERIALS, "material"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(CODE, unique=True)
    name: Mapped[str]
    modality: Mapped[str] = mapped_column(CHOICE)
    today: Mapped[dt.date]
    horizon_days: Mapped[int]
    target_enrollment: Mapped[int]
    # protocol
    apheresis_earliest_days: Mapped[int]
    apheresis_latest_days: Mapped[int]
    material: Mapped[str] = mapped_column(CHOICE)
    fresh_max_days_to_start: Mapped[int]
    infusion_latest_days_after_arrival: Mapped[int]
    dropout_per_week_waiting: Mapped[float]
    # process (facilities may override each field)
    manufacturing_days: Mapped[int]
    qc_release_days: Mapped[int]
    success_rate: Mapped[float]
    vector_units_per_batch: Mapped[int]
    doses_per_batch: Mapped[int]
    dp_shelf_life_days: Mapped[int]
    # objective weights
    objective_time_to_treatment: Mapped[float]
    objective_protocol_deviation: Mapped[float]
    objective_vector_units_expired: Mapped[float]
    objective_batch_fixed_cost: Mapped[float]
    objective_doses_expired: Mapped[float]

    sites: Mapped[list[SiteRow]] = relationship(
        back_populates="trial", cascade="all, delete-orphan", order_by="SiteRow.ordinal"
    )
    facilities: Mapped[list[FacilityRow]] = relationship(
        back_populates="trial", cascade="all, delete-orphan", order_by="FacilityRow.ordinal"
    )
    lanes: Mapped[list[LaneRow]] = relationship(
        back_populates="trial", cascade="all, delete-orphan", order_by="LaneRow.ordinal"
    )
    vector_lots: Mapped[list[VectorLotRow]] = relationship(
        back_populates="trial", cascade="all, delete-orphan", order_by="VectorLotRow.ordinal"
    )
    campaigns: Mapped[list[CampaignRow]] = relationship(
        back_populates="trial", cascade="all, delete-orphan", order_by="CampaignRow.ordinal"
    )
    tech_transfers: Mapped[list[TechTransferRow]] = relationship(
        back_populates="trial", cascade="all, delete-orphan", order_by="TechTransferRow.ordinal"
    )
    patients: Mapped[list[PatientRow]] = relationship(
        back_populates="trial", cascade="all, delete-orphan", order_by="PatientRow.ordinal"
    )


class SiteRow(Ordered):
    """A hospital site; apheresis columns are null together when it does not collect."""

    __tablename__ = "sites"
    __table_args__ = (
        UniqueConstraint("trial_id", "code"),
        CheckConstraint(
            "(apheresis_weekdays IS NULL) = (apheresis_per_day IS NULL)", name="apheresis"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = _trial_fk()
    code: Mapped[str] = mapped_column(CODE)
    name: Mapped[str]
    country: Mapped[str] = mapped_column(COUNTRY)
    activation_planned: Mapped[dt.date]
    activation_actual: Mapped[dt.date | None]
    enrollment_rate_per_month: Mapped[float]
    apheresis_weekdays: Mapped[list[str] | None]
    apheresis_per_day: Mapped[int | None]
    infusion_weekdays: Mapped[list[str]]
    infusion_per_day: Mapped[int]

    trial: Mapped[TrialRow] = relationship(back_populates="sites")


class FacilityRow(Ordered):
    """A drug product or vector manufacturer, with its optional process overrides.

    ``tech_transfer_id`` closes a cycle with ``tech_transfers.facility_id`` (a transfer
    is for a facility; a facility may take its ready day from a transfer), so its
    foreign key is added after both tables exist.
    """

    __tablename__ = "facilities"
    __table_args__ = (
        UniqueConstraint("trial_id", "code"),
        _one_of("kind", FACILITY_KINDS, "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = _trial_fk()
    code: Mapped[str] = mapped_column(CODE)
    name: Mapped[str]
    kind: Mapped[str] = mapped_column(CHOICE)
    country: Mapped[str] = mapped_column(COUNTRY)
    suites: Mapped[int]
    start_weekdays: Mapped[list[str]]
    ready: Mapped[dt.date | None]
    tech_transfer_id: Mapped[int | None] = mapped_column(
        ForeignKey("tech_transfers.id", use_alter=True, ondelete="SET NULL"), index=True
    )
    # process overrides: null keeps the trial's value
    manufacturing_days: Mapped[int | None]
    qc_release_days: Mapped[int | None]
    success_rate: Mapped[float | None]
    vector_units_per_batch: Mapped[int | None]
    doses_per_batch: Mapped[int | None]
    dp_shelf_life_days: Mapped[int | None]

    trial: Mapped[TrialRow] = relationship(back_populates="facilities")
    tech_transfer: Mapped[TechTransferRow | None] = relationship(
        foreign_keys=[tech_transfer_id], post_update=True
    )
    reservations: Mapped[list[ReservationRow]] = relationship(
        back_populates="facility", cascade="all, delete-orphan", order_by="ReservationRow.ordinal"
    )


class ReservationRow(Ordered):
    """Suites of a facility held by someone else from ``start_day`` to ``end_day``."""

    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE"), index=True
    )
    suites: Mapped[int]
    start_day: Mapped[dt.date]
    end_day: Mapped[dt.date]
    label: Mapped[str]

    facility: Mapped[FacilityRow] = relationship(back_populates="reservations")


class LaneRow(Ordered):
    """A courier lane; each end is either a site or a facility (exactly one of the two)."""

    __tablename__ = "lanes"
    __table_args__ = (
        CheckConstraint("(from_site_id IS NULL) <> (from_facility_id IS NULL)", name="from_one"),
        CheckConstraint("(to_site_id IS NULL) <> (to_facility_id IS NULL)", name="to_one"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = _trial_fk(index=True)
    from_site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    from_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), index=True)
    to_site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    to_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), index=True)
    days: Mapped[int]

    trial: Mapped[TrialRow] = relationship(back_populates="lanes")
    from_site: Mapped[SiteRow | None] = relationship(foreign_keys=[from_site_id])
    from_facility: Mapped[FacilityRow | None] = relationship(foreign_keys=[from_facility_id])
    to_site: Mapped[SiteRow | None] = relationship(foreign_keys=[to_site_id])
    to_facility: Mapped[FacilityRow | None] = relationship(foreign_keys=[to_facility_id])


class VectorLotRow(Ordered):
    """A vector lot; the ``extension_*`` columns are null together when none is expected."""

    __tablename__ = "vector_lots"
    __table_args__ = (
        UniqueConstraint("trial_id", "code"),
        CheckConstraint(
            "(extension_expires IS NULL) = (extension_readout IS NULL) AND "
            "(extension_expires IS NULL) = (extension_probability IS NULL) AND "
            "(extension_expires IS NULL) = (extension_status IS NULL)",
            name="extension",
        ),
        _one_of("extension_status", EXTENSION_STATUSES, "extension_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = _trial_fk()
    code: Mapped[str] = mapped_column(CODE)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), index=True)
    units: Mapped[int]
    released: Mapped[dt.date]
    expires: Mapped[dt.date]
    extension_expires: Mapped[dt.date | None]
    extension_readout: Mapped[dt.date | None]
    extension_probability: Mapped[float | None]
    extension_status: Mapped[str | None] = mapped_column(CHOICE)

    trial: Mapped[TrialRow] = relationship(back_populates="vector_lots")
    facility: Mapped[FacilityRow | None] = relationship()


class CampaignRow(Ordered):
    """A vector campaign the sponsor can still book; its id is optional in scenarios."""

    __tablename__ = "vector_campaigns"
    __table_args__ = (UniqueConstraint("trial_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = _trial_fk()
    code: Mapped[str | None] = mapped_column(CODE)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    earliest_start: Mapped[dt.date]
    lead_time_days: Mapped[int]
    units: Mapped[int]
    shelf_life_days: Mapped[int]

    trial: Mapped[TrialRow] = relationship(back_populates="campaigns")
    facility: Mapped[FacilityRow] = relationship()


class TechTransferRow(Ordered):
    """The transfer of the process to one facility."""

    __tablename__ = "tech_transfers"
    __table_args__ = (UniqueConstraint("trial_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = _trial_fk()
    code: Mapped[str] = mapped_column(CODE)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)

    trial: Mapped[TrialRow] = relationship(back_populates="tech_transfers")
    facility: Mapped[FacilityRow] = relationship(foreign_keys=[facility_id])
    milestones: Mapped[list[MilestoneRow]] = relationship(
        back_populates="tech_transfer",
        cascade="all, delete-orphan",
        order_by="MilestoneRow.ordinal",
    )


class MilestoneRow(Ordered):
    """One step of a tech transfer; its predecessors are rows of ``milestone_dependencies``."""

    __tablename__ = "milestones"
    __table_args__ = (UniqueConstraint("tech_transfer_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tech_transfer_id: Mapped[int] = mapped_column(
        ForeignKey("tech_transfers.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(CODE)
    name: Mapped[str]
    planned_start: Mapped[dt.date | None]
    duration_days: Mapped[int]
    done: Mapped[dt.date | None]
    slip_risk_days: Mapped[int]

    tech_transfer: Mapped[TechTransferRow] = relationship(back_populates="milestones")
    dependencies: Mapped[list[MilestoneDependencyRow]] = relationship(
        back_populates="milestone",
        cascade="all, delete-orphan",
        order_by="MilestoneDependencyRow.ordinal",
        foreign_keys="MilestoneDependencyRow.milestone_id",
    )


class MilestoneDependencyRow(Ordered):
    """An edge of a tech transfer's graph: ``milestone`` starts after ``after`` finishes."""

    __tablename__ = "milestone_dependencies"
    __table_args__ = (UniqueConstraint("milestone_id", "after_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    milestone_id: Mapped[int] = mapped_column(ForeignKey("milestones.id", ondelete="CASCADE"))
    after_id: Mapped[int] = mapped_column(
        ForeignKey("milestones.id", ondelete="CASCADE"), index=True
    )

    milestone: Mapped[MilestoneRow] = relationship(
        back_populates="dependencies", foreign_keys=[milestone_id]
    )
    after: Mapped[MilestoneRow] = relationship(foreign_keys=[after_id])


class PatientRow(Ordered):
    """A patient and the history so far; a null date or reference has not happened yet."""

    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("trial_id", "code"),
        _one_of("outcome", OUTCOMES, "outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = _trial_fk()
    code: Mapped[str] = mapped_column(CODE)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    enrolled: Mapped[dt.date]
    apheresis: Mapped[dt.date | None]
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), index=True)
    manufacturing_start: Mapped[dt.date | None]
    vector_lot_id: Mapped[int | None] = mapped_column(ForeignKey("vector_lots.id"), index=True)
    outcome: Mapped[str | None] = mapped_column(CHOICE)
    infusion: Mapped[dt.date | None]
    priority: Mapped[float]
    doses: Mapped[int]

    trial: Mapped[TrialRow] = relationship(back_populates="patients")
    site: Mapped[SiteRow] = relationship()
    facility: Mapped[FacilityRow | None] = relationship()
    vector_lot: Mapped[VectorLotRow | None] = relationship()

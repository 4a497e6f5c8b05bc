"""What actually happened, as typed events: the source of truth of the operational record.

Every event names its trial, the day it happened (and the time where known), who did it
and why. Events about a patient's material carry the chain-of-identity (COI) id; hand-overs
carry their chain-of-custody entry. An event is a fact as reported; whether it may
happen is decided by :mod:`chainsight.domain.journey`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from chainsight.domain.common import Identifier, NonNegativeInt, PositiveInt, Strict
from chainsight.domain.errors import Problem, ScenarioInvalid, problems_from_validation_error
from chainsight.domain.identity import IdentityInvalid, parse_coi, parse_donation_id

TrialId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Text = Annotated[str, Field(min_length=1, max_length=2000)]


def _coi(value: str) -> str:
    try:
        return str(parse_coi(value))
    except IdentityInvalid as error:
        raise ValueError(f"not a valid COI id: {error.part}: {error.reason}") from None


class Excursion(Strict):
    """A temperature excursion during a hand-over or transport."""

    description: Text
    min_celsius: float | None = None
    max_celsius: float | None = None
    minutes: NonNegativeInt | None = None


class Custody(Strict):
    """One hand-over of material: who gave it to whom, who signed, where, when, in what state."""

    from_: Text = Field(alias="from")
    to: Text
    by: Text = Field(description="who signed for the hand-over")
    where: Text
    at: AwareDatetime
    temperature_ok: bool = True
    excursion: Excursion | None = None

    @model_validator(mode="after")
    def _excursion_matches_status(self) -> Custody:
        if not self.temperature_ok and self.excursion is None:
            raise ValueError("temperature_ok is false: describe the `excursion`")
        if self.temperature_ok and self.excursion is not None:
            raise ValueError("an `excursion` is given: temperature_ok must be false")
        return self

    @property
    def at_utc(self) -> dt.datetime:
        """The hand-over time in UTC."""
        return self.at.astimezone(dt.UTC)


class EventBase(Strict):
    """Fields every event has."""

    trial: TrialId
    occurred_on: dt.date
    occurred_at: AwareDatetime | None = None
    actor: Text | None = Field(default=None,
                               description="who did it (may differ from who records it)")
    reason: Text | None = None
    comment: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _day_from_time(cls, data: Any) -> Any:
        # A time alone is enough: its UTC date is the day it happened.
        if isinstance(data, dict) and data.get("occurred_on") is None and data.get("occurred_at"):
            try:
                moment = dt.datetime.fromisoformat(str(data["occurred_at"]))
            except ValueError:
                return data
            if moment.tzinfo is not None:
                data = {**data, "occurred_on": moment.astimezone(dt.UTC).date().isoformat()}
        return data

    @model_validator(mode="after")
    def _time_on_day(self) -> EventBase:
        if self.occurred_at is not None and self.occurred_at.astimezone(dt.UTC).date() != (
            self.occurred_on
        ):
            raise ValueError(f"occurred_at {self.occurred_at.isoformat()} is not on "
                             f"occurred_on {self.occurred_on} (UTC)")
        return self

    @property
    def subject(self) -> tuple[str, str]:
        """What the event is about, as (kind of thing, id): ordering is checked per subject."""
        return ("trial", self.trial)

    @property
    def patient_id(self) -> str | None:
        """The patient the event concerns, if any."""
        return None


class PatientEvent(EventBase):
    """An event in one patient's journey."""

    patient: Identifier

    @property
    def subject(self) -> tuple[str, str]:
        return ("patient", self.patient)

    @property
    def patient_id(self) -> str | None:
        return self.patient


class MaterialEvent(PatientEvent):
    """A patient event that concerns the patient's material or product: it carries the COI."""

    coi: str

    @field_validator("coi")
    @classmethod
    def _check_coi(cls, value: str) -> str:
        return _coi(value)


class HandOverEvent(MaterialEvent):
    """A material event that is a hand-over: it carries its chain-of-custody entry."""

    custody: Custody


def _needs_reason(event: EventBase) -> None:
    if event.reason is None:
        raise ValueError("`reason` is required for this event")


class PatientEnrolled(PatientEvent):
    """A patient signed consent and was enrolled at a site."""

    kind: Literal["patient_enrolled"] = "patient_enrolled"
    site: Identifier
    priority: float = Field(default=1.0, gt=0.0)
    coi: str | None = None

    @field_validator("coi")
    @classmethod
    def _check_coi(cls, value: str | None) -> str | None:
        return None if value is None else _coi(value)


class ApheresisScheduled(PatientEvent):
    """An apheresis slot was booked at the patient's site."""

    kind: Literal["apheresis_scheduled"] = "apheresis_scheduled"
    day: dt.date


class ApheresisDone(MaterialEvent):
    """The patient's cells were collected; ``donation_id`` is the collection's label."""

    kind: Literal["apheresis_done"] = "apheresis_done"
    donation_id: str | None = None

    @field_validator("donation_id")
    @classmethod
    def _check_donation(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(parse_donation_id(value))
        except IdentityInvalid as error:
            raise ValueError(f"not a valid donation id: {error.part}: {error.reason}") from None


class MaterialShipped(HandOverEvent):
    """Apheresis material left the site for a CDMO."""

    kind: Literal["material_shipped"] = "material_shipped"
    facility: Identifier


class MaterialReceived(HandOverEvent):
    """Apheresis material arrived at the CDMO."""

    kind: Literal["material_received"] = "material_received"
    facility: Identifier


class RunStarted(MaterialEvent):
    """Manufacturing of the patient's drug product started in a suite."""

    kind: Literal["run_started"] = "run_started"
    facility: Identifier
    vector_lot: Identifier


class RunFailed(MaterialEvent):
    """The run was stopped or failed: the patient needs a new apheresis."""

    kind: Literal["run_failed"] = "run_failed"

    @model_validator(mode="after")
    def _reason(self) -> RunFailed:
        _needs_reason(self)
        return self


class QcReleased(MaterialEvent):
    """QC release testing passed: the drug product may be shipped."""

    kind: Literal["qc_released"] = "qc_released"


class QcOutOfSpec(MaterialEvent):
    """QC found the drug product out of specification: the patient needs a new apheresis."""

    kind: Literal["qc_out_of_spec"] = "qc_out_of_spec"

    @model_validator(mode="after")
    def _reason(self) -> QcOutOfSpec:
        _needs_reason(self)
        return self


class DpShipped(HandOverEvent):
    """The drug product left the CDMO for the patient's site."""

    kind: Literal["dp_shipped"] = "dp_shipped"


class DpReceived(HandOverEvent):
    """The drug product arrived at the site."""

    kind: Literal["dp_received"] = "dp_received"


class Infused(MaterialEvent):
    """The patient was infused with their drug product."""

    kind: Literal["infused"] = "infused"


class Withdrawn(PatientEvent):
    """The patient left the trial (progression, death, consent withdrawn...)."""

    kind: Literal["withdrawn"] = "withdrawn"
    coi: str | None = None

    @field_validator("coi")
    @classmethod
    def _check_coi(cls, value: str | None) -> str | None:
        return None if value is None else _coi(value)

    @model_validator(mode="after")
    def _reason(self) -> Withdrawn:
        _needs_reason(self)
        return self


class LotEvent(EventBase):
    """An event about a vector lot."""

    lot: Identifier

    @property
    def subject(self) -> tuple[str, str]:
        return ("lot", self.lot)


class LotReleased(LotEvent):
    """A vector lot was released by QA (a new lot, or a quarantined lot released again)."""

    kind: Literal["lot_released"] = "lot_released"
    units: NonNegativeInt | None = None
    expires: dt.date | None = None
    facility: Identifier | None = None


class ExtensionGranted(LotEvent):
    """Stability data support the lot's pending shelf-life extension."""

    kind: Literal["extension_granted"] = "extension_granted"
    expires: dt.date | None = None


class ExtensionRefused(LotEvent):
    """Stability data do not support the lot's pending shelf-life extension."""

    kind: Literal["extension_refused"] = "extension_refused"


class LotQuarantined(LotEvent):
    """QA put a lot on hold: no run may start on it until it is released again."""

    kind: Literal["lot_quarantined"] = "lot_quarantined"

    @model_validator(mode="after")
    def _reason(self) -> LotQuarantined:
        _needs_reason(self)
        return self


class ReservationAdded(EventBase):
    """A CDMO took suites for someone else (another client, a shutdown)."""

    kind: Literal["reservation_added"] = "reservation_added"
    facility: Identifier
    suites: PositiveInt
    start: dt.date
    end: dt.date
    label: str = ""

    @property
    def subject(self) -> tuple[str, str]:
        return ("facility", self.facility)

    @model_validator(mode="after")
    def _ends_after_start(self) -> ReservationAdded:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class MilestoneDone(EventBase):
    """A tech-transfer milestone finished."""

    kind: Literal["milestone_done"] = "milestone_done"
    transfer: Identifier
    milestone: Identifier

    @property
    def subject(self) -> tuple[str, str]:
        return ("transfer", self.transfer)


class SiteActivated(EventBase):
    """A site opened for enrolment."""

    kind: Literal["site_activated"] = "site_activated"
    site: Identifier

    @property
    def subject(self) -> tuple[str, str]:
        return ("site", self.site)


Event = Annotated[
    PatientEnrolled | ApheresisScheduled | ApheresisDone | MaterialShipped | MaterialReceived
    | RunStarted | RunFailed | QcReleased | QcOutOfSpec | DpShipped | DpReceived | Infused
    | Withdrawn | LotReleased | ExtensionGranted | ExtensionRefused | LotQuarantined
    | ReservationAdded | MilestoneDone | SiteActivated,
    Field(discriminator="kind"),
]

EVENT_TYPES: dict[str, type[EventBase]] = {
    cls.model_fields["kind"].default: cls
    for cls in (
        PatientEnrolled, ApheresisScheduled, ApheresisDone, MaterialShipped, MaterialReceived,
        RunStarted, RunFailed, QcReleased, QcOutOfSpec, DpShipped, DpReceived, Infused,
        Withdrawn, LotReleased, ExtensionGranted, ExtensionRefused, LotQuarantined,
        ReservationAdded, MilestoneDone, SiteActivated,
    )
}
EVENT_KINDS: tuple[str, ...] = tuple(EVENT_TYPES)

_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


class EventInvalid(ScenarioInvalid):
    """Data that is not a valid event; ``problems`` names every field at fault."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        self.args = (f"{count} problem{'s' if count != 1 else ''} in the event:\n{lines}",)


def parse_event(data: Any) -> Event:
    """Check raw data (a dict) as an event; EventInvalid lists every problem by field."""
    if not isinstance(data, dict):
        raise EventInvalid([Problem("", f"an event is a mapping, not {type(data).__name__}")])
    kind = data.get("kind")
    if kind is None:
        raise EventInvalid([Problem("kind", f"is required (one of {', '.join(EVENT_KINDS)})")])
    if kind not in EVENT_TYPES:
        raise EventInvalid([Problem("kind", f"unknown event kind {kind!r}; known: "
                                               f"{', '.join(EVENT_KINDS)}")])
    # Validate against the one class so error paths read `custody.at`, not `dp_shipped.custody.at`.
    try:
        EVENT_TYPES[kind].model_validate(data)
    except ValidationError as error:
        raise EventInvalid(problems_from_validation_error(error)) from None
    return _ADAPTER.validate_python(data)


def event_data(event: EventBase) -> dict[str, Any]:
    """The event as plain JSON-compatible data (the stored payload)."""
    return event.model_dump(mode="json", by_alias=True, exclude_none=True)

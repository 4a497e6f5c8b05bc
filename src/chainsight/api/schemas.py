"""Request and response bodies of the resources (what the OpenAPI document describes).

Scenario parts (sites, facilities, lots, the scenario itself) are the domain's own models:
the API gives them back exactly as the scenario format defines them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chainsight.api.auth.principal import Role

Identifier = str


class Out(BaseModel):
    """A response body: unknown fields are an error of ours, not the client's."""

    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    """A body in a published JSON format (plan, forecast): fields may be added."""

    model_config = ConfigDict(extra="allow")


class UserOut(Out):
    """A user as the service knows it."""

    name: str
    role: Role
    site: str | None
    facility: str | None
    courier: str | None
    organisation: str


class LoginIn(BaseModel):
    """A login with name and password (starts a browser session)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class TrialOut(Out):
    """One stored trial."""

    id: str
    name: str
    modality: str
    today: dt.date
    patients: int
    sites: int


class PatientOut(Out):
    """A patient as the sponsor, auditors and its own site see it."""

    id: str
    site: str
    enrolled: dt.date
    apheresis: dt.date | None
    facility: str | None
    manufacturing_start: dt.date | None
    vector_lot: str | None
    outcome: str | None
    infusion: dt.date | None
    priority: float
    doses: int
    coi: str | None
    state: str | None


class CoiPatientOut(Out):
    """A patient as a CDMO or courier sees it: by chain-of-identity id only, with no field
    that says who the patient is or where they were enrolled."""

    coi: str
    state: str | None
    facility: str | None
    apheresis: dt.date | None
    manufacturing_start: dt.date | None
    vector_lot: str | None
    outcome: str | None


class EventOut(Out):
    """A recorded event (``patient`` is null for callers who see COI ids only)."""

    sequence: int
    kind: str
    occurred_on: dt.date
    patient: str | None
    coi: str | None
    recorded_by: str
    recorded_at: str
    idempotency_key: str | None
    event: dict[str, Any]


class RecordedOut(Out):
    """What recording an event did."""

    trial: str
    sequence: int
    kind: str
    patient: str | None
    state: str | None
    coi: str | None
    alerts: list[str]
    duplicate: bool


class ShipmentOut(Out):
    """One hand-over in the chain of custody."""

    coi: str
    patient: str | None
    material: str
    from_party: str
    to_party: str
    signed_by: str
    place: str
    handed_at: dt.datetime
    temperature_ok: bool
    excursion: dict[str, Any] | None
    qa_status: str


class PlanDocument(Open):
    """A plan in the ``chainsight-plan/1`` format (see the scenario format document)."""

    format: str
    trial: str
    today: dt.date | str
    solver: dict[str, Any] | None = None
    patients: list[dict[str, Any]]
    batches: list[dict[str, Any]]
    vector_lots: list[dict[str, Any]]
    unplanned: list[dict[str, Any]]
    kpis: dict[str, Any] | None


class PlanOut(Out):
    """The current plan of a trial and where it came from."""

    id: int
    trial: str
    created_at: dt.datetime
    created_by: str
    reason: str
    plan: PlanDocument


class ReplanIn(BaseModel):
    """A request to plan again, optionally after recording one event first."""

    model_config = ConfigDict(extra="forbid")

    event: dict[str, Any] | None = Field(
        default=None, description="an event to record before planning (same as POST events)")
    reason: str = Field(default="re-plan", max_length=2000)
    time_limit_seconds: float | None = Field(default=None, gt=0, le=600)


class ForecastOut(Open):
    """A forecast in the ``chainsight-forecast/1`` format."""

    format: str
    runs: int
    seed: int


class AlertOut(Open):
    """A radar alert (the radar's own fields) with its acknowledgement."""

    id: str
    kind: str
    severity: Literal["info", "warning", "high", "critical"]
    title: str
    owner: str
    due: dt.date | None
    action: str
    evidence: dict[str, Any]
    probability: float
    impact: int
    patients: list[str] | None = None
    lots: list[str] | None = None
    facilities: list[str] | None = None
    sites: list[str] | None = None
    what_if: list[dict[str, Any]] | None = None
    first_seen_at: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    comment: str | None
    assignee: str | None


class IncidentOut(Out):
    """Something the record raised: a refused event, an excursion, a failed run..."""

    id: int
    kind: str
    code: str
    patient: str | None
    field: str | None
    message: str
    raised_by: str
    raised_at: dt.datetime


class RisksOut(Out):
    """The radar's alerts for a trial and the record's incidents."""

    trial: str
    computed_at: dt.datetime
    alerts: list[AlertOut]
    incidents: list[IncidentOut]


class AcknowledgeIn(BaseModel):
    """An acknowledgement: who takes it on, and a note."""

    model_config = ConfigDict(extra="forbid")

    comment: str = Field(min_length=1, max_length=2000)
    assignee: str | None = Field(default=None, min_length=1, max_length=200)


class AuditEntryOut(Out):
    """One entry of the audit trail."""

    seq: int
    at: str
    actor: str
    reason: str
    action: str
    table: str
    row: str
    trial: str | None
    patient: str | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    hash: str


class AuditVerifyOut(Out):
    """Whether the hash chain of the audit trail holds."""

    entries: int
    ok: bool
    broken_seq: int | None
    reason: str


class WebhookIn(BaseModel):
    """A URL to send this organisation's events and alerts to."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://[^\s]+$")
    topics: list[Literal["event", "alert"]] = Field(default=["event", "alert"], min_length=1)
    trial: str | None = Field(default=None, min_length=1, max_length=64,
                              pattern=r"^[A-Za-z0-9_-]+$")
    description: str = Field(default="", max_length=2000)

    @field_validator("url")
    @classmethod
    def _parsable_url(cls, value: str) -> str:
        # The pattern admits strings urllib cannot split (a stray ']' reads as a broken
        # IPv6 literal); a URL the worker could never call is a field error, not a 500.
        try:
            host = urlsplit(value).hostname
        except ValueError as error:
            raise ValueError(f"not a usable URL ({error})") from None
        if not host:
            raise ValueError("the URL names no host")
        return value


class WebhookOut(Out):
    """A registered webhook (its secret is shown only when it is created)."""

    id: int
    organisation: str
    url: str
    topics: list[str]
    trial: str | None
    description: str
    created_at: dt.datetime
    active: bool


class WebhookCreated(WebhookOut):
    """A new webhook with the secret its deliveries are signed with (shown once)."""

    secret: str


class DeliveryOut(Out):
    """One delivery attempt series of one message to one webhook."""

    id: int
    topic: str
    item: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None

"""Alerts: what will go wrong if nobody acts, who must act, by when, and what to do."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["info", "warning", "high", "critical"]
Owner = Literal["sponsor", "site", "cdmo", "courier"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "warning": 1, "high": 2, "critical": 3}

KINDS = (
    "capacity_shortfall",
    "vector_stockout",
    "vector_campaign_deadline",
    "vector_expiry",
    "tech_transfer_slip",
    "site_activation_delay",
    "protocol_window",
    "shipment_stability",
)


def impact_level(patients_affected: float) -> int:
    """Impact on a 1-4 scale from the number of patients whose treatment it touches."""
    if patients_affected >= 5:
        return 4
    if patients_affected >= 2:
        return 3
    if patients_affected > 0:
        return 2
    return 1


def severity_of(probability: float, impact: int) -> Severity:
    """Severity from a risk matrix: how likely (0-1) times how bad (impact 1-4).

    A near-certain problem that delays several patients is critical; a likely one that
    touches one patient is high; an unlikely one or one with little impact is a warning
    or information.
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be in [0, 1], got {probability}")
    if impact not in (1, 2, 3, 4):
        raise ValueError(f"impact must be 1, 2, 3 or 4, got {impact}")
    score = probability * impact
    if probability >= 0.5 and impact == 4:
        return "critical"
    if score >= 1.5:
        return "high"
    if score >= 0.5:
        return "warning"
    return "info"


def alert_id(kind: str, *subject: str) -> str:
    """A stable identity: the same problem (kind and subject) is the same alert each run."""
    key = "|".join((kind, *subject))
    return f"{kind}:{hashlib.sha256(key.encode()).hexdigest()[:12]}"


class Alert(BaseModel):
    """One warning of the bottleneck radar."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: str
    severity: Severity
    title: str
    owner: Owner
    due: dt.date | None
    action: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    probability: float = Field(ge=0.0, le=1.0)
    impact: int = Field(ge=1, le=4)
    patients: list[str] = Field(default_factory=list)
    lots: list[str] = Field(default_factory=list)
    facilities: list[str] = Field(default_factory=list)
    sites: list[str] = Field(default_factory=list)
    what_if: dict[str, Any] | None = Field(
        default=None,
        description="the recommended action as a forecast what-if (the what-if file format)",
    )

    @property
    def rank(self) -> tuple[int, float, str]:
        """Sort key: most severe, then most likely times worst, then id."""
        return (-SEVERITY_ORDER[self.severity], -self.probability * self.impact, self.id)

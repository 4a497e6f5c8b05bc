"""Tech transfer of the process to a facility: a graph of milestones."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from chainsight.domain.common import Identifier, NonNegativeInt, Strict


class Milestone(Strict):
    """One step of a tech transfer (kick-off, engineering runs, PPQ, GMP readiness...)."""

    id: Identifier
    name: str = Field(min_length=1)
    planned_start: dt.date | None = None
    duration_days: NonNegativeInt
    done: dt.date | None = None
    after: list[Identifier] = Field(default_factory=list)
    slip_risk_days: NonNegativeInt = 0


class TechTransfer(Strict):
    """The transfer of the process to one facility; it is ready when all milestones finish."""

    id: Identifier
    facility: Identifier
    milestones: list[Milestone] = Field(min_length=1)

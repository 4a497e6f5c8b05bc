"""Patients and what has happened to them so far."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from chainsight.domain.common import Identifier, PositiveInt, Strict

Outcome = Literal["released", "failed", "infused", "withdrawn"]


class Patient(Strict):
    """A patient enrolled (or expected) at a site; a null field has not happened yet."""

    id: Identifier
    site: Identifier
    enrolled: dt.date
    apheresis: dt.date | None = None
    facility: Identifier | None = None
    manufacturing_start: dt.date | None = None
    vector_lot: Identifier | None = None
    outcome: Outcome | None = None
    infusion: dt.date | None = None
    priority: float = Field(default=1.0, gt=0.0)
    doses: PositiveInt = 1

    @property
    def is_closed(self) -> bool:
        """Whether the journey is over (infused or withdrawn): nothing left to plan."""
        return self.outcome in ("infused", "withdrawn")

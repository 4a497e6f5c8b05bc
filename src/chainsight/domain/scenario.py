"""The scenario: one trial's whole value chain on its planning day."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Literal

from pydantic import Field

from chainsight.domain.common import Strict
from chainsight.domain.facility import Facility
from chainsight.domain.lane import Lane
from chainsight.domain.objective import Objective
from chainsight.domain.patient import Patient
from chainsight.domain.process import Process
from chainsight.domain.site import Site
from chainsight.domain.tech_transfer import TechTransfer
from chainsight.domain.trial import Trial
from chainsight.domain.vector import Lot, Vector

FORMAT: Literal["chainsight/1"] = "chainsight/1"


class Scenario(Strict):
    """A trial's sites, manufacturers, vector, lanes, tech transfers and patients.

    Build one with :func:`chainsight.domain.validation.parse_scenario`, which also runs
    the cross-checks; constructing the class directly checks fields only.
    """

    format: Literal["chainsight/1"] = FORMAT
    trial: Trial
    process: Process
    sites: list[Site] = Field(default_factory=list)
    facilities: list[Facility] = Field(default_factory=list)
    lanes: list[Lane] = Field(default_factory=list)
    vector: Vector = Field(default_factory=Vector)
    tech_transfer: list[TechTransfer] = Field(default_factory=list)
    patients: list[Patient] = Field(default_factory=list)
    objective: Objective = Field(default_factory=Objective)

    @property
    def today(self) -> dt.date:
        """The planning day: day 0 of plans and forecasts."""
        return self.trial.today

    @cached_property
    def _sites(self) -> dict[str, Site]:
        return {s.id: s for s in self.sites}

    @cached_property
    def _facilities(self) -> dict[str, Facility]:
        return {f.id: f for f in self.facilities}

    @cached_property
    def _lots(self) -> dict[str, Lot]:
        return {lot.id: lot for lot in self.vector.lots}

    @cached_property
    def _patients(self) -> dict[str, Patient]:
        return {p.id: p for p in self.patients}

    @cached_property
    def _lanes(self) -> dict[tuple[str, str], int]:
        return {(lane.from_, lane.to): lane.days for lane in self.lanes}

    @cached_property
    def _transfers(self) -> dict[str, TechTransfer]:
        return {t.id: t for t in self.tech_transfer}

    def site(self, site_id: str) -> Site:
        """The site with this id (KeyError if none)."""
        return self._sites[site_id]

    def facility(self, facility_id: str) -> Facility:
        """The facility with this id (KeyError if none)."""
        return self._facilities[facility_id]

    def lot(self, lot_id: str) -> Lot:
        """The vector lot with this id (KeyError if none)."""
        return self._lots[lot_id]

    def patient(self, patient_id: str) -> Patient:
        """The patient with this id (KeyError if none)."""
        return self._patients[patient_id]

    def transfer(self, transfer_id: str) -> TechTransfer:
        """The tech transfer with this id (KeyError if none)."""
        return self._transfers[transfer_id]

    def lane_days(self, origin: str, destination: str) -> int | None:
        """Door-to-door days on the lane from ``origin`` to ``destination``; None if no lane."""
        return self._lanes.get((origin, destination))

    def lanes_from(self, origin: str) -> dict[str, int]:
        """Every destination reachable from ``origin`` and its lane days."""
        return {to: days for (frm, to), days in self._lanes.items() if frm == origin}

    def process_at(self, facility_id: str) -> Process:
        """The manufacturing process as run at a facility (its overrides applied)."""
        return self.facility(facility_id).process.apply_to(self.process)

    @property
    def dp_facilities(self) -> list[Facility]:
        """Facilities that make drug product for this trial."""
        return [f for f in self.facilities if f.kind == "drug_product"]

"""Manufacturers of a trial (the sponsor, auditors, and each CDMO its own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from chainsight.api.dependencies import CurrentUser, Trial
from chainsight.api.problems import not_found
from chainsight.api.routers import api_router
from chainsight.api.scoping import sees_facility
from chainsight.domain import Facility

router = api_router("facilities")
FacilityId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/trials/{trial_id}/facilities", response_model=list[Facility])
def list_facilities(ctx: Trial, principal: CurrentUser) -> list[Facility]:
    """The facilities the caller may see, with their reservations."""
    return [f for f in ctx.scenario.facilities if sees_facility(principal, f.id)]


@router.get("/trials/{trial_id}/facilities/{facility_id}", response_model=Facility)
def get_facility(ctx: Trial, facility_id: FacilityId, principal: CurrentUser) -> Facility:
    """One facility (404 if not visible)."""
    for facility in ctx.scenario.facilities:
        if facility.id == facility_id and sees_facility(principal, facility.id):
            return facility
    raise not_found(f"facility {facility_id}")

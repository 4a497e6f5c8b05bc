"""Sites of a trial (the sponsor, auditors, and each site its own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from chainsight.api.dependencies import CurrentUser, Trial
from chainsight.api.problems import not_found
from chainsight.api.routers import api_router
from chainsight.api.scoping import sees_site
from chainsight.domain import Site

router = api_router("sites")
SiteId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/trials/{trial_id}/sites", response_model=list[Site])
def list_sites(ctx: Trial, principal: CurrentUser) -> list[Site]:
    """The sites the caller may see."""
    return [s for s in ctx.scenario.sites if sees_site(principal, s.id)]


@router.get("/trials/{trial_id}/sites/{site_id}", response_model=Site)
def get_site(ctx: Trial, site_id: SiteId, principal: CurrentUser) -> Site:
    """One site (404 if not visible)."""
    for site in ctx.scenario.sites:
        if site.id == site_id and sees_site(principal, site.id):
            return site
    raise not_found(f"site {site_id}")

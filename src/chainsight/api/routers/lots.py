"""Vector lots of a trial (the sponsor, auditors, and CDMOs the lots they make or use)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from chainsight.api.dependencies import CurrentUser, Trial
from chainsight.api.problems import not_found
from chainsight.api.routers import api_router
from chainsight.api.scoping import sees_lot
from chainsight.domain import Lot

router = api_router("lots")
LotId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/trials/{trial_id}/lots", response_model=list[Lot])
def list_lots(ctx: Trial, principal: CurrentUser) -> list[Lot]:
    """The vector lots the caller may see."""
    return [lot for lot in ctx.scenario.vector.lots if sees_lot(principal, ctx, lot)]


@router.get("/trials/{trial_id}/lots/{lot_id}", response_model=Lot)
def get_lot(ctx: Trial, lot_id: LotId, principal: CurrentUser) -> Lot:
    """One lot (404 if not visible)."""
    for lot in ctx.scenario.vector.lots:
        if lot.id == lot_id and sees_lot(principal, ctx, lot):
            return lot
    raise not_found(f"lot {lot_id}")

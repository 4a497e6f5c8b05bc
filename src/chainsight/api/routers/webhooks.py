"""Webhooks of the caller's organisation: register, list, remove, and the delivery log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from chainsight.api import repository as repo
from chainsight.api import webhooks as service
from chainsight.api.auth.principal import Principal
from chainsight.api.dependencies import CurrentUser, Db, ServicesDep
from chainsight.api.idempotency import Idempotency, KeyHeader, request_fingerprint
from chainsight.api.models import WebhookRow
from chainsight.api.problems import not_found
from chainsight.api.routers import api_router
from chainsight.api.schemas import DeliveryOut, WebhookCreated, WebhookIn, WebhookOut
from chainsight.api.scoping import require

router = api_router("webhooks")
WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def webhook_out(row: WebhookRow) -> dict[str, Any]:
    """A webhook as the API shows it (no secret)."""
    return {"id": row.id, "organisation": row.organisation, "url": row.url,
            "topics": row.topics.split(","), "trial": row.trial,
            "description": row.description, "created_at": repo.aware(row.created_at),
            "active": row.active}


def _own(session: Session, principal: Principal, webhook_id: int) -> WebhookRow:
    row = session.get(WebhookRow, webhook_id)
    if row is None or row.organisation != principal.organisation or not row.active:
        raise not_found(f"webhook {webhook_id}")
    return row


@router.get("/webhooks", response_model=list[WebhookOut])
def list_webhooks(principal: CurrentUser, session: Db) -> list[dict[str, Any]]:
    """The active webhooks of the caller's organisation."""
    require(principal, "manage_webhooks")
    return [webhook_out(row) for row in repo.webhooks_of(session, principal.organisation)]


@router.post("/webhooks", status_code=201, response_model=WebhookCreated,
             responses={200: {"description": "replayed answer of an earlier request",
                              "model": WebhookCreated}})
def register_webhook(body: WebhookIn, request: Request, principal: CurrentUser, session: Db,
                     services: ServicesDep, idempotency_key: KeyHeader = None) -> Any:
    """Register a URL for the organisation's events and alerts; the answer carries the
    signing secret, shown this once."""
    require(principal, "manage_webhooks")
    idem = Idempotency(session, principal, idempotency_key, "POST", request.url.path,
                       request_fingerprint("POST", request.url.path, body.model_dump()))
    earlier = idem.earlier()
    if earlier is not None:
        return earlier
    row, secret = service.register(session, principal=principal, body=body,
                                   settings=services.settings)
    result = WebhookCreated.model_validate({**webhook_out(row), "secret": secret})
    idem.remember(201, result)
    return JSONResponse(result.model_dump(mode="json"), status_code=201)


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response)
def remove_webhook(webhook_id: WebhookId, principal: CurrentUser, session: Db) -> Response:
    """Stop sending to a webhook of the caller's organisation."""
    require(principal, "manage_webhooks")
    service.unregister(session, principal=principal, hook=_own(session, principal, webhook_id))
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut])
def list_deliveries(webhook_id: WebhookId, principal: CurrentUser, session: Db,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100
                    ) -> list[dict[str, Any]]:
    """The webhook's delivery log, newest first."""
    require(principal, "manage_webhooks")
    _own(session, principal, webhook_id)
    return [{"id": d.id, "topic": d.topic, "item": d.item, "status": d.status,
             "attempts": d.attempts, "last_status": d.last_status, "last_error": d.last_error,
             "created_at": repo.aware(d.created_at),
             "delivered_at": repo.aware(d.delivered_at) if d.delivered_at else None}
            for d in repo.deliveries_of(session, webhook_id, limit)]

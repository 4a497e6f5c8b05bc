"""``GET /api/stream``: server-sent events of what happens in the caller's scope."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Header, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.sse import EventSourceResponse, format_sse_event

from chainsight.api.auth.principal import Principal
from chainsight.api.dependencies import CurrentUser, Services, ServicesDep
from chainsight.api.routers import api_router
from chainsight.api.stream import Hub, Position, current_position, poll

router = api_router("stream")


@router.get("/stream", response_class=Response, responses={200: {
    "description": "Server-sent events", "content": {"text/event-stream": {}}}})
async def stream(
    principal: CurrentUser, services: ServicesDep,
    trial: Annotated[str | None, Query(min_length=1, max_length=64,
                                       pattern=r"^[A-Za-z0-9_-]+$")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=100)] = None,
) -> EventSourceResponse:
    """New events (``event: event``), radar alerts (``alert``) and record incidents
    (``incident``) the caller may see, as they are committed; ``trial`` narrows to one
    trial. The stream ends after a while; browsers reconnect with ``Last-Event-ID``."""
    # The events are written here rather than by FastAPI's generator streaming: its
    # keep-alive task raises into the server log when a client goes away mid-send, and
    # this stream sends its own keep-alives anyway.
    return EventSourceResponse(
        _events(principal, services, trial, last_event_id),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _events(principal: Principal, services: Services, trial: str | None,
                  last_event_id: str | None) -> AsyncIterator[bytes]:
    settings = services.settings
    hub = next(w for w in services.wake if isinstance(w, Hub))
    resumed = Position.parse(last_event_id)
    if resumed is None:
        with services.factory() as session:
            resumed = current_position(session)
    position: Position = resumed
    yield format_sse_event(comment="connected", retry=3000, id=position.text())
    waiter = hub.subscribe()
    deadline = time.monotonic() + settings.stream_max_seconds
    idle_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            items, position = await run_in_threadpool(poll, services.factory, principal,
                                                      position, trial)
            for kind, data in items:
                yield format_sse_event(event=kind, id=position.text(),
                                       data_str=json.dumps(jsonable_encoder(data)))
                idle_since = time.monotonic()
            if time.monotonic() - idle_since >= settings.stream_keepalive_seconds:
                yield format_sse_event(comment="keep-alive", id=position.text())
                idle_since = time.monotonic()
            _, wake = waiter
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=settings.stream_poll_seconds)
            wake.clear()
    finally:
        hub.unsubscribe(waiter)

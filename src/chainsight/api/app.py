"""The application factory: ``create_app(settings)`` wires the store, the routes, the
problem handlers, the stream hub and the webhook worker."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from chainsight.api import problems
from chainsight.api.auth.secrets import password_hasher
from chainsight.api.dependencies import Services
from chainsight.api.routers import (
    audit,
    events,
    facilities,
    forecast,
    lots,
    patients,
    plan,
    risks,
    session,
    sites,
    stream,
    trials,
    webhooks,
)
from chainsight.api.settings import Settings
from chainsight.api.stream import Hub
from chainsight.api.webhooks import WebhookWorker
from chainsight.store.session import open_store

ROUTERS = (session, trials, patients, sites, facilities, lots, events, plan, forecast, risks,
           audit, stream, webhooks)


def _operation_id(route: APIRoute) -> str:
    # The function's name: stable across releases, unlike FastAPI's path-derived default.
    return route.name


def create_app(settings: Settings | None = None, *,
               clock: Callable[[], dt.datetime] | None = None) -> FastAPI:
    """The ChainSight service on the store ``settings.database_url`` (migrated on open).

    ``clock`` is the record's now (UTC; default the system clock): events dated after it
    are refused, so a demonstration on a trial set in the future needs its own clock.
    """
    settings = settings or Settings.from_env()
    factory = open_store(settings.database_url)
    services = Services(
        settings=settings, factory=factory,
        hasher=password_hasher(time_cost=settings.argon2_time_cost,
                               memory_kib=settings.argon2_memory_kib,
                               parallelism=settings.argon2_parallelism))
    clock = clock or settings.record_clock()
    if clock is not None:
        services.clock = clock
    hub = Hub()
    worker = WebhookWorker(factory, settings)
    services.wake.extend([hub, worker])

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.webhooks_enabled:
            worker.start()
        try:
            yield
        finally:
            worker.stop()

    app = FastAPI(
        title="ChainSight",
        version="1",
        summary="Operations of cell & gene therapy trials: the shared record, plan, "
                "forecast and risks, scoped by organisation.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        dependencies=[Depends(problems.no_nul_characters)],
    )
    app.state.services = services
    app.state.webhook_worker = worker
    problems.install(app)
    for module in ROUTERS:
        app.include_router(module.router)

    @app.get("/healthz", tags=["health"], response_model=dict[str, str])
    def health() -> dict[str, str]:
        """Liveness: the process answers (no credentials needed, nothing about data)."""
        return {"status": "ok"}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, summary=app.summary,
                                   routes=app.routes)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            problem = problems.problem_schema()
            for name, definition in problem.pop("$defs", {}).items():
                schemas.setdefault(name, definition)
            schemas["ProblemDetail"] = problem
            document["components"]["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
            }
            document["security"] = [{"bearer": []}, {"basic": []}]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app

"""Thin routes, one module per resource: they authenticate, ask ``scoping`` what the caller
may see and do, call the services, and shape the answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from chainsight.api.problems import problem_responses

ERRORS: dict[int | str, dict[str, Any]] = problem_responses(400, 401, 403, 404, 409, 422, 500,
                                                            503)


def api_router(tag: str) -> APIRouter:
    """A router under ``/api`` whose every route documents the problem responses."""
    return APIRouter(prefix="/api", tags=[tag], responses=ERRORS)

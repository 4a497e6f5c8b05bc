"""Errors as RFC 9457 problem details (``application/problem+json``), for every status.

Each error names what is at fault: validation errors list every field in ``errors``
(``{"field": "body.sites[0].id", "message": ...}``). Nothing unexpected ever shows a
traceback: the catch-all logs it under an id and answers 500 with that id only.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from chainsight.domain import Problem as DomainProblem
from chainsight.domain import ScenarioInvalid
from chainsight.domain.errors import format_path
from chainsight.domain.journey import EventRefused
from chainsight.store.errors import StoreUnavailable

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:chainsight:problem:"
log = logging.getLogger("chainsight.api")


class FieldError(BaseModel):
    """One field at fault: where (a path such as ``body.sites[0].id``) and why."""

    field: str
    message: str


class ProblemDetail(BaseModel):
    """An error, as RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="a URI naming the kind of problem")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class ApiProblem(Exception):
    """An error the service answers with on purpose; raise it from anywhere below a route."""

    def __init__(self, status: int, title: str, detail: str | None = None, *,
                 kind: str | None = None, errors: Sequence[FieldError] | None = None,
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind or _slug(title)
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})
        self.extra = extra


def not_found(what: str) -> ApiProblem:
    """404 that says only what was asked for: it never tells whether it exists elsewhere."""
    return ApiProblem(404, "Not found", f"{what} was not found", kind="not-found")


def forbidden(detail: str) -> ApiProblem:
    """403: the caller is known and may see this, but not do it."""
    return ApiProblem(403, "Forbidden", detail, kind="forbidden")


def unauthorized(detail: str, challenge: str = 'Bearer realm="chainsight"') -> ApiProblem:
    """401 with the challenge that says how to authenticate."""
    return ApiProblem(401, "Unauthorized", detail, kind="unauthorized",
                      headers={"WWW-Authenticate": challenge})


def invalid(problems: Sequence[DomainProblem], prefix: str = "body",
            detail: str | None = None) -> ApiProblem:
    """422 naming every field at fault (domain problems carry their own paths)."""
    errors = [FieldError(field=_join(prefix, p.path), message=p.message) for p in problems]
    count = len(errors)
    return ApiProblem(422, "Invalid input",
                      detail or f"{count} problem{'s' if count != 1 else ''} in the request",
                      kind="validation", errors=errors)


async def no_nul_characters(request: Request) -> None:
    """Refuse text with a NUL character anywhere in the query or a JSON body (422).

    PostgreSQL cannot store NUL in text, SQLite can: refusing it at the door keeps both
    databases answering the same way, with the field named instead of a 500.
    """
    errors = [FieldError(field=f"query.{key}", message="contains a NUL character")
              for key, value in request.query_params.multi_items()
              if "\x00" in key or "\x00" in value]
    errors += [FieldError(field=f"path.{key}", message="contains a NUL character")
               for key, value in request.path_params.items() if "\x00" in str(value)]
    if request.method in ("POST", "PUT", "PATCH") and "json" in request.headers.get(
            "content-type", ""):
        raw = await request.body()
        if b"\\u0000" in raw or b"\x00" in raw:
            try:
                data = json.loads(raw)
            except ValueError:
                data = None  # malformed JSON: the route's own parsing answers 400
            errors += [FieldError(field=path, message="contains a NUL character")
                       for path in _nul_paths(data, "body")]
    if errors:
        raise ApiProblem(422, "Invalid input", "text may not contain NUL characters",
                         kind="validation", errors=errors)


def _nul_paths(value: Any, path: str) -> list[str]:
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            where = f"{path}.{key}"
            found += [where] if "\x00" in str(key) else []
            found += _nul_paths(item, where)
        return found
    if isinstance(value, list):
        return [p for index, item in enumerate(value)
                for p in _nul_paths(item, f"{path}[{index}]")]
    return []


def _join(prefix: str, path: str) -> str:
    if not path:
        return prefix
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def _slug(title: str) -> str:
    return "-".join(title.lower().split())


def problem_response(request: Request, problem: ApiProblem) -> JSONResponse:
    """The JSON response of a problem."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + problem.kind,
        "title": problem.title,
        "status": problem.status,
        "instance": request.url.path,
    }
    if problem.detail is not None:
        body["detail"] = problem.detail
    if problem.errors is not None:
        body["errors"] = [e.model_dump() for e in problem.errors]
    body.update(problem.extra)
    return JSONResponse(body, status_code=problem.status, media_type=MEDIA_TYPE,
                        headers=problem.headers)


def _validation_errors(error: RequestValidationError) -> tuple[int, list[FieldError]]:
    found: list[FieldError] = []
    status = 422
    for item in error.errors():
        loc = [p for p in item.get("loc", ()) if isinstance(p, int | str)]
        kind = str(item.get("type", ""))
        if kind == "json_invalid":
            status = 400
        message = str(item.get("msg", "is not valid"))
        if kind == "missing":
            message = "is required"
        elif kind == "extra_forbidden":
            message = "is not a known field"
        elif message.startswith("Value error, "):
            message = message[len("Value error, "):]
        found.append(FieldError(field=format_path(loc), message=message))
    return status, found


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem details."""

    @app.exception_handler(ApiProblem)
    async def _api_problem(request: Request, error: ApiProblem) -> JSONResponse:
        return problem_response(request, error)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        status, errors = _validation_errors(error)
        title = "Malformed request body" if status == 400 else "Invalid input"
        count = len(errors)
        return problem_response(request, ApiProblem(
            status, title, f"{count} problem{'s' if count != 1 else ''} in the request",
            kind="malformed" if status == 400 else "validation", errors=errors))

    @app.exception_handler(ScenarioInvalid)
    async def _domain_invalid(request: Request, error: ScenarioInvalid) -> JSONResponse:
        return problem_response(request, invalid(error.problems))

    @app.exception_handler(EventRefused)
    async def _refused(request: Request, error: EventRefused) -> JSONResponse:
        errors = [FieldError(field=_join("body", error.field), message=error.message)]
        return problem_response(request, ApiProblem(
            409, "Event refused", str(error), kind=f"event-refused:{error.code}",
            errors=errors, code=error.code))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed"}
        title = titles.get(error.status_code, "HTTP error")
        detail = str(error.detail) if error.detail else None
        if error.status_code == 404:
            detail = f"{request.url.path} is not a resource of this service"
        return problem_response(request, ApiProblem(
            error.status_code, title, detail, headers=dict(error.headers or {})))

    @app.exception_handler(StoreUnavailable)
    async def _store(request: Request, error: StoreUnavailable) -> JSONResponse:
        log.error("store unavailable: %s", error)
        return problem_response(request, ApiProblem(
            503, "Service unavailable", "the database cannot be used right now",
            headers={"Retry-After": "5"}))

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, error: OperationalError) -> JSONResponse:
        # A locked SQLite file or a dropped connection: worth a retry, not a 500.
        log.warning("database busy or unreachable: %s", str(error.orig or error)[:200])
        return problem_response(request, ApiProblem(
            503, "Service unavailable", "the database is busy; try again",
            headers={"Retry-After": "1"}))

    @app.exception_handler(PoolTimeout)
    async def _pool(request: Request, error: PoolTimeout) -> JSONResponse:
        # Every pooled connection is in use (a burst of slow writers): retry shortly.
        log.warning("no database connection free: %s", str(error)[:200])
        return problem_response(request, ApiProblem(
            503, "Service unavailable", "the service is saturated; try again",
            headers={"Retry-After": "2"}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex[:12]
        log.exception("unexpected error %s on %s %s", incident, request.method,
                      request.url.path)
        return problem_response(request, ApiProblem(
            500, "Internal error", f"an unexpected error occurred (incident {incident})",
            kind="internal", incident=incident))


def problem_schema() -> dict[str, Any]:
    """The JSON Schema of problem details (for the OpenAPI document)."""
    return ProblemDetail.model_json_schema(ref_template="#/components/schemas/{model}")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses, as problem+json."""
    reasons = {400: "Malformed request", 401: "No valid credentials",
               403: "Not allowed for this user", 404: "Not found (or not visible)",
               409: "Conflict with the current state", 422: "Invalid input, by field",
               503: "Database busy or unavailable", 500: "Unexpected error"}
    ref = {"$ref": "#/components/schemas/ProblemDetail"}
    return {status: {"description": reasons.get(status, "Error"),
                     "content": {MEDIA_TYPE: {"schema": ref}}} for status in statuses}

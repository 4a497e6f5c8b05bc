"""The request's dependencies: services, the database session (committed at the request's
boundary), the authenticated principal and the trial in scope."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated

from argon2 import PasswordHasher
from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session, sessionmaker

from chainsight.api.auth import service as auth
from chainsight.api.auth.principal import Principal
from chainsight.api.problems import ApiProblem, not_found, unauthorized
from chainsight.api.scoping import TrialContext, sees_trial
from chainsight.api.settings import Settings
from chainsight.record import repository as record_repo
from chainsight.store.repository import get_scenario

CHANGED = "chainsight.api.changed"
CSRF_HEADERS = ("x-requested-with", "hx-request")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Services:
    """What the application holds for its requests (``app.state.services``)."""

    settings: Settings
    factory: sessionmaker[Session]
    hasher: PasswordHasher
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    wake: list[object] = field(default_factory=list)

    def changed(self) -> None:
        """Something was committed: wake the stream and the webhook worker now rather than
        at their next poll."""
        for waiter in self.wake:
            poke = getattr(waiter, "poke", None)
            if poke is not None:
                poke()


def get_services(request: Request) -> Services:
    """The application's services."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def db_session(services: ServicesDep) -> Iterator[Session]:
    """One session per request; committed when the route returns, rolled back on error.

    Function scope: the commit happens before the response is sent, so a client never
    sees success for something that was not stored.
    """
    session = services.factory()
    try:
        yield session
        session.commit()
        if session.info.get(CHANGED):
            services.changed()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


Db = Annotated[Session, Depends(db_session, scope="function")]


def mark_changed(session: Session) -> None:
    """Note that the request changes data others may be waiting for (stream, webhooks)."""
    session.info[CHANGED] = True


def _basic(value: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    return (name, password) if sep else None


def authenticate(request: Request, session: Db, services: ServicesDep) -> Principal:
    """The caller: a Bearer token, HTTP Basic name and password, or a session cookie.

    Anything else is 401. A cookie-authenticated write must carry ``X-Requested-With``
    (or htmx's ``HX-Request``): a cross-site form cannot set such a header, so a page
    elsewhere cannot make a logged-in browser write.
    """
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        principal = auth.principal_for_token(session, value, kinds=("api", "session"))
        if principal is None:
            raise unauthorized("the token is not valid (unknown, revoked or expired)")
        return principal
    if scheme.lower() == "basic" and value:
        pair = _basic(value)
        found = None
        if pair is not None:
            found = auth.principal_for_password(session, hasher=services.hasher,
                                                name=pair[0], password=pair[1])
        if found is None:
            raise unauthorized("wrong user name or password",
                               challenge='Basic realm="chainsight", charset="UTF-8"')
        return found
    if header:
        raise unauthorized("unsupported Authorization scheme: use Bearer or Basic")
    cookie = request.cookies.get(services.settings.session_cookie_name)
    if cookie:
        principal = auth.principal_for_token(session, cookie, kinds=("session",),
                                             via="session")
        if principal is None:
            raise unauthorized("the session has ended: log in again")
        if request.method not in SAFE_METHODS and not any(
                request.headers.get(h) for h in CSRF_HEADERS):
            raise ApiProblem(403, "Forbidden",
                             "a write from a browser session needs the X-Requested-With header",
                             kind="csrf")
        return principal
    raise unauthorized("credentials are required: an API token (Bearer) or a login")


CurrentUser = Annotated[Principal, Depends(authenticate)]

TrialId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                              description="the trial's id")]


def load_context(session: Session, trial_id: str) -> TrialContext | None:
    """The trial with its journeys and hand-over parties, or None if it is not stored."""
    scenario = get_scenario(session, trial_id)
    if scenario is None:
        return None
    journeys = {patient: record_repo.journey_of(row)
                for patient, row in record_repo.journey_rows(session, trial_id).items()}
    carriers: dict[str, set[str]] = {}
    for row in record_repo.custody_chain(session, trial_id):
        carriers.setdefault(row.patient, set()).update(
            {row.from_party.casefold(), row.to_party.casefold()})
    return TrialContext(scenario=scenario, journeys=journeys, carriers=carriers)




def trial_context(trial_id: TrialId, principal: CurrentUser, session: Db) -> TrialContext:
    """The trial in the path, if the principal may see it; 404 otherwise (whether it
    exists is not told)."""
    ctx = load_context(session, trial_id)
    if ctx is None or not sees_trial(principal, ctx.scenario):
        raise not_found(f"trial {trial_id}")
    return ctx


Trial = Annotated[TrialContext, Depends(trial_context)]

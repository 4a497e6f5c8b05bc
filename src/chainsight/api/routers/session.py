"""Who am I, and browser logins (a session cookie for the web UI)."""

from __future__ import annotations

from fastapi import Request, Response

from chainsight.api.auth import service as auth
from chainsight.api.auth.principal import Principal
from chainsight.api.dependencies import CurrentUser, Db, ServicesDep
from chainsight.api.problems import unauthorized
from chainsight.api.routers import api_router
from chainsight.api.schemas import LoginIn, UserOut

router = api_router("session")


def user_out(principal: Principal) -> UserOut:
    """A principal as the API shows it."""
    return UserOut(name=principal.name, role=principal.role, site=principal.site,
                   facility=principal.facility, courier=principal.courier,
                   organisation=principal.organisation)


@router.get("/me", response_model=UserOut)
def get_me(principal: CurrentUser) -> UserOut:
    """The authenticated user."""
    return user_out(principal)


@router.post("/session", response_model=UserOut)
def login(body: LoginIn, response: Response, session: Db, services: ServicesDep) -> UserOut:
    """Log in with name and password: sets an HttpOnly, SameSite=Strict session cookie."""
    principal = auth.principal_for_password(session, hasher=services.hasher, name=body.name,
                                            password=body.password)
    if principal is None:
        raise unauthorized("wrong user name or password")
    settings = services.settings
    token = auth.start_session(session, principal=principal, hours=settings.session_hours)
    response.set_cookie(settings.session_cookie_name, token, httponly=True, samesite="strict",
                        secure=settings.cookie_secure,
                        max_age=int(settings.session_hours * 3600), path="/")
    return user_out(principal)


@router.delete("/session", status_code=204, response_class=Response)
def logout(request: Request, session: Db, services: ServicesDep) -> Response:
    """End the browser session (its token is revoked, the cookie cleared)."""
    name = services.settings.session_cookie_name
    token = request.cookies.get(name)
    if token:
        auth.end_session(session, token)
    response = Response(status_code=204)
    response.delete_cookie(name, path="/")
    return response

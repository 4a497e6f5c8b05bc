"""Who is looking at the page: the browser session the API's auth module issues, a CSRF
token bound to it, and the errors a page can end in (login needed, not found)."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, Request

from chainsight.api.auth import service as auth
from chainsight.api.auth.principal import Principal
from chainsight.api.auth.secrets import same
from chainsight.api.dependencies import Db, ServicesDep


class LoginRequired(Exception):
    """The page needs a logged-in user; ``next_path`` is where to come back to."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageError(Exception):
    """A page that cannot be shown: an HTML error page with this status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def session_token(request: Request, services: ServicesDep) -> str | None:
    """The session cookie's token, if the browser sent one."""
    return request.cookies.get(services.settings.session_cookie_name) or None


def csrf_token(token: str) -> str:
    """The form token of a session: derived from the session token, which a page elsewhere
    cannot read (the cookie is HttpOnly and SameSite=Strict), so it cannot forge it."""
    return hashlib.sha256(f"chainsight-web-csrf:{token}".encode()).hexdigest()[:40]


def check_csrf(token: str | None, sent: object) -> None:
    """Raise PageError(403) unless ``sent`` is the session's form token."""
    if token is None or not isinstance(sent, str) or not same(csrf_token(token), sent):
        raise PageError(403, "This form has expired or did not come from this site: "
                             "reload the page and try again.")


def page_user(request: Request, session: Db, services: ServicesDep) -> Principal:
    """The logged-in user of a page; LoginRequired (a redirect to the login) otherwise."""
    token = session_token(request, services)
    principal = None
    if token is not None:
        principal = auth.principal_for_token(session, token, kinds=("session",),
                                             via="session")
    if principal is None:
        path = request.url.path
        if request.url.query:
            path += "?" + request.url.query
        raise LoginRequired(path)
    return principal


PageUser = Annotated[Principal, Depends(page_user)]

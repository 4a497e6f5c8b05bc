"""Mounting the control tower on the API's application: pages, login, static assets, and
the handlers that turn a missing login or a page error into HTML rather than JSON."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import plotly
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from chainsight.web.pages import render_error, router
from chainsight.web.session import LoginRequired, PageError

STATIC = Path(__file__).resolve().parent / "static"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def install(app: FastAPI) -> None:
    """Add the control tower to ``app`` (the API's application from ``create_app``)."""
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="web-static")

    @app.get("/ui/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        # Served from the installed plotly package: the same version the server's figures
        # are written for, and nothing fetched from outside the machine.
        return FileResponse(PLOTLY_JS, media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.exception_handler(LoginRequired)
    async def _login(_request: Request, error: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(error.next_path, safe='')}",
                                status_code=303)

    @app.exception_handler(PageError)
    async def _page_error(request: Request, error: PageError) -> Response:
        return render_error(request, error.status, error.message)

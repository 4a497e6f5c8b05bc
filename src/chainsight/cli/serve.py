"""`chainsight serve`: the HTTP service on the configured database."""

from __future__ import annotations

from typing import Annotated

import typer

from chainsight.cli.app import app
from chainsight.cli.common import console, fail, store_errors


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
    clock_start: Annotated[str | None, typer.Option(
        "--clock-start",
        help="Start the record's clock at this date or instant (UTC) and let it run: for a "
             "demonstration on a trial planned in the future. Default: the system clock "
             "(or $CHAINSIGHT_CLOCK_START).")] = None,
) -> None:
    """Serve the API (and OpenAPI at /openapi.json) until interrupted."""
    import uvicorn
    from pydantic import ValidationError

    from chainsight.api.app import create_app
    from chainsight.api.settings import Settings
    from chainsight.store.session import database_url, safe_url
    from chainsight.web import install as install_web

    try:
        settings = (Settings.from_env(None, clock_start=clock_start) if clock_start
                    else Settings.from_env())
    except ValidationError as error:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                            for e in error.errors())
        fail(f"settings (--clock-start or $CHAINSIGHT_*): {details}")
    with store_errors():
        application = create_app(settings)
    install_web(application)  # the control tower, on the same app and services
    if settings.clock_start is not None:
        console.print(f"record clock starts at {settings.clock_start.isoformat()}",
                      highlight=False)
    console.print(f"ChainSight on http://{host}:{port} "
                  f"(database {safe_url(settings.database_url or database_url())})",
                  highlight=False)
    uvicorn.run(application, host=host, port=port, log_level=log_level)

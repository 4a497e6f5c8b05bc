"""The control tower: server-rendered pages over the same services, scoping and record as the
API, with Plotly charts and live updates from the API's event stream.

``install(app)`` adds the pages, the login and the static assets to the API's application.
"""

from __future__ import annotations

from chainsight.web.app import install

__all__ = ["install"]

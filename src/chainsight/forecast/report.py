"""An HTML report of a forecast: enrolment fan chart, vector on hand, waiting for a slot.

Plotly with plotly.js embedded (no CDN), so the file opens offline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from chainsight.forecast.forecaster import Simulation


def _band(fig: go.Figure, row: int, x: list[str], values: np.ndarray, name: str,
          colour: str) -> None:
    lo, mid, hi = (np.quantile(values, q, axis=0, method="inverted_cdf") for q in (0.1, 0.5, 0.9))
    fig.add_trace(go.Scatter(x=x, y=hi, line={"width": 0}, showlegend=False,
                             hoverinfo="skip"), row=row, col=1)
    fig.add_trace(go.Scatter(x=x, y=lo, fill="tonexty", line={"width": 0},
                             fillcolor=colour, name=f"{name} P10-P90"), row=row, col=1)
    fig.add_trace(go.Scatter(x=x, y=mid, line={"color": colour.replace("0.25", "1")},
                             name=f"{name} P50"), row=row, col=1)


def write_report(sim: Simulation, path: str | Path) -> Path:
    """Write the forecast's HTML report to ``path`` and return it."""
    c = sim.compiled
    weeks = [c.date(7 * k).isoformat() for k in range(c.weeks)]
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.07,
                        subplot_titles=("Patients enrolled (cumulative, history included)",
                                        "Vector units on hand",
                                        "Patients waiting for a manufacturing slot"))
    cumulative = np.cumsum(sim.enrolled_weekly, axis=1) + (c.known_enrolled - c.enrolled_today)
    _band(fig, 1, weeks, cumulative, "enrolled", "rgba(31,119,180,0.25)")
    fig.add_hline(y=c.scenario.trial.target_enrollment, line_dash="dot", row=1, col=1,
                  annotation_text="target")
    _band(fig, 2, weeks, sim.on_hand_weekly, "vector", "rgba(44,160,44,0.25)")
    _band(fig, 3, weeks, sim.waiting_weekly, "waiting", "rgba(214,39,40,0.25)")
    fig.update_layout(
        title=f"Forecast {c.scenario.trial.id} as of {c.scenario.today} "
              f"({sim.runs} runs, seed {sim.seed})",
        height=900, template="plotly_white")
    out = Path(path)
    fig.write_html(out, include_plotlyjs=True, full_html=True)
    return out

"""Plotly figures as plain JSON (``{"data": [...], "layout": {...}}``), drawn in the browser
by the locally served plotly.js. Each builder takes data already scoped for the user."""

from __future__ import annotations

import datetime as dt
from typing import Any

from chainsight.domain import Scenario

Figure = dict[str, Any]
DAY_MS = 86_400_000

COLOURS = {
    "wait": "#c9ced6", "apheresis": "#7b5ea7", "to_cdmo": "#5b8fd9",
    "manufacturing": "#2f6f4f", "qc": "#d9a13b", "to_site": "#3a9bb0",
    "infusion": "#c2453d", "ours": "#2f6f4f", "reserved": "#9c6b3a", "not_ready": "#b7bcc4",
    "free": "#e3efe6", "demand": "#1c1c1c", "band": "rgba(47,111,79,0.18)",
    "band_inner": "rgba(47,111,79,0.32)", "actual": "#c2453d",
}
FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13,
        "color": "#1f2430"}


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        "font": FONT, "margin": {"l": 60, "r": 20, "t": 48, "b": 48},
        "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "y": -0.15},
        "hoverlabel": {"align": "left"},
    }
    layout.update(extra)
    return layout


def _day(value: str | dt.date | None) -> dt.date | None:
    if value is None:
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _today_line(today: dt.date, label: str = "today") -> tuple[dict[str, Any], dict[str, Any]]:
    shape = {"type": "line", "xref": "x", "yref": "paper", "x0": today.isoformat(),
             "x1": today.isoformat(), "y0": 0, "y1": 1,
             "line": {"color": "#1f2430", "width": 1, "dash": "dot"}}
    note = {"xref": "x", "yref": "paper", "x": today.isoformat(), "y": 1.02, "text": label,
            "showarrow": False, "font": {"size": 11}}
    return shape, note


# ---------------------------------------------------------------- overview


def stages_chart(stages: list[tuple[str, str, int]]) -> Figure:
    """Patients at each stage of the journey (horizontal bars)."""
    shown = [s for s in stages if s[2] > 0] or stages[:1]
    return {
        "data": [{"type": "bar", "orientation": "h", "y": [s[1] for s in shown],
                  "x": [s[2] for s in shown], "marker": {"color": COLOURS["manufacturing"]},
                  "text": [str(s[2]) for s in shown], "textposition": "outside",
                  "hovertemplate": "%{y}: %{x} patients<extra></extra>"}],
        "layout": _layout("Patients at each stage", height=320,
                          margin={"l": 140, "r": 30, "t": 48, "b": 30},
                          yaxis={"autorange": "reversed"},
                          xaxis={"title": {"text": "patients"}, "dtick": 1, "rangemode": "tozero"},
                          showlegend=False),
    }


# ---------------------------------------------------------------- patient journeys

PHASES = (
    ("wait", "Waiting for apheresis"), ("apheresis", "Apheresis"),
    ("to_cdmo", "Shipment to CDMO"), ("manufacturing", "Manufacturing"),
    ("qc", "QC release testing"), ("to_site", "Shipment to site"),
    ("infusion_wait", "Waiting for infusion"), ("infusion", "Infusion"),
)


def plan_segments(row: dict[str, Any]) -> list[tuple[str, dt.date, dt.date]]:
    """The planned phases of one patient: (phase, first day, day after the last)."""
    enrolled, aph = _day(row.get("enrolled")), _day(row.get("apheresis"))
    start, end = _day(row.get("manufacturing_start")), _day(row.get("manufacturing_end"))
    release, arrival = _day(row.get("release")), _day(row.get("dp_arrival"))
    infusion = _day(row.get("infusion"))
    one = dt.timedelta(days=1)
    found: list[tuple[str, dt.date, dt.date]] = []

    def add(phase: str, a: dt.date | None, b: dt.date | None) -> None:
        if a is not None and b is not None and b > a:
            found.append((phase, a, b))

    add("wait", enrolled, aph)
    if aph is not None:
        add("apheresis", aph, aph + one)
        add("to_cdmo", aph + one, start)
    add("manufacturing", start, end)
    add("qc", end, release)
    add("to_site", release, arrival)
    add("infusion_wait", arrival, infusion)
    if infusion is not None:
        add("infusion", infusion, infusion + one)
    return found


def actual_segments(actual: dict[str, dt.date | None], today: dt.date
                    ) -> list[tuple[str, dt.date, dt.date]]:
    """Phases that have happened (or are under way up to today) from recorded dates."""
    one = dt.timedelta(days=1)
    order = ["enrolled", "apheresis", "manufacturing_start", "manufacturing_end", "release",
             "dp_arrival", "infusion"]
    phase_after = {"enrolled": "wait", "apheresis": "to_cdmo",
                   "manufacturing_start": "manufacturing", "manufacturing_end": "qc",
                   "release": "to_site", "dp_arrival": "infusion_wait"}
    found: list[tuple[str, dt.date, dt.date]] = []
    for i, name in enumerate(order[:-1]):
        a = actual.get(name)
        if a is None or a > today:
            continue
        b = next((actual[n] for n in order[i + 1:] if actual.get(n) is not None), None)
        end = min(b, today) if b is not None and b <= today else today
        if name == "apheresis":
            found.append(("apheresis", a, a + one))
            a = a + one
        if end > a:
            found.append((phase_after[name], a, end))
    infusion = actual.get("infusion")
    if infusion is not None and infusion <= today:
        found.append(("infusion", infusion, infusion + one))
    return found


def gantt_chart(rows: list[dict[str, Any]], today: dt.date) -> Figure:
    """Patient journeys: each patient's plan, and under it what actually happened.

    ``rows``: ``{"label", "plan": [segments], "actual": [segments], "why": text}``.
    """
    labels: list[str] = []
    for row in rows:
        labels += [f"{row['label']} plan", f"{row['label']} actual"]
    data = []
    for phase, name in PHASES:
        colour = COLOURS["wait" if phase.endswith("wait") else phase]
        for kind, opacity in (("plan", 0.55), ("actual", 1.0)):
            y, base, x, text = [], [], [], []
            for row in rows:
                for seg_phase, a, b in row[kind]:
                    if seg_phase != phase:
                        continue
                    y.append(f"{row['label']} {kind}")
                    base.append(a.isoformat())
                    x.append((b - a).days * DAY_MS)
                    days = (b - a).days
                    why = row.get("why", "") if phase.endswith("wait") and kind == "plan" else ""
                    text.append(f"<b>{row['label']}</b> · {name} ({kind})<br>"
                                f"{a.isoformat()} → {(b - dt.timedelta(days=1)).isoformat()}"
                                f" · {days} d" + (f"<br>why: {why}" if why else ""))
            if not y:
                continue
            data.append({"type": "bar", "orientation": "h", "name": name, "y": y, "x": x,
                         "base": base, "legendgroup": phase, "showlegend": kind == "plan",
                         "marker": {"color": colour, "opacity": opacity,
                                    "line": {"width": 0}},
                         "hovertext": text, "hovertemplate": "%{hovertext}<extra></extra>"})
    shape, note = _today_line(today)
    return {"data": data, "layout": _layout(
        "Patient journeys: plan (light) and actual (solid)",
        barmode="overlay", height=max(320, 34 * len(labels) + 140),
        margin={"l": 120, "r": 20, "t": 48, "b": 60},
        xaxis={"type": "date", "title": {"text": ""}},
        yaxis={"categoryorder": "array", "categoryarray": labels, "autorange": "reversed",
               "type": "category", "automargin": True},
        shapes=[shape], annotations=[note])}


# ---------------------------------------------------------------- CDMO capacity


def capacity_chart(scenario: Scenario, facility_id: str, runs: list[tuple[dt.date, dt.date]],
                   ready: dt.date | None, utilisation: list[tuple[dt.date, float]] | None,
                   days: int = 120) -> Figure:
    """A facility's suites by day: our runs, other clients' reservations, not ready, free,
    and the forecast's mean demand (suites busy) where the user may see the forecast."""
    facility = scenario.facility(facility_id)
    today = scenario.trial.today
    x, ours, reserved, not_ready, free = [], [], [], [], []
    for k in range(days):
        day = today + dt.timedelta(days=k)
        held = min(facility.suites, facility.suites_reserved(day))
        busy = sum(1 for start, end in runs if start <= day < end)
        closed = facility.suites - held if ready is None or day < ready else 0
        busy = min(busy, facility.suites - held)
        x.append(day.isoformat())
        ours.append(busy)
        reserved.append(held)
        not_ready.append(max(0, closed - busy))
        free.append(max(0, facility.suites - held - busy - max(0, closed - busy)))
    data: list[dict[str, Any]] = []
    # Capacity that is not ours at the bottom, so that it stays put from day to day.
    for name, values, colour in (("Other clients' reservations", reserved,
                                  COLOURS["reserved"]),
                                 ("Not ready (tech transfer)", not_ready,
                                  COLOURS["not_ready"]),
                                 ("Our runs", ours, COLOURS["ours"]),
                                 ("Free", free, COLOURS["free"])):
        data.append({"type": "bar", "name": name, "x": x, "y": values,
                     "marker": {"color": colour, "line": {"width": 0}},
                     "hovertemplate": "%{x}: %{y} suite(s) " + name.lower() + "<extra></extra>"})
    if utilisation:
        dx, dy = [], []
        for week, share in utilisation:
            for d in range(7):
                day = week + dt.timedelta(days=d)
                if today <= day < today + dt.timedelta(days=days):
                    dx.append(day.isoformat())
                    dy.append(round(share * facility.suites, 2))
        data.append({"type": "scatter", "mode": "lines",
                     "name": "Forecast demand (mean suites busy)", "x": dx, "y": dy,
                     "line": {"color": COLOURS["demand"], "width": 2, "shape": "hv"},
                     "hovertemplate": "%{x}: %{y} suites busy (forecast)<extra></extra>"})
    return {"data": data, "layout": _layout(
        f"{facility.id} · {facility.name}: {facility.suites} suites by day",
        barmode="stack", bargap=0.05, height=340,
        yaxis={"title": {"text": "suites"}, "dtick": 1, "range": [0, facility.suites + 0.5]},
        xaxis={"type": "date"})}


# ---------------------------------------------------------------- vector


def vector_chart(scenario: Scenario, lots: list[str], use: dict[str, list[dt.date]],
                 forecast: dict[str, Any] | None) -> Figure:
    """Units on hand per lot over time (from the plan's runs), expiries and extension
    readouts, and the forecast's band of units on hand (P10-P90) where it may be seen."""
    today = scenario.trial.today
    end = today + dt.timedelta(days=scenario.trial.horizon_days)
    per_run = scenario.process.vector_units_per_batch
    data: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    palette = ["#2f6f4f", "#5b8fd9", "#7b5ea7", "#d9a13b", "#3a9bb0", "#c2453d"]
    for i, lot_id in enumerate(lots):
        lot = scenario.lot(lot_id)
        colour = palette[i % len(palette)]
        expiry = lot.effective_expiry
        units = lot.units
        xs = [max(today, lot.released).isoformat()]
        ys = [units if lot.released <= today else 0]
        if lot.released > today:
            xs.append(lot.released.isoformat())
            ys.append(units)
        for day in sorted(use.get(lot_id, [])):
            if day < today:
                continue
            units -= per_run
            xs.append(day.isoformat())
            ys.append(units)
        if expiry < end:
            xs.append(expiry.isoformat())
            ys.append(units)
            xs.append((expiry + dt.timedelta(days=1)).isoformat())
            ys.append(0)
        xs.append(end.isoformat())
        ys.append(ys[-1])
        data.append({"type": "scatter", "mode": "lines", "name": f"{lot_id} on hand (plan)",
                     "x": xs, "y": ys, "line": {"shape": "hv", "color": colour, "width": 2},
                     "hovertemplate": f"{lot_id}" + " %{x}: %{y} units<extra></extra>"})
        marks = [(expiry, f"{lot_id} expires", "dash")]
        if lot.extension is not None and lot.extension.status == "pending":
            marks.append((lot.extension.readout, f"{lot_id} extension readout", "dot"))
            marks.append((lot.extension.expires, f"{lot_id} expiry if extended", "longdash"))
        for k, (day, text, dash) in enumerate(marks):
            if not today <= day <= end:
                continue
            shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": day.isoformat(),
                           "x1": day.isoformat(), "y0": 0, "y1": 1,
                           "line": {"color": colour, "width": 1.5, "dash": dash}})
            notes.append({"xref": "x", "yref": "paper", "x": day.isoformat(),
                          "y": 1 - 0.07 * (k + 2 * i) % 0.9, "text": text, "showarrow": False,
                          "xanchor": "left", "font": {"size": 11, "color": colour},
                          "bgcolor": "rgba(255,255,255,0.8)"})
    if forecast is not None:
        weeks = [w["week_start"] for w in forecast.get("weekly", [])]
        on_hand = [w["vector_units_on_hand"] for w in forecast.get("weekly", [])]
        data.append({"type": "scatter", "mode": "lines", "name": "Forecast P10",
                     "x": weeks, "y": [v["p10"] for v in on_hand],
                     "line": {"width": 0, "shape": "hv"}, "showlegend": False,
                     "hovertemplate": "%{x}: P10 %{y} units<extra></extra>"})
        data.append({"type": "scatter", "mode": "lines", "name": "Forecast P10-P90 (all lots)",
                     "x": weeks, "y": [v["p90"] for v in on_hand], "fill": "tonexty",
                     "fillcolor": COLOURS["band"], "line": {"width": 0, "shape": "hv"},
                     "hovertemplate": "%{x}: P90 %{y} units<extra></extra>"})
        data.append({"type": "scatter", "mode": "lines", "name": "Forecast P50 (all lots)",
                     "x": weeks, "y": [v["p50"] for v in on_hand],
                     "line": {"color": "#1f2430", "width": 1.5, "dash": "dash", "shape": "hv"},
                     "hovertemplate": "%{x}: P50 %{y} units<extra></extra>"})
    shape, note = _today_line(today)
    return {"data": data, "layout": _layout(
        "Vector units on hand", height=400, shapes=[shape, *shapes],
        annotations=[note, *notes], yaxis={"title": {"text": "units"}, "rangemode": "tozero"},
        xaxis={"type": "date"})}


# ---------------------------------------------------------------- enrolment


def enrolment_chart(scenario: Scenario, fan: dict[str, Any]) -> Figure:
    """Cumulative enrolment: observed so far, and the forecast's fan (P10-P90, P25-P75,
    median) with the target."""
    today = scenario.trial.today
    enrolled = sorted(p.enrolled for p in scenario.patients if p.enrolled < today)
    xs, ys = [], []
    for n, day in enumerate(enrolled, start=1):
        xs.append(day.isoformat())
        ys.append(n)
    xs.append(today.isoformat())
    ys.append(len(enrolled))
    weeks = [today.isoformat(), *fan["weeks"]]
    start = float(len(enrolled))

    def band(q: str) -> list[float]:
        return [start, *fan[q]]

    data = [
        {"type": "scatter", "mode": "lines", "x": weeks, "y": band("p10"), "name": "P10",
         "line": {"width": 0}, "showlegend": False,
         "hovertemplate": "%{x}: P10 %{y:.0f}<extra></extra>"},
        {"type": "scatter", "mode": "lines", "x": weeks, "y": band("p90"), "name": "P10-P90",
         "fill": "tonexty", "fillcolor": COLOURS["band"], "line": {"width": 0},
         "hovertemplate": "%{x}: P90 %{y:.0f}<extra></extra>"},
        {"type": "scatter", "mode": "lines", "x": weeks, "y": band("p25"), "name": "P25",
         "line": {"width": 0}, "showlegend": False,
         "hovertemplate": "%{x}: P25 %{y:.0f}<extra></extra>"},
        {"type": "scatter", "mode": "lines", "x": weeks, "y": band("p75"), "name": "P25-P75",
         "fill": "tonexty", "fillcolor": COLOURS["band_inner"], "line": {"width": 0},
         "hovertemplate": "%{x}: P75 %{y:.0f}<extra></extra>"},
        {"type": "scatter", "mode": "lines", "x": weeks, "y": band("p50"),
         "name": "Forecast median", "line": {"color": COLOURS["ours"], "width": 2},
         "hovertemplate": "%{x}: median %{y:.0f}<extra></extra>"},
        {"type": "scatter", "mode": "lines+markers", "x": xs, "y": ys, "name": "Actual",
         "line": {"color": COLOURS["actual"], "width": 2.5, "shape": "hv"},
         "marker": {"size": 5},
         "hovertemplate": "%{x}: %{y} enrolled<extra></extra>"},
    ]
    shape, note = _today_line(today)
    target = scenario.trial.target_enrollment
    target_line = {"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1,
                   "y0": target, "y1": target,
                   "line": {"color": "#7b5ea7", "width": 1.5, "dash": "dash"}}
    target_note = {"xref": "paper", "yref": "y", "x": 0.01, "y": target,
                   "text": f"target {target}", "showarrow": False, "yshift": 9,
                   "xanchor": "left", "font": {"size": 11, "color": "#7b5ea7"}}
    return {"data": data, "layout": _layout(
        "Cumulative enrolment: actual and forecast", height=420,
        shapes=[shape, target_line], annotations=[note, target_note],
        yaxis={"title": {"text": "patients enrolled"}, "rangemode": "tozero"},
        xaxis={"type": "date"})}

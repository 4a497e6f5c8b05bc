"""The forecast command: Monte Carlo forecast, what-if comparison, slot advice."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chainsight.cli.app import app
from chainsight.cli.common import console, err_console, fail, print_json, resolve_scenario
from chainsight.domain import Scenario, ScenarioInvalid

if TYPE_CHECKING:
    from chainsight.forecast import Simulation
    from chainsight.forecast.whatif import WhatIf

# The forecaster (NumPy, SciPy) is imported by the command itself, so that the other
# commands start quickly.

# Below this many runs the forecast takes well under a second: no progress bar.
_PROGRESS_FROM_RUNS = 5000


@app.command("forecast")
def forecast_command(
    source: Annotated[str, typer.Argument(
        metavar="SCENARIO_OR_TRIAL_ID", help="Scenario file (YAML/JSON) or stored trial id.")],
    runs: Annotated[int, typer.Option("--runs", "-n", help="Monte Carlo runs.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Random seed (recorded).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the forecast JSON.")] = False,
    what_if: Annotated[Path | None, typer.Option(
        "--what-if", help="YAML/JSON file of changes to compare with the base case.")] = None,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Also write an HTML report (Plotly, works offline).")] = None,
    advise: Annotated[bool, typer.Option(
        "--advise-slots", help="Advise slots per month to reserve at each CDMO.")] = False,
    within_days: Annotated[int, typer.Option(
        "--within-days", help="Slot advice: start manufacturing within N days.")] = 14,
    share: Annotated[float, typer.Option(
        "--share", help="Slot advice: share of patients that must start in time.")] = 0.9,
) -> None:
    """Forecast enrolment, manufacturing, vector and losses as P10 / P50 / P90."""
    from chainsight.forecast import summarise
    from chainsight.forecast.report import write_report
    from chainsight.forecast.slots import advise_slots
    from chainsight.forecast.whatif import apply_what_if, comparison, load_what_if

    if runs <= 0:
        fail(f"--runs: must be a positive number of runs, not {runs}")
    if seed < 0:
        fail(f"--seed: must be >= 0, not {seed}")
    if within_days < 0:
        fail(f"--within-days: must be >= 0, not {within_days}")
    if not 0.0 < share <= 1.0:
        fail(f"--share: must be in (0, 1], not {share}")
    scenario = resolve_scenario(source)
    changes: WhatIf | None = None
    changed: Scenario | None = None
    if what_if is not None:
        try:
            changes = load_what_if(what_if)
            changed = apply_what_if(scenario, changes)
        except ScenarioInvalid as error:
            details = "; ".join(str(p) for p in error.problems)
            fail(f"--what-if {what_if}: {details}")

    if advise:
        advice = advise_slots(changed or scenario, within_days, share,
                              runs=min(runs, 1000), seed=seed)
        if as_json:
            print_json(advice)
        else:
            _show_advice(advice)
        return

    base = _simulate(scenario, runs, seed, "base case" if changed else "forecast")
    if changed is not None and changes is not None:
        other = _simulate(changed, runs, seed, changes.label)
        result = comparison(changes, base, other)
        if html is not None:
            write_report(other, html)
        if as_json:
            print_json({"base": result["base"], "what_if": result["what_if"],
                        "difference": result["difference"], "label": result["label"]})
        else:
            _show_comparison(result)
        return
    out = summarise(base)
    if html is not None:
        write_report(base, html)
    if as_json:
        print_json(out)
    else:
        _show_forecast(out)
        if html is not None:
            console.print(f"[green]✓[/] report written to {html}", highlight=False)


def _simulate(scenario: Scenario, runs: int, seed: int, label: str) -> Simulation:
    from chainsight.forecast import ForecastConfig, simulate

    config = ForecastConfig()
    if runs < _PROGRESS_FROM_RUNS:
        return simulate(scenario, runs, seed, config)
    # Chunks are independent and seeded apart: several processes give the same result.
    workers = os.cpu_count() or 1
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} runs"), TimeElapsedColumn(),
                  console=err_console, transient=True,
                  disable=not err_console.is_terminal) as bar:
        task = bar.add_task(label, total=runs)
        return simulate(scenario, runs, seed, config, workers=workers,
                        progress=lambda done, _total: bar.update(task, completed=done))


def _q(values: dict[str, Any] | None, key: str) -> str:
    if not values:
        return "-"
    value = values.get(key)
    return "never in horizon" if value is None else str(value)


def _show_forecast(out: dict[str, Any]) -> None:
    console.print(
        f"[bold]Forecast {out['trial']}[/] as of {out['today']} to {out['horizon_end']} "
        f"({out['runs']} runs, seed {out['seed']})", highlight=False)
    table = Table("", "P10", "P50", "P90", title="Outcomes")
    table.add_row("enrolment complete", *(_q(out["enrollment_complete"], k)
                                          for k in ("p10", "p50", "p90")))
    table.add_row("last infusion", *(_q(out["last_infusion"], k) for k in ("p10", "p50", "p90")))
    table.add_row("patients infused", *(_q(out["patients_infused"], k)
                                        for k in ("p10", "p50", "p90")))
    table.add_row("patients lost waiting", "", _q(out["patients_lost_waiting"], "p50"),
                  _q(out["patients_lost_waiting"], "p90"))
    table.add_row("time to treatment (days)", "", _q(out["time_to_treatment_days"], "p50"),
                  _q(out["time_to_treatment_days"], "p90"))
    table.add_row("vector units expired", "", _q(out["vector_units_expired"], "p50"),
                  _q(out["vector_units_expired"], "p90"))
    console.print(table)
    stock = out["vector_stockout_probability"]
    console.print(
        f"Vector stock-out by horizon end: [bold]{stock['by_horizon_end']:.0%}[/] of runs"
        + (f", first in the week of {stock['first_week_p10']} in 1 run of 10"
           if stock["first_week_p10"] else ""), highlight=False)
    model = out["enrollment_model"]
    console.print(
        f"Enrolment model: sites run at {model['mean_factor_vs_plan']:.2f}x plan "
        f"(±{model['mean_factor_sd']:.2f}), site spread alpha {model['alpha']:.2f}, "
        f"data weight {model['data_weight']:.0%} "
        f"({model['patients_observed']} patients at {model['sites_observed']} sites)",
        highlight=False)
    weekly = Table("week", "enrolled P50", "infused P50", "waiting P50/P90",
                   "vector on hand P10-P90", "suite use", title="Every fourth week")
    for week in out["weekly"][::4]:
        weekly.add_row(
            week["week_start"], str(week["enrolled"]["p50"]), str(week["infused"]["p50"]),
            f"{week['waiting_for_slot']['p50']}/{week['waiting_for_slot']['p90']}",
            f"{week['vector_units_on_hand']['p10']}-{week['vector_units_on_hand']['p90']}",
            " ".join(f"{k} {v:.0%}" for k, v in week["suite_utilisation"].items()))
    console.print(weekly)


def _show_comparison(result: dict[str, Any]) -> None:
    base, other, diff = result["base"], result["what_if"], result["difference"]
    table = Table("", "base", result["label"], "difference",
                  title=f"What-if: {result['label']} ({base['runs']} runs, seed {base['seed']})")
    for key, label in (("enrollment_complete", "enrolment complete"),
                       ("last_infusion", "last infusion")):
        for q in ("p10", "p50", "p90"):
            d = diff[f"{key}_days"][q]
            table.add_row(f"{label} {q.upper()}", _q(base[key], q), _q(other[key], q),
                          "-" if d is None else f"{d:+d} days")
    for key, label in (("patients_infused", "patients infused"),
                       ("patients_lost_waiting", "patients lost waiting"),
                       ("time_to_treatment_days", "time to treatment (days)"),
                       ("vector_units_expired", "vector units expired")):
        for q in base[key]:
            d = diff[key][q]
            table.add_row(f"{label} {q.upper()}", _q(base[key], q), _q(other[key], q),
                          "-" if d is None else f"{d:+d}")
    table.add_row("vector stock-out probability",
                  f"{base['vector_stockout_probability']['by_horizon_end']:.0%}",
                  f"{other['vector_stockout_probability']['by_horizon_end']:.0%}",
                  f"{diff['vector_stockout_probability']:+.0%}")
    console.print(table)
    paired = diff["paired_mean"]
    console.print("Mean change per run (same random draws): " + ", ".join(
        f"{k.replace('_', ' ')} {v:+.2f}" for k, v in paired.items()), highlight=False)


def _show_advice(advice: dict[str, Any]) -> None:
    table = Table("facility", "slots per month",
                  title=f"Slots to reserve: {advice['share']:.0%} of patients start within "
                        f"{advice['within_days']} days of apheresis")
    for fid, slots in advice["slots_per_month"].items():
        table.add_row(fid, "no cap needed" if slots is None else str(slots))
    console.print(table)
    if not advice["feasible"]:
        console.print(f"[yellow]Not reachable even without caps:[/] "
                      f"{advice['share_without_caps']:.0%} start in time.", highlight=False)
    else:
        console.print(f"Achieved: {advice['achieved_share']:.0%} "
                      f"({advice['runs']} runs, seed {advice['seed']})", highlight=False)

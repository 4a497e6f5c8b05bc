"""The radar command: what will go wrong if nobody acts, who must act and by when."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from chainsight.cli.app import app
from chainsight.cli.common import console, err_console, fail, print_json, resolve_scenario
from chainsight.domain import ScenarioInvalid

if TYPE_CHECKING:
    from chainsight.risks import Alert

# The radar runs the planner and the forecaster: imported by the command itself, so that
# the other commands start quickly.

_STYLE = {"critical": "bold white on red", "high": "bold red", "warning": "yellow",
          "info": "dim"}


@app.command("risks")
def risks_command(
    source: Annotated[str, typer.Argument(
        metavar="SCENARIO_OR_TRIAL_ID", help="Scenario file (YAML/JSON) or stored trial id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print {\"alerts\": [...]}.")] = False,
    runs: Annotated[int, typer.Option("--runs", "-n", help="Forecast runs.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Forecast seed.")] = 0,
    time_limit: Annotated[float, typer.Option(
        "--time-limit", help="Seconds the planner may search.")] = 10.0,
    try_alert: Annotated[list[str] | None, typer.Option(
        "--try", help="Apply this alert's recommended action as a what-if and show its "
                      "effect (an alert id, or 'all').")] = None,
) -> None:
    """Scan the plan and the forecast for bottlenecks, ranked by severity."""
    from chainsight.risks import radar_json, scan, try_action
    from chainsight.risks.engine import assess

    if runs <= 0:
        fail(f"--runs: must be a positive number of runs, not {runs}")
    if seed < 0:
        fail(f"--seed: must be >= 0, not {seed}")
    if time_limit <= 0:
        fail(f"--time-limit: must be positive, not {time_limit}")
    scenario = resolve_scenario(source)
    with err_console.status("planning and forecasting...") as status:
        inputs = assess(scenario, runs=runs, seed=seed, time_limit=time_limit,
                        step=lambda text: status.update(f"{text}..."))
    alerts = scan(inputs)
    effects = []
    if try_alert:
        wanted = {a.id for a in alerts if a.what_if} if "all" in try_alert else set(try_alert)
        known = {a.id: a for a in alerts}
        for alert_id in sorted(wanted):
            alert = known.get(alert_id)
            if alert is None:
                fail(f"--try: no alert {alert_id!r} in this radar")
            if not alert.what_if:
                fail(f"--try: alert {alert_id!r} ({alert.kind}) has no action to try")
            try:
                effects.append(try_action(inputs, alert).as_json())
            except ScenarioInvalid as error:
                fail(f"--try {alert_id}: " + "; ".join(str(p) for p in error.problems))
    if as_json:
        data = radar_json(alerts)
        if try_alert:
            data["effects"] = effects
        print_json(data)
        return
    _print_alerts(alerts, scenario.trial.id)
    for effect in effects:
        console.print(
            f"[bold]{effect['alert']}[/]: {effect['measure']} {effect['before']:g} -> "
            f"{effect['after']:g} ({'better' if effect['improves'] else 'not better'})",
            highlight=False)


def _print_alerts(alerts: list[Alert], trial: str) -> None:
    if not alerts:
        console.print(f"[green]No alerts for {trial}.[/]")
        return
    table = Table(title=f"Bottleneck radar: {trial}", show_lines=True, expand=True)
    for column in ("severity", "kind", "what", "owner", "due", "action"):
        table.add_column(column, overflow="fold")
    for alert in alerts:
        table.add_row(f"[{_STYLE[alert.severity]}]{alert.severity}[/]", alert.kind,
                      f"{alert.title}\n[dim]{alert.id}[/]", alert.owner,
                      alert.due.isoformat() if alert.due else "", alert.action)
    console.print(table)

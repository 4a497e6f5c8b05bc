"""Planning commands: plan (and replan)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from chainsight.cli.app import app
from chainsight.cli.common import console, err_console, fail, print_json, resolve_scenario
from chainsight.domain import ScenarioInvalid, read_data

if TYPE_CHECKING:
    from chainsight.planning import Plan

# The planner (OR-Tools, SciPy) is imported by the commands that use it, so that the
# other commands start quickly.


def _check_options(policy: str, time_limit: float, workers: int) -> None:
    from chainsight.planning import POLICIES

    if policy not in POLICIES:
        fail(f"--policy: must be one of {', '.join(POLICIES)}, not {policy!r}")
    if time_limit <= 0:
        fail(f"--time-limit: must be a positive number of seconds, not {time_limit}")
    if workers < 1:
        fail(f"--workers: must be at least 1, not {workers}")


@app.command("plan")
def plan_command(
    scenario: Annotated[str, typer.Argument(help="Scenario file (YAML/JSON) or stored trial id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan JSON.")] = False,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Solver seconds.")] = 10.0,
    policy: Annotated[str, typer.Option("--policy", help="optimal | fcfs")] = "optimal",
    workers: Annotated[int, typer.Option("--workers", help="Solver threads.")] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Solver random seed.")] = 0,
) -> None:
    """Plan every patient's apheresis, slot, vector lot, release and infusion."""
    from chainsight.planning import plan

    _check_options(policy, time_limit, workers)
    loaded = resolve_scenario(scenario)
    with err_console.status(f"planning {loaded.trial.id} ({policy}, up to {time_limit:g} s)…"):
        result = plan(loaded, policy=policy,  # type: ignore[arg-type]
                      time_limit=time_limit, workers=workers, seed=seed)
    if as_json:
        print_json(result.to_json())
    else:
        print_plan(result)


def _d(value: object) -> str:
    return "—" if value is None else str(value)


def print_plan(result: Plan) -> None:
    """A readable plan: patients, batches, unplanned, KPIs, solver line."""
    table = Table(title=f"Plan of {result.trial} on {result.today}", show_lines=False)
    for column in ("patient", "site", "enrolled", "apheresis", "facility", "start", "lot",
                   "release", "arrival", "infusion", "batch", "deviations"):
        table.add_column(column, no_wrap=True)
    table.add_column("reason", overflow="fold", min_width=30)
    for p in result.patients:
        devs = ", ".join(f"{d.window.split('_')[0]} +{d.days}d" for d in p.deviations)
        table.add_row(p.patient, p.site, _d(p.enrolled), _d(p.apheresis), _d(p.facility),
                      _d(p.manufacturing_start), _d(p.vector_lot), _d(p.release),
                      _d(p.dp_arrival), _d(p.infusion), _d(p.batch), devs or "—", p.reason)
    # Dates must not wrap: a plan is wider than a terminal's default 80 columns.
    Console(width=max(console.width, 200), highlight=False).print(table)
    if result.batches:
        batches = Table(title="Batches")
        for column in ("batch", "facility", "start", "end", "release", "expires", "lot",
                       "doses used"):
            batches.add_column(column)
        for b in result.batches:
            batches.add_row(b.batch, b.facility, str(b.manufacturing_start),
                            str(b.manufacturing_end), str(b.release), str(b.expires),
                            _d(b.vector_lot), f"{b.doses_used}/{b.doses}")
        console.print(batches)
    if result.unplanned:
        console.print(f"[bold yellow]Unplanned ({len(result.unplanned)})[/]")
        for u in result.unplanned:
            console.print(f"  {u.patient}: {u.reason}", highlight=False)
    k = result.kpis
    console.print(
        f"[bold]KPIs[/] planned {k.patients_planned}, unplanned {k.patients_unplanned}; "
        f"time to treatment mean {_d(k.time_to_treatment_days['mean'])} d, "
        f"p90 {_d(k.time_to_treatment_days['p90'])} d; vein to vein median "
        f"{_d(k.vein_to_vein_days['median'])} d; deviation days {k.deviation_days}; "
        f"vector units expiring {k.vector_units_expiring}", highlight=False)
    s = result.solver
    fallback = f" (kept the {s.fallback} plan)" if s.fallback else ""
    source = f" ({s.bound_source})" if s.bound_source else ""
    console.print(f"[bold]Solver[/] {s.name} {s.status}{fallback} in {s.seconds:.2f} s, "
                  f"objective {_d(s.objective)}, bound {_d(s.bound)}{source}",
                  highlight=False)


def _read_event(source: str) -> dict[str, object]:
    """An event from inline JSON or a JSON/YAML file."""
    text = source.strip()
    if not text.startswith("{"):
        path = Path(source)
        if not path.exists():
            fail(f"--event: {source!r} is neither inline JSON nor an existing file")
        text = path.read_text(encoding="utf-8")
    try:
        data = read_data(text, "--event")
    except ScenarioInvalid as error:
        fail(f"--event: {error.problems[0].message}")
    if not isinstance(data, dict):
        fail("--event: must be a mapping with a 'kind'")
    return data


@app.command("replan")
def replan_command(
    trial: Annotated[str, typer.Argument(help="Stored trial id or scenario file.")],
    event: Annotated[str, typer.Option("--event", help="Event: inline JSON or a JSON/YAML file.")],
    previous: Annotated[
        Path | None, typer.Option("--previous", help="Previous plan JSON (default: plan now).")
    ] = None,
    freeze_days: Annotated[int, typer.Option("--freeze-days", help="Freeze window, days.")] = 14,
    as_json: Annotated[bool, typer.Option("--json", help="Print the re-plan JSON.")] = False,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Solver seconds.")] = 1.0,
    workers: Annotated[int, typer.Option("--workers", help="Solver threads.")] = 2,
) -> None:
    """Repair the plan after an event, keeping the freeze window; list what changed."""
    from chainsight.planning import Plan, plan
    from chainsight.planning.replan import EventInvalid, parse_event, replan_detail

    _check_options("optimal", time_limit, workers)
    if freeze_days < 0:
        fail(f"--freeze-days: must be 0 or more, not {freeze_days}")
    data = _read_event(event)
    try:
        parsed = parse_event(data)
    except EventInvalid as error:
        fail(f"--event: {error}")
    scenario = resolve_scenario(trial)
    if previous is not None:
        try:
            before = Plan.model_validate_json(previous.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            fail(f"--previous: cannot read a plan from {previous} ({error.__class__.__name__})")
    else:
        with err_console.status("planning before the event…"):
            before = plan(scenario, time_limit=max(time_limit, 5.0), workers=workers)
    try:
        with err_console.status(f"re-planning after {parsed.kind}…"):
            _, result = replan_detail(scenario, before, parsed, freeze_days=freeze_days,
                                      time_limit=time_limit, workers=workers)
    except EventInvalid as error:
        fail(f"--event: {error}")
    if as_json:
        print_json(result.to_json())
        return
    print_plan(result.plan)
    console.print(f"[bold]Event[/] {parsed.kind}: kept {len(result.frozen)} bookings in the "
                  f"{freeze_days}-day freeze window; broken: {', '.join(result.broken) or 'none'}",
                  highlight=False)
    if not result.changes:
        console.print("No changes.")
    for c in result.changes:
        console.print(f"  {c.patient} {c.field}: {_d(c.before)} → {_d(c.after)}", highlight=False)

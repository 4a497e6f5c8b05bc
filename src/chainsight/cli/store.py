"""Store commands: import, export, trials, summary."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table

from chainsight.cli.app import app
from chainsight.cli.common import (
    EXIT_CONFLICT,
    EXIT_NOT_FOUND,
    console,
    fail,
    print_json,
    report_invalid,
    resolve_scenario,
    store_errors,
)
from chainsight.domain import (
    Facility,
    Patient,
    Scenario,
    ScenarioInvalid,
    dump_scenario,
    load_scenario,
    schedule_transfer,
)
from chainsight.record.audit import default_actor, set_context
from chainsight.record.service import load_ledger
from chainsight.store.errors import TrialExists
from chainsight.store.repository import get_scenario, list_trials, save_scenario, trial_exists
from chainsight.store.session import database_url, safe_url, unit_of_work

EXPORT_FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="Scenario file (YAML or JSON).")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite the stored trial with the same id.")
    ] = False,
    keep_existing: Annotated[
        bool,
        typer.Option("--keep-existing",
                     help="If the trial is already stored, keep it and succeed without change."),
    ] = False,
) -> None:
    """Check a scenario and store it; an invalid one stores nothing (exit 2)."""
    if replace and keep_existing:
        fail("--replace and --keep-existing contradict each other: give one of them")
    try:
        scenario = load_scenario(file)
    except ScenarioInvalid as error:
        report_invalid(error, str(file))
    trial_id = scenario.trial.id
    with store_errors(), unit_of_work() as session:
        if keep_existing and trial_exists(session, trial_id):
            console.print(
                f"trial {trial_id} is already stored; kept as it is (--keep-existing)",
                highlight=False,
            )
            return
        actor = default_actor()
        set_context(session, actor=actor,
                    reason=f"{'replace' if replace else 'import'} of {file.name}")
        try:
            save_scenario(session, scenario, replace=replace)
            # Open the trial's record with it, as the API does: every patient gets a
            # chain-of-identity id from the start (CDMOs and couriers know no other).
            load_ledger(session, scenario, user=actor, now=dt.datetime.now(dt.UTC))
        except TrialExists:
            fail(
                f"FILE: trial {trial_id!r} is already stored; use --replace to overwrite it "
                "or --keep-existing to keep it",
                EXIT_CONFLICT,
            )
        except ScenarioInvalid as error:
            report_invalid(error, str(file))
    console.print(
        f"[green]✓[/] {'replaced' if replace else 'imported'} trial {trial_id} from {file} "
        f"({len(scenario.sites)} sites, {len(scenario.facilities)} facilities, "
        f"{len(scenario.vector.lots)} lots, {len(scenario.patients)} patients) "
        f"into {safe_url(database_url())}",
        highlight=False,
    )


@app.command()
def export(
    trial_id: Annotated[str, typer.Argument(help="Id of a stored trial.")],
    output: Annotated[
        Path,
        typer.Option("--output", "-o",
                     help="File to write; the format follows the extension (.yaml, .yml, .json)."),
    ],
) -> None:
    """Write a stored trial back as a scenario file, with the values it was imported with."""
    fmt = EXPORT_FORMATS.get(output.suffix.lower())
    if fmt is None:
        fail(
            f"--output: cannot tell the format of {output.name!r} from its extension; "
            f"use {', '.join(EXPORT_FORMATS)}"
        )
    with store_errors(), unit_of_work() as session:
        scenario = get_scenario(session, trial_id)
        if scenario is None:
            stored = [t.id for t in list_trials(session)]
            known = f"stored trials: {', '.join(stored)}" if stored else "the store is empty"
            fail(f"TRIAL_ID: no stored trial {trial_id!r} ({known})", EXIT_NOT_FOUND)
    try:
        output.write_text(dump_scenario(scenario, fmt), encoding="utf-8")
    except OSError as error:
        fail(f"--output: cannot write {output}: {error.strerror or error}")
    console.print(f"[green]✓[/] wrote trial {trial_id} to {output}", highlight=False)


@app.command()
def trials(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the stored trials."""
    with store_errors(), unit_of_work() as session:
        listing = list_trials(session)
    if as_json:
        print_json([
            {"id": t.id, "name": t.name, "modality": t.modality, "today": t.today.isoformat(),
             "patients": t.patients, "sites": t.sites}
            for t in listing
        ])
        return
    if not listing:
        console.print("No trials stored yet; store one with: chainsight import FILE")
        return
    table = Table(title=f"Trials in {safe_url(database_url())}", title_justify="left")
    for column in ("id", "name", "modality", "today"):
        table.add_column(column)
    table.add_column("patients", justify="right")
    table.add_column("sites", justify="right")
    for t in listing:
        table.add_row(t.id, t.name, t.modality, t.today.isoformat(), str(t.patients),
                      str(t.sites))
    console.print(table)


@app.command()
def summary(
    trial_id: Annotated[
        str, typer.Argument(help="Id of a stored trial (or a scenario file).")
    ],
) -> None:
    """Show a trial at a glance: sites, manufacturers, vector and where the patients are."""
    with store_errors():
        scenario = resolve_scenario(trial_id)
    _print_summary(scenario)


# ---------------------------------------------------------------- the summary


STAGES = (
    "expected",
    "awaiting apheresis",
    "awaiting manufacturing",
    "in manufacturing",
    "released",
    "infused",
    "failed",
    "withdrawn",
)
_STAGE_NOTES = {
    "expected": "enrolment after today",
    "awaiting apheresis": "enrolled, no apheresis yet",
    "awaiting manufacturing": "apheresis done, run not started",
    "in manufacturing": "run started, not released yet (includes QC)",
    "released": "drug product released, not infused",
    "infused": "",
    "failed": "run failed or out of specification: needs a new apheresis",
    "withdrawn": "",
}


def patient_stage(patient: Patient, today: dt.date, modality: str) -> str:
    """Where a patient stands on ``today``, in the words of the summary."""
    if patient.outcome is not None:
        return patient.outcome
    if patient.enrolled > today:
        return "expected"
    if patient.manufacturing_start is not None:
        return "in manufacturing"
    if patient.apheresis is not None:
        return "awaiting manufacturing"
    return "awaiting apheresis" if modality == "autologous" else "awaiting manufacturing"


def _day(day: dt.date | None) -> str:
    return day.isoformat() if day is not None else "—"


def _print_summary(scenario: Scenario) -> None:
    trial, today = scenario.trial, scenario.today
    enrolled = sum(1 for p in scenario.patients if p.enrolled <= today)
    console.print(Panel(
        f"[bold]{trial.name}[/]\n"
        f"{trial.modality} · planning day {today.isoformat()} ({today:%a}) · horizon "
        f"{trial.horizon_days} days to {trial.horizon_end.isoformat()}\n"
        f"enrolled {enrolled} of {trial.target_enrollment} · "
        f"{len(scenario.sites)} sites · {len(scenario.dp_facilities)} drug product facilities · "
        f"{len(scenario.vector.lots)} vector lots",
        title=f"trial {trial.id}", title_align="left", highlight=False,
    ))
    _print_sites(scenario)
    _print_facilities(scenario)
    _print_vector(scenario)
    _print_patients(scenario)


def _print_sites(scenario: Scenario) -> None:
    today = scenario.today
    per_site = Counter(p.site for p in scenario.patients if p.enrolled <= today)
    table = Table(title="Sites", title_justify="left")
    for column in ("site", "name", "country", "planned", "actual", "status"):
        table.add_column(column)
    table.add_column("enrolled", justify="right")
    for site in scenario.sites:
        activation = site.activation
        if activation.actual is not None:
            status = "[green]active[/]"
        elif activation.planned < today:
            status = f"[red]late[/] ({(today - activation.planned).days} days)"
        else:
            status = f"due in {(activation.planned - today).days} days"
        table.add_row(site.id, site.name, site.country, _day(activation.planned),
                      _day(activation.actual), status, str(per_site[site.id]))
    console.print(table)


def _print_facilities(scenario: Scenario) -> None:
    table = Table(title="Drug product facilities", title_justify="left")
    for column in ("facility", "name", "suites", "starts", "ready", "reservations"):
        table.add_column(column)
    transfers = []
    for facility in scenario.dp_facilities:
        table.add_row(facility.id, facility.name, str(facility.suites),
                      " ".join(facility.start_weekdays), _ready(scenario, facility),
                      _reservations(facility))
        if facility.tech_transfer is not None:
            transfers.append(facility.tech_transfer)
    console.print(table)
    for transfer_id in transfers:
        schedule = schedule_transfer(scenario.transfer(transfer_id), scenario.today)
        milestones = Table(
            title=f"Tech transfer {schedule.transfer} to {schedule.facility}: ready "
                  f"{schedule.ready.isoformat()}",
            title_justify="left",
        )
        for column in ("milestone", "name", "start", "finish"):
            milestones.add_column(column)
        milestones.add_column("slack", justify="right")
        milestones.add_column("")
        for m in schedule.milestones:
            mark = "done" if m.done else ("[bold red]critical[/]" if m.critical else "")
            milestones.add_row(m.id, m.name, _day(m.start), _day(m.finish),
                               "—" if m.done else f"{m.slack_days} d", mark)
        console.print(milestones)


def _ready(scenario: Scenario, facility: Facility) -> str:
    if facility.tech_transfer is None:
        return _day(facility.ready)
    ready = schedule_transfer(scenario.transfer(facility.tech_transfer), scenario.today).ready
    return f"{ready.isoformat()} (tech transfer {facility.tech_transfer})"


def _reservations(facility: Facility) -> str:
    if not facility.reservations:
        return "—"
    return "\n".join(
        f"{r.suites} suite{'s' if r.suites != 1 else ''} {r.start.isoformat()} to "
        f"{r.end.isoformat()}{': ' + r.label if r.label else ''}"
        for r in facility.reservations
    )


def _print_vector(scenario: Scenario) -> None:
    today = scenario.today
    table = Table(title="Vector lots", title_justify="left")
    for column in ("lot", "facility"):
        table.add_column(column)
    table.add_column("units", justify="right")
    for column in ("valid from", "valid until", "extension", "today"):
        table.add_column(column)
    for lot in scenario.vector.lots:
        first, last = lot.valid_window()
        extension = lot.extension
        if extension is None:
            ext_text = "—"
        else:
            ext_text = f"{extension.status}: to {extension.expires.isoformat()}"
            if extension.status == "pending":
                ext_text += (f", readout {extension.readout.isoformat()}, "
                             f"p = {extension.probability:g}")
        if today < first:
            state = f"released in {(first - today).days} days"
        elif today > last:
            state = "[red]expired[/]"
        else:
            state = f"[green]usable[/], {(last - today).days} days left"
        table.add_row(lot.id, lot.facility or "—", str(lot.units), _day(first), _day(last),
                      ext_text, state)
    console.print(table)
    if scenario.vector.campaigns:
        campaigns = Table(title="Vector campaigns that can be booked", title_justify="left")
        for column in ("campaign", "facility", "earliest start", "earliest release"):
            campaigns.add_column(column)
        campaigns.add_column("units", justify="right")
        for c in scenario.vector.campaigns:
            campaigns.add_row(c.id or "—", c.facility, _day(c.earliest_start),
                              _day(c.earliest_release), str(c.units))
        console.print(campaigns)


def _print_patients(scenario: Scenario) -> None:
    counts = Counter(
        patient_stage(p, scenario.today, scenario.trial.modality) for p in scenario.patients
    )
    table = Table(title=f"Patients ({len(scenario.patients)})", title_justify="left")
    table.add_column("stage")
    table.add_column("patients", justify="right")
    table.add_column("")
    for stage in STAGES:
        table.add_row(stage, str(counts[stage]), _STAGE_NOTES[stage])
    console.print(table)

"""Record commands: record, events, coi, audit, backup, restore."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from chainsight.cli.app import app
from chainsight.cli.common import (
    EXIT_CONFLICT,
    EXIT_INVALID,
    EXIT_NOT_FOUND,
    console,
    err_console,
    fail,
    print_json,
    report_invalid,
    store_errors,
)
from chainsight.domain import ScenarioInvalid, read_data
from chainsight.domain.identity import IdentityInvalid, check_facility_code
from chainsight.domain.journey import EventRefused
from chainsight.record import backup as backups
from chainsight.record import commands, service
from chainsight.record import repository as repo
from chainsight.record.audit import default_actor, entry_dict, set_context, verify_chain
from chainsight.store.session import open_store

NOW_ENV = "CHAINSIGHT_NOW"

coi_app = typer.Typer(help="Chain-of-identity ids: issue a new one, check one.",
                      no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail: verify the hash chain, show entries.",
                        no_args_is_help=True)
app.add_typer(coi_app, name="coi")
app.add_typer(audit_app, name="audit")

UserOption = Annotated[
    str | None,
    typer.Option("--user", "-u", help="Who is recording (default: $CHAINSIGHT_USER, else the "
                                      "login name). Goes into the audit trail."),
]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help=f"The record's clock, ISO date or time in UTC (default: "
                               f"${NOW_ENV}, else now). Events after it are refused."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _user(user: str | None) -> str:
    chosen = (user or "").strip() or default_actor()
    if len(chosen) > 200:
        fail("--user: at most 200 characters")
    return chosen


def _clock(value: str | None) -> dt.datetime:
    text = (value or os.environ.get(NOW_ENV, "")).strip()
    if not text:
        return dt.datetime.now(dt.UTC)
    source = "--now" if value else NOW_ENV
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(f"{source}: {text!r} is not an ISO date or date-time")
    if len(text) == 10:  # a bare date: the record's clock stands at the end of that day
        moment = moment.replace(hour=23, minute=59, second=59)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _event_data(source: str, trial_id: str) -> dict[str, Any]:
    text = source.strip()
    if text.startswith("{"):
        origin = "--event"
    else:
        path = Path(text)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            fail(f"--event: {source!r} is neither JSON (starting with '{{') nor a file",
                 EXIT_NOT_FOUND)
        except (OSError, UnicodeDecodeError) as error:
            fail(f"--event: {path} cannot be read ({error})")
        origin = str(path)
    try:
        data = read_data(text, origin)
    except ScenarioInvalid as error:
        report_invalid(error, origin)
    if not isinstance(data, dict):
        fail(f"--event: an event is a mapping of fields, not {type(data).__name__}")
    given = data.setdefault("trial", trial_id)
    if given != trial_id:
        fail(f"trial: the event is for {given!r}, not {trial_id!r}")
    return data


@app.command()
def record(
    trial_id: Annotated[str, typer.Argument(metavar="TRIAL_ID", help="The stored trial.")],
    event: Annotated[str, typer.Option("--event", "-e",
                                       help="The event: a JSON/YAML file, or JSON text.")],
    user: UserOption = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option("--idempotency-key", "-k",
                     help="Sending again with the same key returns the first answer."),
    ] = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record what happened: check the event against the patient's journey and apply it."""
    data = _event_data(event, trial_id)
    who = _user(user)
    clock = _clock(now)
    if idempotency_key is not None and not 0 < len(idempotency_key.strip()) <= 200:
        fail("--idempotency-key: 1 to 200 characters")
    with store_errors():
        factory = open_store()
        try:
            result = commands.submit_event(factory, data, user=who, now=clock,
                                           idempotency_key=idempotency_key)
        except ScenarioInvalid as error:
            report_invalid(error, "event")
        except EventRefused as error:
            fail(f"refused: {error}", EXIT_CONFLICT)
        except service.TrialNotStored as error:
            fail(str(error), EXIT_NOT_FOUND)
        except (service.IdempotencyConflict, service.BookingConflict) as error:
            fail(str(error), EXIT_CONFLICT)
    if as_json:
        print_json(result.as_dict())
        return
    again = " (already recorded: same idempotency key)" if result.duplicate else ""
    where = f" patient {result.patient} is now {result.state}" if result.patient else ""
    console.print(f"[green]✓[/] #{result.sequence} {result.kind} recorded in {result.trial}:"
                  f"{where}{again}", highlight=False)
    for alert in result.alerts:
        console.print(f"  [yellow]![/] {alert}", highlight=False)


@app.command()
def events(
    trial_id: Annotated[str, typer.Argument(metavar="TRIAL_ID")],
    patient: Annotated[str | None, typer.Option("--patient", "-p")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the events recorded for a trial (one patient's with --patient)."""
    with store_errors():
        factory = open_store()
        with factory() as session:
            rows = service.event_list(session, trial_id, patient)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Events of {trial_id}" + (f", patient {patient}" if patient else ""))
    for column in ("#", "occurred", "kind", "patient", "COI", "recorded by", "recorded at"):
        table.add_column(column, no_wrap=column in ("#", "occurred", "kind", "COI"),
                         overflow="fold")
    for row in rows:
        table.add_row(str(row["sequence"]), row["occurred_on"], row["kind"],
                      row["patient"] or "", row["coi"] or "", row["recorded_by"],
                      row["recorded_at"][:19])
    console.print(table)


@coi_app.command("new")
def coi_new(
    trial: Annotated[str, typer.Option("--trial", "-t", help="The trial the id is for.")],
    facility_code: Annotated[
        str | None,
        typer.Option("--facility-code", "-f",
                     help="Issuing facility code, a letter and 4 digits (default: "
                          f"${service.FACILITY_CODE_ENV} or {service.DEFAULT_FACILITY_CODE})."),
    ] = None,
    user: UserOption = None,
    now: NowOption = None,
) -> None:
    """Issue the next chain-of-identity id and keep it (printed alone on stdout)."""
    if facility_code is not None:
        try:
            check_facility_code(facility_code)
        except IdentityInvalid as error:
            fail(f"--facility-code: {error.reason}")
    who, clock = _user(user), _clock(now)
    with store_errors():
        coi = commands.new_coi(open_store(), trial=trial, user=who, now=clock,
                               facility_code=facility_code)
    typer.echo(coi)


@coi_app.command("check")
def coi_check(
    identifier: Annotated[str, typer.Argument(metavar="ID", help="A COI or donation id.")],
) -> None:
    """Check an id's layout and check character: exit 0 if valid, 2 with the reason if not."""
    from chainsight.domain.identity import parse_coi, parse_donation_id

    text = identifier.strip()
    parse = parse_coi if text.startswith("CH") or len(text) == 16 else parse_donation_id
    try:
        parsed = parse(text)
    except IdentityInvalid as error:
        fail(f"{text}: {error.part}: {error.reason}", EXIT_INVALID)
    console.print(f"[green]✓[/] {parsed} is valid (facility {parsed.facility_code}, "
                  f"year {parsed.year}, sequence {parsed.sequence}, check {parsed.check})",
                  highlight=False)


@coi_app.command("list")
def coi_list(
    trial: Annotated[str, typer.Option("--trial", "-t")],
    as_json: JsonOption = False,
) -> None:
    """The COI ids issued for a trial and the patients they identify."""
    with store_errors(), open_store()() as session:
        rows: list[dict[str, Any]] = [{"coi": r.coi, "patient": r.patient, "issued_by": r.issued_by,
                 "issued_at": r.issued_at.isoformat()}
                for r in repo.cois_of_trial(session, trial)]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"COI ids of {trial}")
    for column in ("COI", "patient", "issued by", "issued at"):
        table.add_column(column, no_wrap=column == "COI", overflow="fold")
    for row in rows:
        table.add_row(row["coi"], row["patient"] or "", row["issued_by"], row["issued_at"][:19])
    console.print(table)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the whole hash chain: exit 0 if intact, 4 naming the first broken entry."""
    with store_errors(), open_store()() as session:
        report = verify_chain(session)
    if not report.ok:
        fail(f"audit trail broken at entry {report.broken_seq}: {report.reason}",
             EXIT_CONFLICT)
    console.print(f"[green]✓[/] audit trail intact: {report.entries} entries, hash chain "
                  "verified", highlight=False)


def _day_or_time(option: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not an ISO date or date-time")
    if len(value) == 10:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@audit_app.command("show")
def audit_show(
    trial: Annotated[str | None, typer.Option("--trial", "-t")] = None,
    patient: Annotated[str | None, typer.Option("--patient", "-p")] = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Entries by this user.")]
    = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO date or time (UTC).")]
    = None,
    until: Annotated[str | None, typer.Option("--until", help="ISO date or time (UTC).")]
    = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1)] = None,
    as_json: JsonOption = False,
) -> None:
    """Show audit entries: who changed what (old -> new), when (UTC) and why."""
    lower, upper = _day_or_time("--since", since), _day_or_time("--until", until)
    with store_errors(), open_store()() as session:
        rows = [entry_dict(r) for r in repo.audit_entries(
            session, trial=trial, patient=patient, actor=user, since=lower, until=upper,
            limit=limit)]
    if as_json:
        print_json(rows)
        return
    table = Table(title="Audit trail")
    for column in ("#", "at (UTC)", "who", "why", "what", "trial", "patient"):
        table.add_column(column, no_wrap=column in ("#", "at (UTC)", "trial", "patient"))
    table.add_column("change", overflow="fold", ratio=1)
    for row in rows:
        table.add_row(str(row["seq"]), row["at"][:19], row["actor"], row["reason"],
                      f"{row['action']} {row['table']} {row['row']}", row["trial"] or "",
                      row["patient"] or "", _change(row))
    console.print(table)


def _change(row: dict[str, Any]) -> str:
    old, new = row["old"] or {}, row["new"] or {}
    if row["action"] == "update":
        return "; ".join(f"{k}: {_short(old.get(k))} -> {_short(new.get(k))}"
                         for k in sorted(new))
    return _short(new or old, 100)


def _short(value: Any, width: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= width else text[: width - 3] + "..."


@app.command("backup")
def backup_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (JSON).")],
) -> None:
    """Write every table, audit trail included, to a portable JSON file."""
    with store_errors():
        factory = open_store()
        with factory() as session:
            data = backups.backup(session.connection())
    try:
        output.write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as error:
        fail(f"--output: cannot write {output} ({error})")
    rows = sum(len(v) for v in data["tables"].values())
    console.print(f"[green]✓[/] backup of {rows} rows written to {output}", highlight=False)


@app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(help="A file written by `chainsight backup`.")],
    force: Annotated[bool, typer.Option("--force", help="Replace a database that holds data "
                                                        "(everything in it is dropped).")]
    = False,
    user: UserOption = None,
) -> None:
    """Restore a backup into an empty database; the audit chain stays verifiable."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"FILE: {file}: no such file", EXIT_NOT_FOUND)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        fail(f"FILE: {file} is not a readable backup ({error})")
    who = _user(user)
    with store_errors():
        from chainsight.store.session import close_stores, migrate

        factory = open_store()
        engine = factory.kw["bind"]
        with factory() as session:
            empty = backups.is_empty(session.connection())
        if not empty:
            if not force:
                fail("the database is not empty: restore refuses to write over data "
                     "(use --force to replace everything)", EXIT_CONFLICT)
            err_console.print("[yellow]![/] --force: dropping every table first",
                              highlight=False)
            backups.wipe(engine)
            migrate(engine)
        try:
            with engine.begin() as connection:
                count = backups.restore(connection, data, actor=who)
        except backups.BackupError as error:
            fail(str(error))
        close_stores()
        with open_store()() as session:
            set_context(session, actor=who, reason="verify after restore")
            report = verify_chain(session)
    if not report.ok:
        fail(f"restored, but the audit trail does not verify at entry {report.broken_seq}: "
             f"{report.reason}", EXIT_CONFLICT)
    console.print(f"[green]✓[/] restored {count} rows; audit trail verified "
                  f"({report.entries} entries)", highlight=False)

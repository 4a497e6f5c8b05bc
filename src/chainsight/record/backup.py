"""Backup and restore of the whole store as portable JSON, audit trail included.

A backup holds every row of every table (the store's and the record's) with the schema
revision. A restore goes into an empty database of the same revision, writes the rows
as they were, moves the audit head along the restored chain (its trigger lets it move
one verified entry at a time) and then appends one audit entry saying who restored
what, so the chain still verifies. Restoring over data needs ``force``: the tables are
then dropped and migrated again, because append-only tables refuse deletion.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Table,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)

from chainsight.record.audit import GENESIS, default_actor, write_entry
from chainsight.record.models import AuditHeadRow, AuditRow, LockRow

FORMAT = "chainsight-backup/1"
_SKIPPED = frozenset({AuditHeadRow.__tablename__, LockRow.__tablename__, "alembic_version"})


class BackupError(Exception):
    """A backup that cannot be restored here; ``str(error)`` says why."""


def _tables(connection: Connection) -> tuple[list[Table], dict[str, list[str]]]:
    """Every table in the database (other packages may own some), in an order rows can be
    inserted, and by table the key columns that must wait because they close a cycle."""
    reflected = MetaData()
    reflected.reflect(bind=connection)
    tables = [t for t in reflected.tables.values() if t.name not in _SKIPPED]
    needs = {t.name: {fk.column.table.name for fk in t.foreign_keys} - {t.name}
             for t in tables}
    by_name = {t.name: t for t in tables}
    order: list[Table] = []
    late: dict[str, list[str]] = {}
    while needs:
        ready = sorted(name for name, deps in needs.items() if not deps & needs.keys())
        if not ready:
            # A cycle: the first table with a nullable key into it writes that key last.
            name = next(n for n in sorted(needs) if any(
                fk.parent.nullable and fk.column.table.name in needs
                for fk in by_name[n].foreign_keys))
            cyclic = [fk for fk in by_name[name].foreign_keys
                      if fk.parent.nullable and fk.column.table.name in needs]
            late.setdefault(name, []).extend(fk.parent.name for fk in cyclic)
            needs[name] -= {fk.column.table.name for fk in cyclic}
            continue
        for name in ready:
            order.append(by_name[name])
            del needs[name]
    for table in order:  # keys to the table itself, too, are filled in last
        late.setdefault(table.name, []).extend(
            fk.parent.name for fk in table.foreign_keys if fk.column.table is table)
    return order, late


def _revision(connection: Connection) -> str | None:
    # Asked, not tried: on PostgreSQL a failed statement would abort the transaction.
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def backup(connection: Connection) -> dict[str, Any]:
    """Every row of every table as JSON-ready data, in an order a restore can insert."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in _tables(connection)[0]:
        order = list(table.primary_key.columns)
        rows = connection.execute(select(table).order_by(*order)).mappings()
        tables[table.name] = [{k: _encode(v) for k, v in row.items()} for row in rows]
    return {
        "format": FORMAT,
        "revision": _revision(connection),
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "tables": tables,
    }


def is_empty(connection: Connection) -> bool:
    """Whether no table holds a row (an empty audit head and locks do not count)."""
    for table in _tables(connection)[0]:
        if connection.execute(select(func.count()).select_from(table)).scalar():
            return False
    return True


def _decode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name not in table.c:
            raise BackupError(f"tables.{table.name}: unknown column {name!r}")
        kind = table.c[name].type
        if value is None or isinstance(kind, JSON):
            out[name] = value
        elif isinstance(kind, DateTime):
            out[name] = dt.datetime.fromisoformat(value)
        elif isinstance(kind, Date):
            out[name] = dt.date.fromisoformat(value)
        elif isinstance(kind, Boolean):
            out[name] = bool(value)
        else:
            out[name] = value
    return out


def check_backup(data: Any, revision: str | None, known: set[str]
                 ) -> dict[str, list[dict[str, Any]]]:
    """The tables of a backup, after checking it is one this database can take."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupError(f"format: not a ChainSight backup (expected {FORMAT!r})")
    if data.get("revision") != revision:
        raise BackupError(f"revision: the backup is of schema {data.get('revision')!r}, this "
                          f"database is at {revision!r}")
    tables = data.get("tables")
    if not isinstance(tables, dict):
        raise BackupError("tables: missing")
    unknown = sorted(set(tables) - known)
    if unknown:
        raise BackupError(f"tables: unknown table {unknown[0]!r}")
    return tables


def restore(connection: Connection, data: Any, *, actor: str | None = None) -> int:
    """Write a backup into this (empty) database; returns the number of rows restored."""
    order, late = _tables(connection)
    tables = check_backup(data, _revision(connection), {t.name for t in order})
    if not is_empty(connection):
        raise BackupError("the database is not empty: restore only into an empty one "
                          "(or use --force to replace everything)")
    count = 0
    deferred: list[tuple[Table, str, dict[str, Any]]] = []
    for table in order:
        # Columns whose key closes a cycle between tables are filled in last.
        for raw in tables.get(table.name, []):
            row = _decode(table, raw)
            for column in late.get(table.name, []):
                if row.get(column) is not None:
                    deferred.append((table, column, {"id": row["id"], "value": row[column]}))
                    row[column] = None
            connection.execute(table.insert().values(**row))
            count += 1
    for table, column, item in deferred:
        connection.execute(update(table).where(table.c.id == item["id"])
                           .values({column: item["value"]}))
    _advance_head(connection)
    if connection.dialect.name == "postgresql":
        _reset_sequences(connection)
    write_entry(connection, actor=actor or default_actor(),
                reason=f"restored from a backup made {data.get('created_at')}",
                action="restore", table_name="*", row_key="*", trial=None, patient=None,
                old=None, new={"rows": count})
    return count


def _advance_head(connection: Connection) -> None:
    if connection.execute(select(AuditHeadRow.id)).first() is None:
        connection.execute(insert(AuditHeadRow).values(id=1, seq=0, hash=GENESIS))
    entries = connection.execute(select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq))
    for seq, digest in entries.all():
        connection.execute(update(AuditHeadRow).where(AuditHeadRow.id == 1)
                           .values(seq=seq, hash=digest))


def _reset_sequences(connection: Connection) -> None:
    for table in _tables(connection)[0]:
        if "id" not in table.c or not isinstance(table.c.id.type, Integer):
            continue
        connection.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))


def wipe(engine: Engine) -> None:
    """Drop every table in the database (for a forced restore); migrate again afterwards."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Dropped tables must not cascade into each other; SQLite only switches its
            # foreign keys outside a transaction, so straight to the driver.
            _driver(connection, "PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                names = inspect(connection).get_table_names()
                cascade = "" if sqlite else " CASCADE"
                for name in names:
                    connection.execute(text(f'DROP TABLE IF EXISTS "{name}"{cascade}'))
                if not sqlite:
                    for function in ("record_append_only", "record_audit_head_forward"):
                        connection.execute(text(f"DROP FUNCTION IF EXISTS {function}() "
                                                "CASCADE"))
        finally:
            if sqlite:
                _driver(connection, "PRAGMA foreign_keys=ON")


def _driver(connection: Connection, statement: str) -> None:
    driver = connection.connection.driver_connection
    assert driver is not None, "the connection is closed"
    driver.execute(statement)

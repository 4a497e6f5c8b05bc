"""Entries the service writes to the audit trail itself, for changes made with Core
statements (users, tokens, webhooks): what changed, never a secret."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from chainsight.record.audit import write_entry


def note(session: Session, *, actor: str, reason: str, action: str, table: str, row_key: str,
         new: dict[str, Any] | None = None, old: dict[str, Any] | None = None,
         trial: str | None = None) -> None:
    """Append one entry to the audit chain in the session's transaction."""
    write_entry(session.connection(), actor=actor, reason=reason, action=action,
                table_name=table, row_key=row_key, trial=trial, patient=None, old=old, new=new)

"""The audit trail (sponsor and auditors): entries by trial, patient, actor and time, and
a check of its hash chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from chainsight.api.dependencies import CurrentUser, Db
from chainsight.api.routers import api_router
from chainsight.api.schemas import AuditEntryOut, AuditVerifyOut
from chainsight.api.scoping import require
from chainsight.record import repository as record_repo
from chainsight.record.audit import entry_dict, verify_chain

router = api_router("audit")
Filter = Annotated[str | None, Query(min_length=1, max_length=200)]
Moment = Annotated[str | None, Query(
    pattern=r"^\d{4}-\d{2}-\d{2}(T[0-9:.]+Z?)?$",
    description="an ISO date or UTC time (compared with the entry's time)")]


@router.get("/audit", response_model=list[AuditEntryOut])
def list_audit(principal: CurrentUser, session: Db, trial: Filter = None,
               patient: Filter = None, actor: Filter = None, since: Moment = None,
               until: Moment = None,
               limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict[str, Any]]:
    """Audit entries matching every filter given, in chain order."""
    require(principal, "read_audit")
    rows = record_repo.audit_entries(session, trial=trial, patient=patient, actor=actor,
                                     since=since, until=until, limit=limit)
    return [entry_dict(row) for row in rows]


@router.get("/audit/verify", response_model=AuditVerifyOut)
def verify_audit(principal: CurrentUser, session: Db) -> AuditVerifyOut:
    """Check every entry's hash and link: the first one that does not hold is named."""
    require(principal, "read_audit")
    report = verify_chain(session)
    return AuditVerifyOut(entries=report.entries, ok=report.ok, broken_seq=report.broken_seq,
                          reason=report.reason)

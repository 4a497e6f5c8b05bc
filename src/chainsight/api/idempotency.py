"""``Idempotency-Key`` for POSTs that create: the same key with the same body gets the same
answer and creates nothing more; the same key with another body is refused (422).

Keys belong to the user who sent them. The answer is stored in the request's own
transaction, so it exists exactly when what it describes does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chainsight.api.auth.principal import Principal
from chainsight.api.models import IdempotencyRow
from chainsight.api.problems import ApiProblem, FieldError
from chainsight.record.audit import canonical

KeyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$",
           description="a client-chosen key: resending with it never creates twice"),
]


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """sha256 over the method, the path and the canonical JSON of the body."""
    text = f"{method} {path}\n{canonical(jsonable_encoder(body))}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Idempotency:
    """One creating request's key (None: the client sent none, nothing is kept)."""

    session: Session
    principal: Principal
    key: str | None
    method: str
    path: str
    fingerprint: str

    def earlier(self) -> JSONResponse | None:
        """The stored answer to an earlier request with this key, replayed; 422 if that
        request was a different one."""
        if self.key is None:
            return None
        row = self.session.scalar(select(IdempotencyRow).where(
            IdempotencyRow.user_id == self.principal.user_id, IdempotencyRow.key == self.key))
        if row is None:
            return None
        if row.request_hash != self.fingerprint:
            raise ApiProblem(
                422, "Idempotency key reused",
                f"the key was first used for another request ({row.method} {row.path}) "
                "or another body; use a new key for a new request",
                kind="idempotency-key-reused",
                errors=[FieldError(field="header.Idempotency-Key",
                                   message="already used for a different request")])
        return JSONResponse(json.loads(row.response), status_code=row.status_code,
                            headers={"Idempotent-Replayed": "true"})

    def remember(self, status: int, body: Any) -> None:
        """Keep the answer under the key (if another request with the same key won the
        race, its answer stays)."""
        if self.key is None:
            return
        try:
            with self.session.begin_nested():
                self.session.execute(insert(IdempotencyRow).values(
                    user_id=self.principal.user_id, key=self.key, method=self.method,
                    path=self.path, request_hash=self.fingerprint, status_code=status,
                    response=json.dumps(jsonable_encoder(body)),
                    created_at=dt.datetime.now(dt.UTC)))
        except IntegrityError:
            pass

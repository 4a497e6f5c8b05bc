"""Users, credentials, tokens and sessions. Keyword-only functions on the caller's session;
nothing here commits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from chainsight.api.auditing import note
from chainsight.api.auth.principal import ROLES, Principal, Role
from chainsight.api.auth.secrets import hash_password, new_token, token_digest, verify_password
from chainsight.api.models import CredentialRow, TokenRow, UserRow
from chainsight.store.models import FacilityRow, SiteRow

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$"


class UserInvalid(ValueError):
    """A user that cannot be created: ``field`` is the option at fault."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class NewUser:
    """A user just created, with its API token (shown once, never stored)."""

    principal: Principal
    token: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _principal(row: UserRow, via: str) -> Principal:
    role: Role = row.role  # type: ignore[assignment]  # checked when the row was written
    return Principal(user_id=row.id, name=row.name, role=role, site=row.site,
                     facility=row.facility, courier=row.courier, via=via)


def find_user(session: Session, name: str) -> UserRow | None:
    """The user called ``name``, or None."""
    return session.scalar(select(UserRow).where(UserRow.name == name))


def check_new_user(session: Session, *, name: str, role: str, site: str | None,
                   facility: str | None, courier: str | None) -> None:
    """Raise UserInvalid unless the user may be created as given: the role's organisation
    is named (and exists, for sites and facilities) and no other organisation is."""
    import re

    if not re.fullmatch(NAME_PATTERN, name):
        raise UserInvalid("name", "letters, digits and _ . @ - only, at most 100 characters")
    if find_user(session, name) is not None:
        raise UserInvalid("name", f"a user called {name!r} already exists")
    if role not in ROLES:
        raise UserInvalid("role", f"must be one of {', '.join(ROLES)}")
    given = {"site": site, "facility": facility, "courier": courier}
    needed = {"site": "site", "cdmo": "facility", "courier": "courier"}.get(role)
    for option, value in given.items():
        if option != needed and value is not None:
            raise UserInvalid(option, f"does not apply to role {role}")
    if needed is None:
        return
    value = given[needed]
    if value is None or not value.strip():
        raise UserInvalid(needed, f"role {role} needs --{needed}")
    if needed == "site" and session.scalar(
            select(SiteRow.id).where(SiteRow.code == value).limit(1)) is None:
        raise UserInvalid("site", f"no stored trial has a site {value!r}")
    if needed == "facility" and session.scalar(
            select(FacilityRow.id).where(FacilityRow.code == value).limit(1)) is None:
        raise UserInvalid("facility", f"no stored trial has a facility {value!r}")


def create_user(session: Session, *, hasher: PasswordHasher, name: str, role: str,
                site: str | None = None, facility: str | None = None,
                courier: str | None = None, password: str | None = None,
                created_by: str) -> NewUser:
    """Create a user (checked by :func:`check_new_user`) and its first API token."""
    check_new_user(session, name=name, role=role, site=site, facility=facility,
                   courier=courier)
    now = _now()
    values = {"name": name, "role": role, "site": site, "facility": facility,
              "courier": courier, "created_at": now, "created_by": created_by}
    user_id = session.execute(insert(UserRow).values(**values).returning(UserRow.id)).scalar_one()
    note(session, actor=created_by, reason=f"user {name} added as {role}", action="insert",
         table=UserRow.__tablename__, row_key=str(user_id),
         new={**values, "created_at": now.isoformat()})
    if password is not None:
        set_password(session, hasher=hasher, user_id=user_id, password=password,
                     changed_by=created_by)
    token = issue_token(session, user_id=user_id, kind="api", label="first token",
                        issued_by=created_by)
    row = session.get(UserRow, user_id)
    assert row is not None
    return NewUser(_principal(row, "token"), token)


def set_password(session: Session, *, hasher: PasswordHasher, user_id: int, password: str,
                 changed_by: str) -> None:
    """Set (or replace) a user's password; the trail says it changed, not what it is."""
    if len(password) < 8:
        raise UserInvalid("password", "at least 8 characters")
    digest = hash_password(hasher, password)
    exists = session.get(CredentialRow, user_id) is not None
    if exists:
        session.execute(update(CredentialRow).where(CredentialRow.user_id == user_id)
                        .values(password_hash=digest))
    else:
        session.execute(insert(CredentialRow).values(user_id=user_id, password_hash=digest))
    note(session, actor=changed_by, reason="password set", action="update" if exists else "insert",
         table=CredentialRow.__tablename__, row_key=str(user_id), new={"password": "(set)"})


def issue_token(session: Session, *, user_id: int, kind: str, label: str, issued_by: str,
                expires_at: dt.datetime | None = None) -> str:
    """A new token for the user; only its digest is stored, so this is the one chance to
    show it."""
    token = new_token()
    token_id = session.execute(insert(TokenRow).values(
        user_id=user_id, kind=kind, token_hash=token_digest(token), label=label,
        created_at=_now(), expires_at=expires_at, revoked_at=None,
    ).returning(TokenRow.id)).scalar_one()
    if kind == "api":  # sessions come and go with every login: not worth an entry each
        note(session, actor=issued_by, reason=f"API token issued ({label})", action="insert",
             table=TokenRow.__tablename__, row_key=str(token_id),
             new={"user_id": user_id, "kind": kind, "label": label})
    return token


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes: they were written in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def principal_for_token(session: Session, token: str, *, kinds: tuple[str, ...] = ("api",),
                        via: str = "token") -> Principal | None:
    """The user a valid (known, unrevoked, unexpired) token belongs to, or None."""
    found = session.execute(
        select(UserRow, TokenRow.expires_at, TokenRow.revoked_at)
        .join(TokenRow, TokenRow.user_id == UserRow.id)
        .where(TokenRow.token_hash == token_digest(token), TokenRow.kind.in_(kinds))
    ).one_or_none()
    if found is None:
        return None
    user, expires_at, revoked_at = found
    expires = _aware(expires_at)
    if revoked_at is not None or (expires is not None and expires <= _now()):
        return None
    return _principal(user, via)


def principal_for_password(session: Session, *, hasher: PasswordHasher, name: str,
                           password: str) -> Principal | None:
    """The user if ``password`` is theirs, or None (unknown user or wrong password alike)."""
    found = session.execute(
        select(UserRow, CredentialRow.password_hash)
        .join(CredentialRow, CredentialRow.user_id == UserRow.id)
        .where(UserRow.name == name)
    ).one_or_none()
    if found is None:
        # Spend the same time as a real check so that timing does not tell who exists.
        verify_password(hasher, _DUMMY_HASH.get(hasher), password)
        return None
    user, stored = found
    if not verify_password(hasher, stored, password):
        return None
    return _principal(user, "password")


class _DummyHashes:
    """One throw-away hash per hasher, made on first use."""

    def __init__(self) -> None:
        self._made: dict[int, str] = {}

    def get(self, hasher: PasswordHasher) -> str:
        key = id(hasher)
        if key not in self._made:
            self._made[key] = hasher.hash("not a password of anyone")
        return self._made[key]


_DUMMY_HASH = _DummyHashes()


def start_session(session: Session, *, principal: Principal, hours: float) -> str:
    """A browser session token for a user who logged in with a password."""
    return issue_token(session, user_id=principal.user_id, kind="session", label="login",
                       issued_by=principal.actor,
                       expires_at=_now() + dt.timedelta(hours=hours))


def end_session(session: Session, token: str) -> None:
    """Revoke a browser session token (logging out)."""
    session.execute(update(TokenRow).where(TokenRow.token_hash == token_digest(token),
                                           TokenRow.kind == "session")
                    .values(revoked_at=_now()))


def list_users(session: Session) -> list[Principal]:
    """Every user, by name."""
    return [_principal(row, "token")
            for row in session.scalars(select(UserRow).order_by(UserRow.name))]

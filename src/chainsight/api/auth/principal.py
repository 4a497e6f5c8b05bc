"""The authenticated caller, as every other module sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Role = Literal["sponsor", "site", "cdmo", "courier", "auditor"]
ROLES: tuple[str, ...] = get_args(Role)

# Which organisation field each role belongs to (sponsor and auditor see every trial).
ORGANISATION_FIELD: dict[str, str | None] = {
    "sponsor": None, "auditor": None, "site": "site", "cdmo": "facility", "courier": "courier",
}


@dataclass(frozen=True)
class Principal:
    """A user (person or system) with a role and, for site, cdmo and courier users, the
    site, facility or courier it works for."""

    user_id: int
    name: str
    role: Role
    site: str | None = None
    facility: str | None = None
    courier: str | None = None
    via: str = "token"  # token | session | password: how it authenticated

    @property
    def organisation(self) -> str:
        """The organisation as one key (``site:S01``, ``cdmo:CDMO-A``, ``sponsor``)."""
        field = ORGANISATION_FIELD[self.role]
        if field is None:
            return self.role
        return f"{self.role}:{getattr(self, field)}"

    @property
    def actor(self) -> str:
        """How the audit trail names this caller."""
        return f"user:{self.name}"

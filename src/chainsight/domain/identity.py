"""Chain of identity: ISBT-128-style identifiers with an ISO/IEC 7064 MOD 37-2 check.

A donation identifier is a facility code (a letter and 4 digits), a 2-digit year and a
6-digit sequence, 13 characters, followed by a check character when typed by hand. The
chain-of-identity (COI) identifier of one patient's therapy is ``CH`` + facility code +
year + a 6-character sequence (digits or letters) + check character. ChainSight follows
the layout only; facility codes come from configuration.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
_VALUE = {char: value for value, char in enumerate(CHARSET)}
_MODULUS = 37
_SEQUENCE_DIGITS = CHARSET[:36]  # the sequence counts in base 36; '*' is only a check value

COI_PREFIX = "CH"
DONATION_LENGTH = 14  # 13 characters + check
COI_LENGTH = 16  # CH + 5 + 2 + 6 + check

_FACILITY = re.compile(r"^[A-Z][0-9]{4}$")
_YEAR = re.compile(r"^[0-9]{2}$")
_DONATION_SEQUENCE = re.compile(r"^[0-9]{6}$")
_COI_SEQUENCE = re.compile(r"^[0-9A-Z]{6}$")


class IdentityInvalid(ValueError):
    """An identifier that does not hold: ``part`` names what is wrong, ``reason`` why."""

    def __init__(self, value: str, part: str, reason: str) -> None:
        self.value = value
        self.part = part
        self.reason = reason
        super().__init__(f"{value!r}: {part}: {reason}")


def check_character(body: str) -> str:
    """The ISO/IEC 7064 MOD 37-2 check character of ``body`` (characters ``0-9 A-Z *``).

    Each character's value is weighted by 2^n, n counted from the right starting at 1;
    the check value c makes sum + c = 1 (mod 37).
    """
    total = 0
    weight = 2
    for char in reversed(body):
        if char not in _VALUE:
            raise IdentityInvalid(body, "character", f"{char!r} is not one of 0-9, A-Z, *")
        total = (total + _VALUE[char] * weight) % _MODULUS
        weight = (weight * 2) % _MODULUS
    return CHARSET[(_MODULUS + 1 - total) % _MODULUS]


def is_valid_check(text: str) -> bool:
    """Whether the last character of ``text`` is the MOD 37-2 check of the rest."""
    if len(text) < 2 or any(char not in _VALUE for char in text):
        return False
    return check_character(text[:-1]) == text[-1]


@dataclass(frozen=True)
class _CheckedId:
    """Facility code, year and sequence, with the check character over ``body``."""

    facility_code: str
    year: str
    sequence: str
    check: str

    @property
    def body(self) -> str:
        """The characters the check is computed over."""
        return f"{self.facility_code}{self.year}{self.sequence}"

    def __str__(self) -> str:
        return self.body + self.check


class DonationId(_CheckedId):
    """An ISBT-128-style donation identifier with its check character."""


class CoiId(_CheckedId):
    """A chain-of-identity identifier: one patient's therapy, carried on every label."""

    @property
    def body(self) -> str:
        """The characters the check is computed over (``CH`` included)."""
        return COI_PREFIX + super().body


def check_facility_code(code: str) -> str:
    """``code`` if it is a facility code (a capital letter and 4 digits), else IdentityInvalid."""
    if not _FACILITY.match(code):
        raise IdentityInvalid(code, "facility code",
                              f"{code!r} is not a capital letter followed by 4 digits")
    return code


def _check_year(value: str, year: str) -> None:
    if not _YEAR.match(year):
        raise IdentityInvalid(value, "year", f"{year!r} is not a 2-digit year")


def _check_characters(value: str) -> None:
    for position, char in enumerate(value, start=1):
        if char not in _VALUE:
            raise IdentityInvalid(value, "character",
                                  f"{char!r} at position {position} is not one of 0-9, A-Z, *")


def _check_check(value: str, body: str, given: str) -> None:
    expected = check_character(body)
    if given != expected:
        raise IdentityInvalid(value, "check character",
                              f"bad check character: expected {expected} got {given}")


def parse_donation_id(text: str) -> DonationId:
    """Parse and check a 14-character donation identifier; IdentityInvalid names the part."""
    value = text.strip()
    if len(value) != DONATION_LENGTH:
        raise IdentityInvalid(value, "length",
                              f"a donation identifier has {DONATION_LENGTH} characters "
                              f"(facility code 5, year 2, sequence 6, check 1), got {len(value)}")
    _check_characters(value)
    facility, year, sequence, check = value[:5], value[5:7], value[7:13], value[13]
    check_facility_code(facility)
    _check_year(value, year)
    if not _DONATION_SEQUENCE.match(sequence):
        raise IdentityInvalid(value, "sequence", f"{sequence!r} is not 6 digits")
    _check_check(value, value[:13], check)
    return DonationId(facility, year, sequence, check)


def parse_coi(text: str) -> CoiId:
    """Parse and check a 16-character COI identifier; IdentityInvalid names the part."""
    value = text.strip()
    if len(value) != COI_LENGTH:
        raise IdentityInvalid(value, "length",
                              f"a COI identifier has {COI_LENGTH} characters (CH, facility "
                              f"code 5, year 2, sequence 6, check 1), got {len(value)}")
    _check_characters(value)
    if not value.startswith(COI_PREFIX):
        raise IdentityInvalid(value, "prefix",
                              f"a COI identifier starts with {COI_PREFIX!r}, not {value[:2]!r}")
    facility, year, sequence, check = value[2:7], value[7:9], value[9:15], value[15]
    check_facility_code(facility)
    _check_year(value, year)
    if not _COI_SEQUENCE.match(sequence):
        raise IdentityInvalid(value, "sequence",
                              f"{sequence!r} is not 6 characters of 0-9 or A-Z")
    _check_check(value, value[:15], check)
    return CoiId(facility, year, sequence, check)


def make_coi(facility_code: str, year: int, sequence: str) -> CoiId:
    """The COI identifier for these parts, its check character computed."""
    check_facility_code(facility_code)
    if not 0 <= year <= 99:
        raise IdentityInvalid(str(year), "year", f"{year} is not a 2-digit year (0-99)")
    if not _COI_SEQUENCE.match(sequence):
        raise IdentityInvalid(sequence, "sequence",
                              f"{sequence!r} is not 6 characters of 0-9 or A-Z")
    body = f"{COI_PREFIX}{facility_code}{year:02d}{sequence}"
    return CoiId(facility_code, f"{year:02d}", sequence, check_character(body))


def make_donation_id(facility_code: str, year: int, sequence: int) -> DonationId:
    """The donation identifier for these parts, its check character computed."""
    check_facility_code(facility_code)
    if not 0 <= year <= 99:
        raise IdentityInvalid(str(year), "year", f"{year} is not a 2-digit year (0-99)")
    if not 0 <= sequence <= 999_999:
        raise IdentityInvalid(str(sequence), "sequence", f"{sequence} is not 6 digits")
    body = f"{facility_code}{year:02d}{sequence:06d}"
    return DonationId(facility_code, f"{year:02d}", f"{sequence:06d}", check_character(body))


def sequence_number(sequence: str) -> int:
    """A 6-character base-36 sequence (``0-9`` then ``A-Z``) as a number."""
    return int(sequence, 36)


def sequence_text(number: int) -> str:
    """``number`` as a 6-character base-36 sequence; ValueError past ``ZZZZZZ``."""
    if not 0 <= number < 36**6:
        raise ValueError(f"sequence {number} does not fit in 6 base-36 characters")
    digits = []
    for _ in range(6):
        number, rest = divmod(number, 36)
        digits.append(_SEQUENCE_DIGITS[rest])
    return "".join(reversed(digits))


def next_coi(facility_code: str, year: int, issued: Iterable[str]) -> CoiId:
    """The next COI identifier for a facility and year after those already ``issued``.

    Sequences count up in base 36 from ``000001``, so they sort in issue order; identifiers
    of other facilities or years do not count.
    """
    check_facility_code(facility_code)
    prefix = f"{COI_PREFIX}{facility_code}{year % 100:02d}"
    highest = 0
    for text in issued:
        if text.startswith(prefix) and len(text) == COI_LENGTH:
            try:
                highest = max(highest, sequence_number(text[9:15]))
            except ValueError:
                continue
    return make_coi(facility_code, year % 100, sequence_text(highest + 1))

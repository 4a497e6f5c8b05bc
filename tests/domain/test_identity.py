"""Chain of identity: MOD 37-2 check characters, parsing with reasons, next identifiers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainsight.domain.identity import (
    CHARSET,
    IdentityInvalid,
    check_character,
    is_valid_check,
    make_coi,
    make_donation_id,
    next_coi,
    parse_coi,
    parse_donation_id,
    sequence_text,
)


@pytest.mark.parametrize(("body", "check"), [("G123417654321", "A"), ("G123498654321", "H")])
def test_worked_examples(body: str, check: str) -> None:
    assert check_character(body) == check
    assert str(parse_donation_id(body + check)) == body + check


def test_check_character_refuses_foreign_characters() -> None:
    with pytest.raises(IdentityInvalid, match="not one of"):
        check_character("G1234-7654321")


@pytest.mark.parametrize(
    ("text", "part", "words"),
    [
        ("G12341765432A", "length", "got 13"),
        ("G123417654321AB", "length", "got 15"),
        ("1123417654321A", "facility code", "capital letter"),
        ("GX23417654321A", "facility code", "capital letter"),
        ("G1234A7654321A", "year", "2-digit"),
        ("G12341765432XA", "sequence", "6 digits"),
        ("G123417654321B", "check character", "expected A got B"),
        ("G12341765432a1", "character", "position 13"),
    ],
)
def test_donation_id_reasons(text: str, part: str, words: str) -> None:
    with pytest.raises(IdentityInvalid) as caught:
        parse_donation_id(text)
    assert caught.value.part == part
    assert words in caught.value.reason


def test_coi_round_trip_and_reasons() -> None:
    coi = make_coi("W1234", 27, "00A0Z1")
    text = str(coi)
    assert len(text) == 16
    assert text.startswith("CHW123427")
    assert parse_coi(text) == coi
    with pytest.raises(IdentityInvalid, match="starts with 'CH'"):
        parse_coi("XX" + text[2:])
    with pytest.raises(IdentityInvalid, match="facility code"):
        parse_coi("CHWW23427" + text[9:])
    with pytest.raises(IdentityInvalid, match="year"):
        parse_coi("CHW12342X" + text[9:])
    wrong = CHARSET[(CHARSET.index(text[-1]) + 1) % 37]
    with pytest.raises(IdentityInvalid, match=f"expected {text[-1]} got"):
        parse_coi(text[:-1] + wrong)
    with pytest.raises(IdentityInvalid, match="got 15"):
        parse_coi(text[:-1])


def test_make_refuses_bad_parts() -> None:
    with pytest.raises(IdentityInvalid, match="facility code"):
        make_coi("1234A", 27, "000001")
    with pytest.raises(IdentityInvalid, match="year"):
        make_coi("A1234", 127, "000001")
    with pytest.raises(IdentityInvalid, match="sequence"):
        make_coi("A1234", 27, "00001")
    with pytest.raises(IdentityInvalid, match="sequence"):
        make_donation_id("A1234", 27, 1_000_000)


def test_next_coi_counts_per_facility_and_year() -> None:
    first = next_coi("A1234", 2027, [])
    assert first.sequence == "000001"
    issued = [str(first), str(make_coi("A1234", 27, "000009")),
              str(make_coi("A1234", 26, "000500")), str(make_coi("B9999", 27, "00ZZZZ"))]
    assert next_coi("A1234", 2027, issued).sequence == "00000A"
    assert sequence_text(36**6 - 1) == "ZZZZZZ"
    with pytest.raises(ValueError, match="does not fit"):
        sequence_text(36**6)


def _valid_ids() -> st.SearchStrategy[str]:
    donations = st.builds(
        lambda f, d, y, s: str(make_donation_id(f + f"{d:04d}", y, s)),
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), st.integers(0, 9999),
        st.integers(0, 99), st.integers(0, 999_999),
    )
    cois = st.builds(
        lambda f, d, y, s: str(make_coi(f + f"{d:04d}", y, s)),
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), st.integers(0, 9999),
        st.integers(0, 99), st.text(alphabet=CHARSET[:36], min_size=6, max_size=6),
    )
    return st.one_of(donations, cois)


@given(_valid_ids(), st.data())
def test_any_single_substitution_is_detected(valid: str, data: st.DataObject) -> None:
    assert is_valid_check(valid)
    position = data.draw(st.integers(0, len(valid) - 1))
    other = data.draw(st.sampled_from(CHARSET).filter(lambda c: c != valid[position]))
    changed = valid[:position] + other + valid[position + 1:]
    assert not is_valid_check(changed)


@given(_valid_ids(), st.data())
def test_any_adjacent_transposition_is_detected(valid: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(valid) - 2))
    a, b = valid[position], valid[position + 1]
    if a == b:
        return  # swapping equal characters changes nothing
    swapped = valid[:position] + b + a + valid[position + 2:]
    assert not is_valid_check(swapped)

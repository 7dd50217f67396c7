"""Card number on the paper card: typed in when the QR is damaged (R3)."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.codes.card_number import ALPHABET, check_char, is_valid, make_card_number, normalise
from cases.codes.errors import InvalidCardNumber

FORMAT = re.compile(r"SD-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]")
SAMPLE = [make_card_number(f"pass-{i}") for i in range(40)] + [
    make_card_number(str(uuid.UUID(int=i * 7919))) for i in range(40)
]


def _body(number: str) -> str:
    return number[2:].replace("-", "")


def _format(body: str) -> str:
    return f"SD-{body[0:4]}-{body[4:8]}-{body[8:12]}-{body[12]}"


def test_r3_card_number_format_and_determinism():
    n = make_card_number("7d1f0c2e-3a54-4b8e-9f00-1234567890ab")
    assert FORMAT.fullmatch(n)
    assert n == make_card_number("7d1f0c2e-3a54-4b8e-9f00-1234567890ab")
    assert n != make_card_number("7d1f0c2e-3a54-4b8e-9f00-1234567890ac")
    assert is_valid(n)
    assert all(FORMAT.fullmatch(x) and is_valid(x) for x in SAMPLE)
    assert len(set(SAMPLE)) == len(SAMPLE)


def test_r3_card_number_check_char_detects_every_single_substitution():
    missed = []
    for number in SAMPLE:
        body = _body(number)
        for pos in range(13):
            for ch in ALPHABET:
                if ch != body[pos]:
                    typo = _format(body[:pos] + ch + body[pos + 1 :])
                    if is_valid(typo):
                        missed.append(typo)
    assert missed == []


def test_r3_card_number_check_char_detects_every_transposition():
    missed = []
    for number in SAMPLE:
        body = _body(number)
        for i in range(13):
            for j in range(i + 1, 13):  # adjacent and jump transpositions, check char included
                if body[i] != body[j]:
                    swapped = list(body)
                    swapped[i], swapped[j] = swapped[j], swapped[i]
                    if is_valid(_format("".join(swapped))):
                        missed.append((number, i, j))
    assert missed == []


def test_r3_card_number_normalise_forgives_typing():
    n = make_card_number("pass-42")
    body = _body(n)
    variants = [
        n.lower(),
        body,
        "sd" + body.lower(),
        " ".join(body[k : k + 4] for k in range(0, 13, 4)),
        f"SD {body[:4]} {body[4:8]} - {body[8:12]} {body[12]}",
        "SD--" + body,
    ]
    for text in variants:
        assert normalise(text) == n, text
        assert is_valid(text)


def test_r3_card_number_normalise_maps_crockford_confusables():
    data = "0011ABCDEFGH"
    number = _format(data + check_char(data))
    assert is_valid(number)
    for typed in ("SD-OO1L-ABCD-EFGH-", "sd-o0li-abcd-efgh-", "SD-0OIl-ABCD-EFGH-"):
        assert normalise(typed + number[-1]) == number


@pytest.mark.parametrize(
    "text",
    ["", "SD", "SD-1234-5678-9ABC", "SD-1234-5678-9ABC-DE", "SD-1234-5678-9ABC-U", "XX-1234-5678-9ABC-D1",
     "SD-1234-5678-9AB!-D"],
)
def test_r3_card_number_garbage_is_invalid(text):
    assert not is_valid(text)
    with pytest.raises(InvalidCardNumber):
        normalise(text)


def test_r3_card_number_invalid_is_a_value_error():
    with pytest.raises(ValueError):
        normalise("nonsense")


@given(st.text(min_size=1, max_size=64))
def test_r3_card_number_any_pass_id_gives_a_valid_number(pass_id):
    n = make_card_number(pass_id)
    assert FORMAT.fullmatch(n) and is_valid(n) and normalise(n) == n

"""Who may verify what at POST /api/v1/checkpoint/verify (R3, R4): a scanned QR for anyone (its
signature says everything, as offline with the JWKS), a typed card number only for a signed-in
checkpoint operator — the number alone proves nothing about holding the card."""
from __future__ import annotations

import pytest

from tests.conftest import login
from tests.verify_support import green_pass

VERIFY = "/api/v1/checkpoint/verify"


@pytest.fixture
def green(api, seeded, clock):
    return green_pass(api, seeded, clock)


def test_r3_card_number_without_sign_in_tells_nothing_about_the_card(api, green):
    r = api.post(VERIFY, json={"card_number": green["card_number"], "temperature": 36.5})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "checkpoint" in r.json()["detail"]
    assert "green" not in r.text and "王" not in r.text and "PASS" not in r.text
    # An unknown number gets the same answer: whether a card exists is not revealed either.
    unknown = api.post(VERIFY, json={"card_number": "SD-0000-0000-0000-0", "temperature": 36.5})
    assert unknown.status_code == 401 and unknown.json() == r.json()


@pytest.mark.parametrize("username", ["qingdao-issuer", "province", "admin"])
def test_r3_card_number_is_for_the_checkpoint_role_only(api, green, username):
    r = api.post(VERIFY, json={"card_number": green["card_number"], "temperature": 36.5}, headers=login(api, username))
    assert r.status_code == 403 and "王" not in r.text


def test_r3_checkpoint_operator_verifies_a_card_number(api, green):
    r = api.post(VERIFY, json={"card_number": green["card_number"], "temperature": 36.5}, headers=login(api, "checkpoint"))
    assert r.status_code == 200 and r.json()["result"] == "PASS" and r.json()["masked_name"] == "王*"


def test_r4_a_scanned_qr_stays_verifiable_by_anyone(api, green):
    r = api.post(VERIFY, json={"qr": green["token"], "temperature": 36.5})
    assert r.status_code == 200 and r.json()["result"] == "PASS"


def test_r3_the_card_number_rule_is_published(api):
    op = api.get("/openapi.json").json()["paths"][VERIFY]["post"]
    assert "role `checkpoint`" in op["description"] and "401" in op["responses"] and "403" in op["responses"]

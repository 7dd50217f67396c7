"""What a checkpoint or a browser verifier fetches from the API: the signed revocation list,
CORS on the public documents, and card numbers typed by hand (R3, R4)."""
from __future__ import annotations

import json
from datetime import timedelta

import jwt
import pytest

from cases.codes._b64 import b64u_decode
from tests.conftest import login
from tests.verify_support import green_pass, revoke

PUBLIC = ("/.well-known/jwks.json", "/.well-known/revocations.jws", "/api/v1/passes/revocations")


@pytest.fixture
def green(api, seeded, clock):
    return green_pass(api, seeded, clock)


def test_r4_signed_revocation_list_served_and_verifiable_with_pyjwt(api, green, clock, seeded):
    revoke(api, green["id"], reason="re-decided after a complaint: the applicant is a close contact")
    r = api.get("/.well-known/revocations.jws")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/jose")
    jwks = jwt.PyJWKSet.from_dict(api.get("/.well-known/jwks.json").json())
    kid = jwt.get_unverified_header(r.text)["kid"]
    payload = jwt.api_jws.decode_complete(r.text, jwks[kid].key, algorithms=["ES256"])["payload"]
    body = json.loads(payload)
    now = int(clock.now().timestamp())
    assert body["issued_at"] == now
    assert body["next_update"] == now + 60 * seeded.settings.revocation_list_minutes
    assert [(e["pid"], e["reason"]) for e in body["entries"]] == [(green["id"], "revoked")]
    # The revoker's words stay in the case timeline, not in a public document.
    assert "complaint" not in payload.decode()


def test_r4_expired_revoked_passes_leave_the_signed_list(api, green, clock):
    revoke(api, green["id"])
    clock.advance(timedelta(days=15))  # past the pass's 14 days
    body = json.loads(b64u_decode(api.get("/.well-known/revocations.jws").text.split(".")[1]))
    assert body["entries"] == [] and body["version"] == 1


@pytest.mark.parametrize("path", PUBLIC)
def test_r4_public_keys_and_revocation_lists_allow_any_origin(api, path):
    r = api.get(path, headers={"Origin": "https://verifier.example"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    pre = api.options(path, headers={"Origin": "https://verifier.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "cache-control"})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "GET" in pre.headers["access-control-allow-methods"]
    assert "cache-control" in pre.headers["access-control-allow-headers"].lower()


def test_r4_cors_is_kept_to_the_public_documents(api):
    r = api.post("/api/v1/checkpoint/verify", json={"card_number": "SD-0000-0000-0000-0", "temperature": 36.5}, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = api.get("/api/v1/audit-tasks", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    assert api.options("/api/v1/checkpoint/verify", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}).status_code == 405


def _full_width(text: str) -> str:
    """As a Chinese input method in full-width mode types it (ＳＤ－１２…, ideographic space)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _one_wrong(number: str) -> str:
    last = number[-1]
    return number[:-6] + ("X" if number[-6] != "X" else "Y") + number[-5:-1] + last


def test_r3_card_number_typed_full_width_verifies(api, green):
    checkpoint = login(api, "checkpoint")
    for typed in (_full_width(green["card_number"]), _full_width(green["card_number"]).replace("－", "\u3000"), _full_width(green["card_number"].lower())):
        r = api.post("/api/v1/checkpoint/verify", json={"card_number": typed, "temperature": 36.5}, headers=checkpoint)
        assert r.status_code == 200 and r.json()["result"] == "PASS", (typed, r.text)


def test_r3_card_number_with_one_wrong_character_says_check_the_number(api, green):
    r = api.post("/api/v1/checkpoint/verify", json={"card_number": _one_wrong(green["card_number"]), "temperature": 36.5})
    assert r.status_code == 422, r.text
    text = r.text
    assert "card_number" in text and "check the number" in text and "unknown" not in text
    swapped = green["card_number"]
    body = swapped[3:7]
    if body[0] != body[1]:
        r = api.post("/api/v1/checkpoint/verify", json={"card_number": swapped[:3] + body[1] + body[0] + swapped[5:], "temperature": 36.5})
        assert r.status_code == 422 and "check the number" in r.text
    short = api.post("/api/v1/checkpoint/verify", json={"card_number": green["card_number"][:-2], "temperature": 36.5})
    assert short.status_code == 422 and "check the number" in short.text

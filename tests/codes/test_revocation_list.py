"""The signed revocation list (R4 offline): a JWS any JOSE library verifies; stale or forged
lists are refused; a superseded pass is denied as such."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from joserfc import jws as jose_jws
from joserfc.jwk import ECKey

from cases.codes import build_claims, decide, sign
from cases.codes.keys import SigningKey
from cases.codes.revocation_list import (
    TYP,
    Entry,
    RevocationListError,
    StaleRevocationList,
    reason_code,
    sign_revocation_list,
    verify_revocation_list,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate(now=NOW)


def _list(key, *, entries=(), issued=NOW, period=timedelta(minutes=15)) -> str:
    return sign_revocation_list(entries=entries, version=len(entries), issued_at=issued, next_update=issued + period, key=key)


ENTRIES = (
    Entry("pass-b", "superseded", NOW - timedelta(hours=1)),
    Entry("pass-a", "revoked", NOW - timedelta(hours=2)),
)


def test_r4_revocation_list_verifies_with_joserfc_and_pyjwt(key):
    token = _list(key, entries=ENTRIES)
    # joserfc: the published JWK, nothing of ours.
    obj = jose_jws.deserialize_compact(token, ECKey.import_key(key.public_jwk()), algorithms=["ES256"])
    assert obj.protected == {"alg": "ES256", "kid": key.kid, "typ": TYP}
    payload = json.loads(obj.payload)
    assert payload == {
        "version": 2,
        "issued_at": int(NOW.timestamp()),
        "next_update": int((NOW + timedelta(minutes=15)).timestamp()),
        "entries": [
            {"pid": "pass-a", "reason": "revoked", "revoked_at": int((NOW - timedelta(hours=2)).timestamp())},
            {"pid": "pass-b", "reason": "superseded", "revoked_at": int((NOW - timedelta(hours=1)).timestamp())},
        ],
    }
    # PyJWT from the JWKS form as well.
    pub = jwt.PyJWK(key.public_jwk()).key
    assert jwt.api_jws.decode_complete(token, pub, algorithms=["ES256"])["header"]["kid"] == key.kid
    # And ours: the same entries, reasons kept.
    listed = verify_revocation_list(token, {key.kid: key.public_key}, now=NOW + timedelta(minutes=14))
    assert listed.revoked == {"pass-a": "revoked", "pass-b": "superseded"}
    assert listed.next_update == NOW + timedelta(minutes=15)


def test_r4_a_list_past_its_next_update_is_refused(key):
    token = _list(key, entries=ENTRIES)
    keys = {key.kid: key.public_key}
    with pytest.raises(StaleRevocationList, match="stale"):
        verify_revocation_list(token, keys, now=NOW + timedelta(minutes=15))
    with pytest.raises(StaleRevocationList):
        verify_revocation_list(token, keys, now=NOW + timedelta(days=3))


def test_r4_a_forged_tampered_or_foreign_list_is_refused(key):
    token = _list(key, entries=ENTRIES)
    keys = {key.kid: key.public_key}
    header, payload, signature = token.split(".")
    # Dropping an entry (un-revoking a pass) breaks the signature.
    from cases.codes._b64 import b64u_decode, b64u_encode

    body = json.loads(b64u_decode(payload))
    body["entries"] = body["entries"][:1]
    tampered = ".".join([header, b64u_encode(json.dumps(body).encode()), signature])
    with pytest.raises(RevocationListError, match="signature"):
        verify_revocation_list(tampered, keys, now=NOW)
    other = SigningKey.generate(now=NOW)
    with pytest.raises(RevocationListError, match="unknown key"):
        verify_revocation_list(_list(other, entries=()), keys, now=NOW)
    with pytest.raises(RevocationListError):
        verify_revocation_list('{"version": 1, "revoked": []}', keys, now=NOW)
    # A pass (typ JWT) signed by the same key is not a revocation list.
    a_pass = sign({"version": 1, "issued_at": 0, "next_update": 2**40, "entries": []}, key)
    with pytest.raises(RevocationListError, match="typ"):
        verify_revocation_list(a_pass, keys, now=NOW)


def test_r4_decide_reports_superseded_and_revoked_from_the_list(key):
    listed = verify_revocation_list(_list(key, entries=ENTRIES), {key.kid: key.public_key}, now=NOW)
    keys = {key.kid: key.public_key}

    def token(pid):
        return sign(
            build_claims(pass_id=pid, colour="green", issued_at=NOW - timedelta(days=1), valid_until=NOW + timedelta(days=13), region="370102", name="王五", id_number="370102199001011234", hash_key=b"k" * 32),
            key,
        )

    assert decide(token=token("pass-b"), keys=keys, revoked=listed.revoked, now=NOW, temperature=36.5).reasons == ["superseded"]
    assert decide(token=token("pass-a"), keys=keys, revoked=listed.revoked, now=NOW, temperature=36.5).reasons == ["revoked"]
    assert decide(token=token("pass-c"), keys=keys, revoked=listed.revoked, now=NOW, temperature=36.5).result == "PASS"


def test_r4_published_reason_is_a_code_never_the_free_text():
    assert reason_code("superseded") == "superseded"
    assert reason_code("superseded by yellow pass") == "superseded"
    assert reason_code("re-decided after a complaint: the applicant is a close contact") == "revoked"
    assert reason_code(None) == "revoked"

"""Compact JWS: what we sign verifies with other JOSE libraries, and the reverse (R3)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt as jose_jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from cases.codes.claims import build_claims
from cases.codes.errors import BadSignature, MalformedToken, PassCodeError, UnknownKey
from cases.codes.jws import sign, unverified_header, verify
from cases.codes.keys import KeyStore, SigningKey

HASH_KEY = b"test-hash-key-0123456789abcdef"


def b64d(seg: str) -> bytes:
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(now: datetime, **over) -> dict:
    args = dict(
        pass_id="P-7d1f",
        colour="green",
        issued_at=now,
        valid_until=now + timedelta(days=14),
        region="370102",
        name="欧阳小明",
        id_number="11010519491231002X",
        hash_key=HASH_KEY,
    )
    args.update(over)
    return build_claims(**args)


@pytest.fixture
def store(tmp_path):
    s = KeyStore(tmp_path / "keys")
    s.ensure_active(now=datetime.now(timezone.utc))
    return s


def test_r3_token_verifies_with_pyjwt_from_the_jwks(store):
    now = datetime.now(timezone.utc)
    claims = _claims(now)
    token = sign(claims, store.active())
    jwks = json.loads(json.dumps(store.jwks(now=now, validity=timedelta(days=14))))
    header = pyjwt.get_unverified_header(token)
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    decoded = pyjwt.decode(token, key=pyjwt.PyJWK(jwk), algorithms=["ES256"])
    assert decoded == claims  # PyJWT also checked exp and iat against the real clock


def test_r3_token_verifies_with_joserfc_from_the_jwks(store):
    now = datetime.now(timezone.utc)
    claims = _claims(now)
    token = sign(claims, store.active())
    keyset = KeySet.import_key_set(store.jwks(now=now, validity=timedelta(days=14)))
    tok = jose_jwt.decode(token, keyset, algorithms=["ES256"])
    jose_jwt.JWTClaimsRegistry(now=int(now.timestamp())).validate(tok.claims)
    assert tok.claims == claims
    assert tok.header == {"alg": "ES256", "kid": store.active().kid, "typ": "JWT"}


def test_r3_tampered_token_fails_in_joserfc_too(store):
    now = datetime.now(timezone.utc)
    token = sign(_claims(now, colour="red"), store.active())
    h, p, s = token.split(".")
    forged = f"{h}.{b64e(b64d(p).replace(b'red', b'green', 1))}.{s}"
    keyset = KeySet.import_key_set(store.jwks(now=now, validity=timedelta(days=14)))
    with pytest.raises(BadSignatureError):
        jose_jwt.decode(forged, keyset, algorithms=["ES256"])
    with pytest.raises(BadSignature):
        verify(forged, store.public_keys(now=now, validity=timedelta(days=14)))


def test_r3_token_signed_by_pyjwt_verifies_here():
    now = datetime.now(timezone.utc)
    key = SigningKey.generate(now=now)
    claims = _claims(now)
    token = pyjwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    assert verify(token, {key.kid: key.public_key}) == claims


def test_r3_header_compact_json_and_raw_64_byte_signature():
    now = datetime(2020, 3, 10, tzinfo=timezone.utc)
    key = SigningKey.generate(now=now)
    token = sign(_claims(now), key)
    h, p, s = token.split(".")
    assert "=" not in token
    assert b64d(h) == b'{"alg":"ES256","kid":"%s","typ":"JWT"}' % key.kid.encode()
    assert b", " not in b64d(p) and b": " not in b64d(p)
    sig = b64d(s)
    assert len(sig) == 64
    # R || S as RFC 7518 §3.4: re-encode as DER and check with cryptography directly.
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    key.public_key.verify(der, f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))


def _variants(token: str, key: SigningKey, other: SigningKey) -> list[tuple[str, str, type]]:
    h, p, s = token.split(".")
    none_header = b64e(b'{"alg":"none","kid":"%s"}' % key.kid.encode())
    hs_header = b64e(b'{"alg":"HS256","kid":"%s","typ":"JWT"}' % key.kid.encode())
    crit_header = b64e(b'{"alg":"ES256","kid":"%s","crit":["exp"]}' % key.kid.encode())
    nokid_header = b64e(b'{"alg":"ES256","typ":"JWT"}')
    # A token really signed by another key, but claiming the trusted kid.
    borrowed = sign(json.loads(b64d(p)), SigningKey(key.kid, other.private_key, key.created_at, None, "active"))
    return [
        ("empty", "", MalformedToken),
        ("two segments", f"{h}.{p}", MalformedToken),
        ("four segments", f"{token}.{s}", MalformedToken),
        ("padding", f"{h}.{p}.{s}==", MalformedToken),
        ("standard base64 chars", f"{h}.{p}.{s[:-2]}+/", MalformedToken),
        ("short signature", f"{h}.{p}.{s[:-4]}", MalformedToken),
        ("alg none", f"{none_header}.{p}.", MalformedToken),
        ("alg none with signature", f"{none_header}.{p}.{s}", MalformedToken),
        ("alg HS256", f"{hs_header}.{p}.{s}", MalformedToken),
        ("crit header", f"{crit_header}.{p}.{s}", MalformedToken),
        ("no kid", f"{nokid_header}.{p}.{s}", MalformedToken),
        ("header not json", f"{b64e(b'not json')}.{p}.{s}", MalformedToken),
        ("unknown kid", sign(json.loads(b64d(p)), other), UnknownKey),
        ("payload tampered", f"{h}.{b64e(b64d(p) + b' ')}.{s}", BadSignature),
        ("signature flipped", f"{h}.{p}.{s[:10]}{'A' if s[10] != 'A' else 'B'}{s[11:]}", BadSignature),
        ("signed by another key", borrowed, BadSignature),
        ("huge", "a" * 5000 + f".{p}.{s}", MalformedToken),
    ]


def test_r3_verify_raises_a_distinct_error_per_failure():
    now = datetime(2020, 3, 10, tzinfo=timezone.utc)
    key, other = SigningKey.generate(now=now), SigningKey.generate(now=now)
    token = sign(_claims(now), key)
    keys = {key.kid: key.public_key}
    assert verify(token, keys)["pid"] == "P-7d1f"
    for name, text, error in _variants(token, key, other):
        with pytest.raises(error) as info:
            verify(text, keys)
        assert isinstance(info.value, PassCodeError), name
        assert type(info.value) is error, name


def test_r3_valid_signature_over_non_object_payload_is_malformed():
    now = datetime(2020, 3, 10, tzinfo=timezone.utc)
    key = SigningKey.generate(now=now)
    h = b64e(b'{"alg":"ES256","kid":"%s","typ":"JWT"}' % key.kid.encode())
    for body in (b"[1,2]", b"not json"):
        p = b64e(body)
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        r, s = decode_dss_signature(key.private_key.sign(f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256())))
        token = f"{h}.{p}.{b64e(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
        with pytest.raises(MalformedToken):
            verify(token, {key.kid: key.public_key})


def test_r3_unverified_header_for_diagnostics():
    key = SigningKey.generate(now=datetime(2020, 3, 10, tzinfo=timezone.utc))
    token = sign({"pid": "x"}, key)
    assert unverified_header(token) == {"alg": "ES256", "kid": key.kid, "typ": "JWT"}

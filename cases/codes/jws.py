"""Compact JWS (RFC 7515) with ES256 (RFC 7518 §3.4), on ``cryptography`` alone.

Only what passes need: protected header ``{"alg":"ES256","kid":...,"typ":"JWT"}``,
JSON claims, signature as raw ``R || S`` (64 bytes). Verification is strict:

- the text must be three base64url segments without padding; the signature segment
  is exactly 86 characters (64 bytes);
- ``alg`` must be ``ES256`` (no ``none``, no HMAC, no algorithm confusion); a ``crit``
  header is refused (we understand no extension);
- the signature is checked before the payload is parsed.

Speed: the ECDSA verify dominates (~65 µs here). Parsed headers are cached by their
encoded segment (a handful of distinct headers exist: one per key), the ECDSA
algorithm object is built once, and the payload is decoded once.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Mapping
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ._b64 import b64u_decode, b64u_encode
from .errors import BadSignature, MalformedToken, PassCodeError, UnknownKey
from .keys import SigningKey

__all__ = [
    "sign",
    "verify",
    "unverified_header",
    "PassCodeError",
    "MalformedToken",
    "UnknownKey",
    "BadSignature",
]

_ALG = "ES256"
_ECDSA = ec.ECDSA(hashes.SHA256())
# header.payload.signature; 64 signature bytes are 86 base64url characters.
_COMPACT = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{86})")
_MAX_TOKEN = 4096  # a QR code holds less; refuse anything bigger before parsing


def _dumps(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(claims: dict, key: SigningKey, *, typ: str = "JWT") -> str:
    """Compact JWS of ``claims`` signed with ``key`` (ES256, ``kid`` in the header).

    ``typ`` names the kind of document (explicit typing, RFC 8725 §3.11): passes are
    ``JWT``, the revocation list has its own, so neither can be passed off as the other."""
    header = _encoded_header(key.kid, typ)
    payload = b64u_encode(_dumps(claims))
    signing_input = f"{header}.{payload}".encode("ascii")
    r, s = decode_dss_signature(key.private_key.sign(signing_input, _ECDSA))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{header}.{payload}.{b64u_encode(signature)}"


@lru_cache(maxsize=64)
def _encoded_header(kid: str, typ: str = "JWT") -> str:
    return b64u_encode(_dumps({"alg": _ALG, "kid": kid, "typ": typ}))


@lru_cache(maxsize=256)
def _header_kid(segment: str) -> str:
    """Parse and check a protected header; return its kid. Cached per encoded header."""
    try:
        header = json.loads(b64u_decode(segment))
    except (ValueError, binascii.Error) as exc:
        raise MalformedToken("protected header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise MalformedToken("protected header is not a JSON object")
    if header.get("alg") != _ALG:
        raise MalformedToken(f"unsupported alg {header.get('alg')!r}; only ES256 is accepted")
    if "crit" in header:
        raise MalformedToken("critical header extensions are not supported")
    if header.get("b64", True) is not True:
        raise MalformedToken("unencoded payloads (b64=false) are not supported")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise MalformedToken("protected header has no kid")
    return kid


def unverified_header(token: str) -> dict:
    """The protected header, NOT verified: for diagnostics only."""
    match = _COMPACT.fullmatch(token)
    if match is None:
        raise MalformedToken("not a compact JWS")
    try:
        return json.loads(b64u_decode(match.group(1)))
    except (ValueError, binascii.Error) as exc:
        raise MalformedToken("protected header is not base64url JSON") from exc


def verify(token: str, keys: Mapping[str, ec.EllipticCurvePublicKey], *, max_length: int = _MAX_TOKEN) -> dict:
    """Verify a compact JWS against ``{kid: public key}``; return its claims.

    ``max_length`` bounds the text before any parsing: a pass fits in a QR code; the
    signed revocation list passes a larger bound.

    Raises ``MalformedToken``, ``UnknownKey`` or ``BadSignature`` (all ``PassCodeError``).
    Says nothing about expiry, revocation or colour: that is ``verify.decide``.
    """
    if not isinstance(token, str) or len(token) > max_length:
        raise MalformedToken("not a compact JWS")
    match = _COMPACT.fullmatch(token)
    if match is None:
        raise MalformedToken("not a compact JWS")
    header_seg, payload_seg, sig_seg = match.groups()
    kid = _header_kid(header_seg)
    key = keys.get(kid)
    if key is None:
        raise UnknownKey(f"unknown kid {kid!r}")
    raw = b64u_decode(sig_seg)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, token[: match.end(2)].encode("ascii"), _ECDSA)
    except InvalidSignature:
        raise BadSignature("signature does not verify") from None
    try:
        claims = json.loads(b64u_decode(payload_seg))
    except (ValueError, binascii.Error) as exc:
        raise MalformedToken("payload is not base64url JSON") from exc
    if not isinstance(claims, dict):
        raise MalformedToken("payload is not a JSON object")
    return claims

"""The signed revocation list (R4 offline): which passes a checkpoint must DENY, and until when
that answer is fresh.

A compact JWS (RFC 7515), ES256, signed with the same keys as the passes (``kid`` in the
header, the keys published at ``/.well-known/jwks.json``), protected header
``{"alg": "ES256", "kid": ..., "typ": "sdhp-revocations+jwt"}``. Payload::

    {
      "version": 12,                       # number of revocations in the store (monotonic)
      "issued_at": 1772499600,             # NumericDate (seconds since the epoch, UTC)
      "next_update": 1772500500,           # NumericDate: after this the list is stale
      "entries": [
        {"pid": "…", "reason": "revoked", "revoked_at": 1772490000},
        {"pid": "…", "reason": "superseded", "revoked_at": 1772495000}
      ]
    }

``reason`` is a code, never the revoker's free text (that stays in the case timeline):
``superseded`` (a newer pass of the same person replaced it) or ``revoked`` (any other
revocation: a rejection, a red-list hit, an operator's revoke). Only passes that have not
expired are listed: an expired pass is denied anyway, so the list does not grow forever.

A verifier accepts the list only if the signature verifies under a published key, the
``typ`` is ours, and ``now < next_update``; otherwise it refuses to decide (a checkpoint
never answers PASS on revocation data it cannot trust or that may be out of date).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography.hazmat.primitives.asymmetric import ec

from . import jws
from .errors import PassCodeError
from .keys import SigningKey

__all__ = [
    "MAX_LIST_CHARS",
    "REASONS",
    "TYP",
    "Entry",
    "RevocationList",
    "RevocationListError",
    "StaleRevocationList",
    "reason_code",
    "sign_revocation_list",
    "verify_revocation_list",
]

TYP = "sdhp-revocations+jwt"
REASONS = ("revoked", "superseded")
# ~70 characters per entry: room for about 200,000 unexpired revoked passes.
MAX_LIST_CHARS = 16 * 1024 * 1024


class RevocationListError(PassCodeError):
    """The document is not a revocation list signed by a published key."""


class StaleRevocationList(RevocationListError):
    """Signed correctly, but past its ``next_update``."""


@dataclass(frozen=True)
class Entry:
    pid: str
    reason: str
    revoked_at: datetime


@dataclass(frozen=True)
class RevocationList:
    version: int
    issued_at: datetime
    next_update: datetime
    entries: tuple[Entry, ...]

    @property
    def revoked(self) -> dict[str, str]:
        """``{pass id: reason}``, as :func:`cases.codes.verify.decide` takes it."""
        return {e.pid: e.reason for e in self.entries}


def reason_code(free_text: str | None) -> str:
    """The published code for a stored revoke reason (the free text itself is not published)."""
    return "superseded" if (free_text or "").strip().lower().startswith("superseded") else "revoked"


def _ts(at: datetime) -> int:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    return int(at.timestamp())


def sign_revocation_list(
    *,
    entries: Iterable[Entry],
    version: int,
    issued_at: datetime,
    next_update: datetime,
    key: SigningKey,
) -> str:
    """The compact JWS of the list (entries sorted by pass id, so equal lists sign equal payloads)."""
    if next_update <= issued_at:
        raise ValueError("next_update must be after issued_at")
    rows = []
    for e in sorted(entries, key=lambda e: e.pid):
        if e.reason not in REASONS:
            raise ValueError(f"unknown revocation reason {e.reason!r}")
        rows.append({"pid": e.pid, "reason": e.reason, "revoked_at": _ts(e.revoked_at)})
    payload = {"version": version, "issued_at": _ts(issued_at), "next_update": _ts(next_update), "entries": rows}
    return jws.sign(payload, key, typ=TYP)


def _int(payload: dict, name: str) -> int:
    value = payload.get(name)
    if type(value) is not int:
        raise RevocationListError(f"revocation list: {name} is not an integer")
    return value


def _when(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def verify_revocation_list(
    token: str,
    keys: Mapping[str, ec.EllipticCurvePublicKey],
    *,
    now: datetime,
) -> RevocationList:
    """Verify the signature, the type and the freshness; return the list.

    Raises ``RevocationListError`` (bad signature, unknown key, wrong document, bad fields)
    or its subclass ``StaleRevocationList`` (``now >= next_update``).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if not isinstance(token, str):
        raise RevocationListError("revocation list is not text")
    token = token.strip()
    try:
        payload = jws.verify(token, keys, max_length=MAX_LIST_CHARS)
    except jws.UnknownKey as exc:
        raise RevocationListError(f"revocation list signed by an unknown key ({exc})") from None
    except jws.BadSignature:
        raise RevocationListError("revocation list signature does not verify") from None
    except jws.MalformedToken as exc:
        raise RevocationListError(f"not a signed revocation list ({exc})") from None
    # The header was covered by the signature just checked, so it can be trusted now.
    if jws.unverified_header(token).get("typ") != TYP:
        raise RevocationListError("signed document is not a revocation list (typ)")
    version, issued, next_update = _int(payload, "version"), _int(payload, "issued_at"), _int(payload, "next_update")
    if next_update <= issued:
        raise RevocationListError("revocation list: next_update is not after issued_at")
    rows = payload.get("entries")
    if not isinstance(rows, list):
        raise RevocationListError("revocation list: entries is not a list")
    entries = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("pid"), str) or row.get("reason") not in REASONS:
            raise RevocationListError("revocation list: an entry has no pass id or an unknown reason")
        entries.append(Entry(row["pid"], row["reason"], _when(_int(row, "revoked_at"))))
    if now.timestamp() >= next_update:
        raise StaleRevocationList(
            f"revocation list is stale: next_update {_when(next_update).isoformat()} has passed; fetch a fresh one"
        )
    return RevocationList(version, _when(issued), _when(next_update), tuple(entries))

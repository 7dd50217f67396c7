"""The checkpoint decision (R4), pure: the caller supplies keys, revocation set and clock.

PASS only if the signature is valid under a known key, the pass is not revoked, its
colour is green, ``now`` is inside ``[iat, exp)`` and the temperature is below the
threshold (37.3 °C by default). Otherwise DENY with **every** failing reason.

Reason codes (stable, for the API and the UI):

=============== ===================================================================
malformed       the text is not a pass token (bad shape, encoding, alg, claims)
unknown_key     the ``kid`` is not a trusted key (never ours, or retired long ago)
forged          the signature does not verify: forged or tampered
revoked         the pass id is in the revocation set
superseded      revoked because a newer pass of the same person replaced it
not_yet_valid   ``now < iat``
expired         ``now >= exp``
yellow          colour yellow (observation, R7)
red             colour red
fever           temperature ≥ threshold (or not a number)
=============== ===================================================================

For ``malformed``, ``unknown_key`` and ``forged`` the claims are untrusted: nothing
of them is shown (no colour, name, pass id) and no other claim-based reason is given;
only ``fever`` may join them, since it is measured at the checkpoint.
R1: a pass whose ``crd`` is a legacy card name is shown under the current name.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ec

from .claims import COLOURS, display_card_name
from .errors import BadSignature, MalformedToken, UnknownKey
from .jws import verify as jws_verify
from .qrtext import from_qr_text

__all__ = ["Decision", "decide", "REASONS", "DEFAULT_FEVER_THRESHOLD"]

DEFAULT_FEVER_THRESHOLD = 37.3
REASONS = (
    "malformed",
    "unknown_key",
    "forged",
    "revoked",
    "superseded",
    "not_yet_valid",
    "expired",
    "yellow",
    "red",
    "fever",
)


@dataclass
class Decision:
    result: Literal["PASS", "DENY"]
    reasons: list[str] = field(default_factory=list)
    colour: str | None = None
    valid_until: datetime | None = None
    masked_name: str | None = None
    pass_id: str | None = None
    card_name: str | None = None  # R1: always the current name for a trusted pass
    # The per-pass ID hash, for ``claims.idh_matches``; not shown, not part of equality.
    idh: str | None = field(default=None, compare=False, repr=False)

    @property
    def passed(self) -> bool:
        return self.result == "PASS"


def _untrusted(reason: str, fever: bool) -> Decision:
    return Decision("DENY", [reason, "fever"] if fever else [reason])


def decide(
    *,
    token: str,
    keys: Mapping[str, ec.EllipticCurvePublicKey],
    revoked: Set[str] | Mapping[str, str],
    now: datetime,
    temperature: float,
    fever_threshold: float = DEFAULT_FEVER_THRESHOLD,
    leeway: timedelta = timedelta(0),
) -> Decision:
    """Decide at a checkpoint. ``token`` is the scanned text (``SDHP1:`` prefix optional).

    ``revoked`` is a set of pass ids, or ``{pass id: reason}`` (the signed revocation
    list's entries): a reason ``superseded`` is reported as such, any other as ``revoked``.

    ``leeway`` (default 0) tolerates a checkpoint clock that is behind the issuer's:
    a pass counts as not yet valid only when ``now + leeway < iat``. It never extends
    ``exp``.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    # NaN or a missing reading is not "normal temperature".
    fever = not (temperature < fever_threshold)
    try:
        claims = jws_verify(from_qr_text(token) if isinstance(token, str) else token, keys)
    except BadSignature:
        return _untrusted("forged", fever)
    except UnknownKey:
        return _untrusted("unknown_key", fever)
    except MalformedToken:
        return _untrusted("malformed", fever)

    pid = claims.get("pid")
    colour = claims.get("col")
    iat = claims.get("iat")
    exp = claims.get("exp")
    if (
        not isinstance(pid, str)
        or colour not in COLOURS
        or type(iat) is not int
        or type(exp) is not int
    ):
        # Signed by a trusted key but not a pass of ours: show nothing from it.
        return _untrusted("malformed", fever)

    reasons: list[str] = []
    if pid in revoked:
        why = revoked[pid] if isinstance(revoked, Mapping) else "revoked"
        reasons.append("superseded" if why == "superseded" else "revoked")
    ts = now.timestamp()
    if ts + leeway.total_seconds() < iat:
        reasons.append("not_yet_valid")
    if ts >= exp:
        reasons.append("expired")
    if colour != "green":
        reasons.append(colour)
    if fever:
        reasons.append("fever")
    name = claims.get("nam")
    return Decision(
        "DENY" if reasons else "PASS",
        reasons,
        colour=colour,
        valid_until=datetime.fromtimestamp(exp, timezone.utc),
        masked_name=name if isinstance(name, str) else None,
        pass_id=pid,
        card_name=display_card_name(claims.get("crd")),
        idh=claims.get("idh") if isinstance(claims.get("idh"), str) else None,
    )

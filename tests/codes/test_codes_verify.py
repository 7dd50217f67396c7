"""Checkpoint decision (R4): PASS only when everything holds; DENY lists every reason."""

from __future__ import annotations

import base64
import inspect
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from cases.codes._bench import bench
from cases.codes.claims import CARD_NAME, build_claims
from cases.codes.jws import sign
from cases.codes.keys import SigningKey
from cases.codes.qrtext import QR_PREFIX, from_qr_text, to_qr_text
from cases.codes.verify import REASONS, Decision, decide

SHANGHAI = ZoneInfo("Asia/Shanghai")
ISSUED = datetime(2020, 3, 10, 9, 0, tzinfo=SHANGHAI)
VALIDITY = timedelta(days=14)
HASH_KEY = b"test-hash-key-0123456789abcdef"
KEY = SigningKey.generate(now=ISSUED)
OTHER = SigningKey.generate(now=ISSUED)
KEYS = {KEY.kid: KEY.public_key}


def _token(*, key=KEY, **over) -> str:
    args = dict(
        pass_id="P-100",
        colour="green",
        issued_at=ISSUED,
        valid_until=ISSUED + VALIDITY,
        region="3702",
        name="张小三",
        id_number="11010519491231002X",
        hash_key=HASH_KEY,
    )
    args.update(over)
    return sign(build_claims(**args), key)


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _tampered(colour_from="red", colour_to="green") -> str:
    h, p, s = _token(colour=colour_from).split(".")
    body = base64.urlsafe_b64decode(p + "==").replace(colour_from.encode(), colour_to.encode(), 1)
    return f"{h}.{_b64e(body)}.{s}"


def _borrowed_kid() -> str:
    """Signed with another key but naming the trusted kid: a forgery."""
    impostor = SigningKey(KEY.kid, OTHER.private_key, ISSUED, None, "active")
    return _token(key=impostor)


DAY1 = ISSUED + timedelta(days=1)
EXPIRED_AT = ISSUED + VALIDITY

# (name, token, revoked, now, temperature, expected result, expected reasons)
CASES = [
    ("valid green", _token(), set(), DAY1, 36.6, "PASS", []),
    ("last second", _token(), set(), ISSUED + VALIDITY - timedelta(seconds=1), 36.6, "PASS", []),
    ("first second", _token(), set(), ISSUED, 36.6, "PASS", []),
    ("just below threshold", _token(), set(), DAY1, 37.29, "PASS", []),
    ("tampered payload", _tampered(), set(), DAY1, 36.6, "DENY", ["forged"]),
    ("tampered and hot", _tampered(), set(), DAY1, 38.5, "DENY", ["forged", "fever"]),
    ("wrong key same kid", _borrowed_kid(), set(), DAY1, 36.6, "DENY", ["forged"]),
    ("unknown kid", _token(key=OTHER), set(), DAY1, 36.6, "DENY", ["unknown_key"]),
    ("unknown kid and hot", _token(key=OTHER), set(), DAY1, 39.0, "DENY", ["unknown_key", "fever"]),
    ("not a token", "https://example.com/not-a-pass", set(), DAY1, 36.6, "DENY", ["malformed"]),
    ("expired", _token(), set(), EXPIRED_AT, 36.6, "DENY", ["expired"]),
    ("not yet valid", _token(), set(), ISSUED - timedelta(seconds=1), 36.6, "DENY", ["not_yet_valid"]),
    ("revoked", _token(), {"P-100"}, DAY1, 36.6, "DENY", ["revoked"]),
    ("other pass revoked", _token(), {"P-999"}, DAY1, 36.6, "PASS", []),
    ("yellow", _token(colour="yellow"), set(), DAY1, 36.6, "DENY", ["yellow"]),
    ("red", _token(colour="red"), set(), DAY1, 36.6, "DENY", ["red"]),
    ("fever at threshold", _token(), set(), DAY1, 37.3, "DENY", ["fever"]),
    ("fever", _token(), set(), DAY1, 38.2, "DENY", ["fever"]),
    ("no reading (NaN)", _token(), set(), DAY1, float("nan"), "DENY", ["fever"]),
    (
        "expired and fever and yellow",
        _token(colour="yellow"),
        set(),
        EXPIRED_AT + timedelta(days=3),
        38.0,
        "DENY",
        ["expired", "yellow", "fever"],
    ),
    (
        "everything wrong",
        _token(colour="red"),
        {"P-100"},
        EXPIRED_AT,
        40.0,
        "DENY",
        ["revoked", "expired", "red", "fever"],
    ),
]


@pytest.mark.parametrize(
    ("token", "revoked", "now", "temperature", "result", "reasons"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_r4_checkpoint_denies_every_failing_reason(token, revoked, now, temperature, result, reasons):
    decision = decide(token=token, keys=KEYS, revoked=revoked, now=now, temperature=temperature)
    assert decision.result == result
    assert decision.reasons == reasons
    assert set(decision.reasons) <= set(REASONS)
    trusted = not {"forged", "unknown_key", "malformed"} & set(reasons)
    if trusted:
        assert decision.colour in ("green", "yellow", "red")
        assert decision.masked_name == "张*三"
        assert decision.pass_id == "P-100"
        assert decision.valid_until == (ISSUED + VALIDITY).astimezone(timezone.utc)
        assert decision.card_name == CARD_NAME
    else:
        # Untrusted claims are never shown.
        assert decision.colour is None and decision.masked_name is None
        assert decision.pass_id is None and decision.valid_until is None


def test_r4_pass_requires_all_conditions_together():
    ok = decide(token=_token(), keys=KEYS, revoked=frozenset(), now=DAY1, temperature=36.0)
    assert ok == Decision("PASS", [], "green", (ISSUED + VALIDITY).astimezone(timezone.utc), "张*三", "P-100", CARD_NAME)
    assert ok.passed


def test_r4_fever_threshold_is_configurable():
    hot = dict(token=_token(), keys=KEYS, revoked=set(), now=DAY1, temperature=37.4)
    assert decide(**hot).reasons == ["fever"]
    assert decide(**hot, fever_threshold=37.5).result == "PASS"


def test_r4_leeway_only_tolerates_a_clock_behind_the_issuer():
    early = ISSUED - timedelta(seconds=30)
    args = dict(token=_token(), keys=KEYS, revoked=set(), temperature=36.5)
    assert decide(**args, now=early).reasons == ["not_yet_valid"]
    assert decide(**args, now=early, leeway=timedelta(minutes=1)).result == "PASS"
    assert decide(**args, now=EXPIRED_AT, leeway=timedelta(minutes=1)).reasons == ["expired"]


def test_r4_naive_now_is_refused():
    with pytest.raises(ValueError):
        decide(token=_token(), keys=KEYS, revoked=set(), now=datetime(2020, 3, 11), temperature=36.5)


def test_r4_qr_prefix_is_optional():
    token = _token()
    assert to_qr_text(token) == "SDHP1:" + token == QR_PREFIX + token
    for text in (token, to_qr_text(token), " sdhp1:" + token + "\n", to_qr_text(token) + "\r\n"):
        assert from_qr_text(text) == token
        assert decide(token=text, keys=KEYS, revoked=set(), now=DAY1, temperature=36.5).result == "PASS"
    # A case change inside the JWS breaks it: only the prefix is case-insensitive.
    bad = decide(token="SDHP1:" + token.swapcase(), keys=KEYS, revoked=set(), now=DAY1, temperature=36.5)
    assert bad.result == "DENY"


def test_r4_signed_but_not_a_pass_is_malformed_and_shows_nothing():
    token = sign({"pid": "P-1", "col": "purple", "iat": 1, "exp": 2**40, "nam": "X*"}, KEY)
    d = decide(token=token, keys=KEYS, revoked=set(), now=DAY1, temperature=38.0)
    assert d.reasons == ["malformed", "fever"] and d.colour is None and d.masked_name is None
    token = sign({"pid": "P-1", "col": "green", "iat": "1", "exp": 2**40}, KEY)
    assert decide(token=token, keys=KEYS, revoked=set(), now=DAY1, temperature=36.0).reasons == ["malformed"]


def test_r1_pass_issued_under_the_old_card_name_verifies_under_the_new_name():
    token = _token(card_name="Health Pass Card for Returned Overseas Students")
    d = decide(token=token, keys=KEYS, revoked=set(), now=DAY1, temperature=36.5)
    assert d.result == "PASS"
    assert d.card_name == "Shandong Health Pass Card"


def test_r2_validity_fourteen_days():
    token = _token()  # valid_until = issued_at + 14 days
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["exp"] - claims["iat"] == 14 * 86400
    at = ISSUED + timedelta(days=13, hours=23, minutes=59, seconds=59)
    assert decide(token=token, keys=KEYS, revoked=set(), now=at, temperature=36.5).result == "PASS"
    at = ISSUED + timedelta(days=14)
    assert decide(token=token, keys=KEYS, revoked=set(), now=at, temperature=36.5).reasons == ["expired"]


def test_r2_valid_province_wide_no_checkpoint_region():
    # A pass issued in any city passes anywhere: the decision takes no checkpoint region.
    assert "region" not in " ".join(inspect.signature(decide).parameters)
    for region in ("3701", "3702", "3717", "37"):
        d = decide(token=_token(region=region), keys=KEYS, revoked=set(), now=DAY1, temperature=36.5)
        assert d.result == "PASS"


def test_r4_checkpoint_decide_is_at_least_half_raw_verify_speed():
    result = bench(n=600, repeat=3)
    assert set(result) >= {"raw_verify_per_s", "decide_per_s"}
    assert result["decide_per_s"] >= 0.5 * result["raw_verify_per_s"], result

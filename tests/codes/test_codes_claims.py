"""Claims: minimal, masked, keyed hash; never raw ID, phone, address or health data."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.codes.claims import (
    CARD_NAME,
    CLAIM_KEYS,
    build_claims,
    checkpoint_idh_key,
    display_card_name,
    id_hash,
    mask_name,
    pass_id_hash,
)
from cases.codes.jws import sign
from cases.codes.keys import SigningKey

HASH_KEY = b"test-hash-key-0123456789abcdef"
NOW = datetime(2020, 3, 10, 9, 30, tzinfo=timezone.utc)
ID_NUMBER = "11010519491231002X"
PHONE = "13912345678"
ADDRESS = "济南市历下区泉城路1号"


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("张小三", "张*三"),
        ("欧阳小明", "欧**明"),
        ("司马相如", "司**如"),
        (" 张 小 三 ", "张 * 三"),
        ("买买提·艾力", "买**·*力"),
        ("张", "*"),
        ("John Smith", "J*** S****"),
        ("  john   smith ", "j*** s****"),
        ("Mary-Jane O'Neil", "M***-J*** O'N***"),
        ("J K", "* *"),
        ("Li", "L*"),
    ],
)
def test_r4_mask_name_table(name, masked):
    assert mask_name(name) == masked


@given(st.text(min_size=1, max_size=30))
def test_r4_mask_name_never_returns_the_full_name(name):
    try:
        masked = mask_name(name)
    except ValueError:
        return  # empty, or separators only: refused, never echoed
    assert masked != " ".join(name.split())
    assert "*" in masked


def test_r4_mask_name_refuses_empty():
    for empty in ("   ", "", ".", "·", "- '"):
        with pytest.raises(ValueError):
            mask_name(empty)


def test_r4_id_hash_normalises_case_and_whitespace_and_depends_on_key():
    h = id_hash(ID_NUMBER, key=HASH_KEY)
    assert h == id_hash(" 11010519491231002x ", key=HASH_KEY)
    assert h == id_hash("110105 19491231 002X", key=HASH_KEY)
    assert h == id_hash("１１０１０５１９４９１２３１００２Ｘ", key=HASH_KEY)  # full-width digits
    assert h != id_hash("110105194912310011", key=HASH_KEY)
    assert h != id_hash(ID_NUMBER, key=HASH_KEY + b"!")
    assert len(h) == 43 and "=" not in h
    base64.urlsafe_b64decode(h + "=")  # base64url
    assert ID_NUMBER not in h


def test_r4_id_hash_requires_a_real_key():
    with pytest.raises(ValueError):
        id_hash(ID_NUMBER, key=b"short")


def _claims(**over):
    args = dict(
        pass_id="P-0001",
        colour="green",
        issued_at=NOW,
        valid_until=NOW + timedelta(days=14),
        region="370102",
        name="张小三",
        id_number=ID_NUMBER,
        hash_key=HASH_KEY,
    )
    args.update(over)
    return build_claims(**args)


def test_r4_build_claims_has_exactly_the_minimal_keys():
    claims = _claims()
    assert set(claims) == CLAIM_KEYS == {"pid", "col", "iat", "exp", "reg", "nam", "idh", "crd"}
    assert claims == {
        "pid": "P-0001",
        "col": "green",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(days=14)).timestamp()),
        "reg": "370102",
        "nam": "张*三",
        "idh": pass_id_hash(pass_id="P-0001", id_number=ID_NUMBER, key=checkpoint_idh_key(HASH_KEY)),
        "crd": CARD_NAME,
    }
    assert claims["idh"] != id_hash(ID_NUMBER, key=HASH_KEY)  # not the store's applicant.id_hash
    assert all(type(claims[k]) is int for k in ("iat", "exp"))


def test_r4_token_never_contains_raw_id_phone_or_address():
    claims = _claims()
    key = SigningKey.generate(now=NOW)
    token = sign(claims, key)
    payload = base64.urlsafe_b64decode(token.split(".")[1] + "==").decode("utf-8")
    for secret in (ID_NUMBER, ID_NUMBER.lower(), ID_NUMBER[:17], "19491231", PHONE, ADDRESS, "张小三"):
        assert secret not in payload
        assert secret not in token
        assert secret not in json.dumps(claims, ensure_ascii=False)
    # No health data either: temperature, symptoms and history are not parameters at all.
    for word in ("temp", "symptom", "phone", "addr", "history", "contact"):
        assert word not in payload.lower()


def test_r2_validity_fourteen_days_in_the_claims():
    claims = _claims(valid_until=NOW + timedelta(days=14))
    assert claims["exp"] - claims["iat"] == 14 * 24 * 3600


def test_r2_region_is_the_issuer_not_a_scope():
    for region in ("37", "3701", "370102"):
        assert _claims(region=region)["reg"] == region
    for bad in ("", "3", "370", "37010", "3701021", "SD"):
        with pytest.raises(ValueError):
            _claims(region=bad)


@pytest.mark.parametrize(
    "over",
    [
        {"colour": "blue"},
        {"colour": "GREEN"},
        {"pass_id": ""},
        {"issued_at": datetime(2020, 3, 10, 9, 30)},
        {"valid_until": datetime(2020, 3, 24, 9, 30)},
        {"valid_until": NOW},
        {"valid_until": NOW - timedelta(days=1)},
    ],
)
def test_r4_build_claims_refuses_bad_input(over):
    with pytest.raises(ValueError):
        _claims(**over)


def test_r1_legacy_card_name_displays_as_the_new_name():
    assert display_card_name("Health Pass Card for Returned Overseas Students") == CARD_NAME
    assert display_card_name("留学回国人员健康通行卡") == CARD_NAME
    assert display_card_name(CARD_NAME) == CARD_NAME
    assert _claims(card_name="Health Pass Card for Returned Overseas Students")["crd"] == (
        "Health Pass Card for Returned Overseas Students"
    )

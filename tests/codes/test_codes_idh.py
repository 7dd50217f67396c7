"""The per-pass ``idh`` claim (R2, R4 privacy): a checkpoint that holds the checkpoint key can
check an ID document against a pass, yet two passes of one person carry unrelated values and
none equals the store's ``applicant.id_hash``."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cases.codes import SigningKey, decide, sign
from cases.codes.claims import (
    build_claims,
    checkpoint_idh_key,
    id_hash,
    idh_matches,
    pass_id_hash,
)
from cases.validation import hash_id_number, resident_id_check_char

SECRET = b"test-idhash-secret-0123456789abcdef"
NOW = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
ID_NUMBER = "37010219900101123" + resident_id_check_char("37010219900101123")
OTHER_ID = "37020219851231002" + resident_id_check_char("37020219851231002")


def claims_for(pass_id: str, id_number: str = ID_NUMBER) -> dict:
    return build_claims(pass_id=pass_id, colour="green", issued_at=NOW, valid_until=NOW + timedelta(days=14), region="370102", name="张小三", id_number=id_number, hash_key=SECRET)


def test_r2_two_passes_of_one_person_cannot_be_linked_by_idh():
    first, second = claims_for("a" * 32), claims_for("b" * 32)
    assert first["idh"] != second["idh"]
    store_hash = hash_id_number(ID_NUMBER, key=SECRET)  # applicant.id_hash
    assert store_hash not in (first["idh"], second["idh"])
    assert id_hash(ID_NUMBER, key=SECRET) not in (first["idh"], second["idh"])


@pytest.mark.parametrize("typed", [ID_NUMBER, ID_NUMBER.lower(), f" {ID_NUMBER[:6]} {ID_NUMBER[6:14]} {ID_NUMBER[14:]} ", ID_NUMBER.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})])
def test_r4_checkpoint_matches_the_id_document_of_the_pass_as_typed(typed):
    assert idh_matches(claims_for("a" * 32), typed, key=checkpoint_idh_key(SECRET)) is True


def test_r4_another_persons_document_or_the_wrong_key_does_not_match():
    key = checkpoint_idh_key(SECRET)
    claims = claims_for("a" * 32)
    assert idh_matches(claims, OTHER_ID, key=key) is False
    assert idh_matches(claims, "", key=key) is False
    assert idh_matches(claims, "\ud800", key=key) is False  # not encodable: no match, no error
    assert idh_matches(claims, ID_NUMBER, key=checkpoint_idh_key(SECRET + b"!")) is False
    # The pass id is part of the hash: another pass's idh copied in does not match.
    assert idh_matches({**claims, "idh": claims_for("b" * 32)["idh"]}, ID_NUMBER, key=key) is False


def test_r4_a_pass_with_the_old_person_wide_idh_cannot_tell():
    old = {**claims_for("a" * 32), "idh": id_hash(ID_NUMBER, key=SECRET)}
    assert idh_matches(old, ID_NUMBER, key=checkpoint_idh_key(SECRET)) is None
    assert idh_matches({k: v for k, v in old.items() if k != "idh"}, ID_NUMBER, key=checkpoint_idh_key(SECRET)) is None


def test_r4_the_checkpoint_key_is_not_the_store_key_and_the_construction_is_as_documented():
    import base64
    import hashlib
    import hmac

    key = checkpoint_idh_key(SECRET)
    assert key != SECRET and key == hmac.new(SECRET, b"SDHP idh checkpoint key v2", hashlib.sha256).digest()
    digest = hmac.new(key, b"SDHP-idh-v2\x00" + b"P1\x00" + ID_NUMBER.encode(), hashlib.sha256).digest()
    assert pass_id_hash(pass_id="P1", id_number=ID_NUMBER, key=key) == "2." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_r4_decision_carries_idh_for_the_check_but_does_not_show_it():
    signing = SigningKey.generate(now=NOW)
    token = sign(claims_for("a" * 32), signing)
    d = decide(token=token, keys={signing.kid: signing.public_key}, revoked=set(), now=NOW + timedelta(hours=1), temperature=36.5)
    assert d.result == "PASS" and "idh" not in repr(d)
    assert idh_matches({"pid": d.pass_id, "idh": d.idh}, ID_NUMBER, key=checkpoint_idh_key(SECRET)) is True

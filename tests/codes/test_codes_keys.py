"""Signing keys: RFC 7638 kid, files on disk, rotation and the JWKS window (R2, R3)."""

from __future__ import annotations

import json
import stat
import threading
from datetime import datetime, timedelta, timezone

import pytest
from joserfc.jwk import ECKey

from cases.codes.claims import build_claims
from cases.codes.errors import KeyStoreError, UnknownKey
from cases.codes.jws import sign, verify
from cases.codes.keys import KeyStore, SigningKey, jwk_thumbprint, keys_from_jwks
from cases.codes.verify import decide

T0 = datetime(2020, 3, 1, 8, 0, tzinfo=timezone.utc)
VALIDITY = timedelta(days=14)
HASH_KEY = b"test-hash-key-0123456789abcdef"


def _token(key: SigningKey, issued_at: datetime) -> str:
    return sign(
        build_claims(
            pass_id="P-1",
            colour="green",
            issued_at=issued_at,
            valid_until=issued_at + VALIDITY,
            region="3701",
            name="张小三",
            id_number="11010519491231002X",
            hash_key=HASH_KEY,
        ),
        key,
    )


def test_r3_first_key_is_created_once_and_persists(tmp_path):
    store = KeyStore(tmp_path / "keys")
    key = store.ensure_active(now=T0)
    assert store.ensure_active(now=T0 + timedelta(days=1)).kid == key.kid
    again = KeyStore(tmp_path / "keys").active()
    assert again.kid == key.kid
    assert again.private_key.private_numbers() == key.private_key.private_numbers()
    assert again.created_at == T0 and again.retired_at is None and again.status == "active"


def test_r3_kid_is_rfc7638_thumbprint(tmp_path):
    key = KeyStore(tmp_path).ensure_active(now=T0)
    jwk = key.public_jwk()
    assert jwk["kid"] == key.kid == jwk_thumbprint(key.public_key)
    # An independent implementation computes the same thumbprint.
    assert ECKey.import_key({k: jwk[k] for k in ("kty", "crv", "x", "y")}).thumbprint() == key.kid
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("EC", "P-256", "sig", "ES256")
    assert "d" not in jwk


def test_r3_private_key_file_mode_0600_and_directory_0700(tmp_path):
    directory = tmp_path / "keys"
    store = KeyStore(directory)
    key = store.ensure_active(now=T0)
    store.rotate(now=T0 + timedelta(days=1))
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    pems = sorted(directory.glob("*.pem"))
    assert len(pems) == 2 and directory / f"{key.kid}.pem" in pems
    for pem in pems:
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600
        assert pem.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    # No temporary file is left behind by the atomic writes.
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_r3_metadata_file_lists_kid_dates_and_status(tmp_path):
    store = KeyStore(tmp_path)
    first = store.ensure_active(now=T0)
    second = store.rotate(now=T0 + timedelta(days=3))
    meta = json.loads((tmp_path / "keys.json").read_text())
    assert meta["keys"] == [
        {
            "kid": first.kid,
            "created_at": "2020-03-01T08:00:00+00:00",
            "retired_at": "2020-03-04T08:00:00+00:00",
            "status": "retired",
        },
        {
            "kid": second.kid,
            "created_at": "2020-03-04T08:00:00+00:00",
            "retired_at": None,
            "status": "active",
        },
    ]


def test_r2_rotated_key_stays_published_until_its_last_pass_expires(tmp_path):
    store = KeyStore(tmp_path)
    old = store.ensure_active(now=T0)
    signed_at = T0 + timedelta(days=5)
    token = _token(old, signed_at)  # the last pass the old key signs
    rotated_at = signed_at + timedelta(seconds=1)
    new = store.rotate(now=rotated_at)
    assert new.kid != old.kid and store.active().kid == new.kid

    def published(at):
        return [k["kid"] for k in store.jwks(now=at, validity=VALIDITY)["keys"]]

    # Still published (and the pass still verifies) until retired_at + validity.
    just_before = rotated_at + VALIDITY - timedelta(seconds=1)
    assert published(just_before) == [old.kid, new.kid]
    keys = store.public_keys(now=just_before, validity=VALIDITY)
    assert verify(token, keys)["pid"] == "P-1"
    assert decide(token=token, keys=keys, revoked=set(), now=signed_at + timedelta(days=13),
                  temperature=36.5).result == "PASS"
    # The pass itself expired before the key left the JWKS.
    assert signed_at + VALIDITY <= rotated_at + VALIDITY

    # Then the old key disappears from the JWKS and the old pass no longer verifies.
    gone = rotated_at + VALIDITY
    assert published(gone) == [new.kid]
    keys_after = store.public_keys(now=gone, validity=VALIDITY)
    assert set(keys_after) == {new.kid}
    with pytest.raises(UnknownKey):
        verify(token, keys_after)
    # The private key stays on record (audit), only publication ends.
    assert [k.kid for k in store.all_keys()] == [old.kid, new.kid]


def test_r3_jwks_round_trips_to_public_keys(tmp_path):
    store = KeyStore(tmp_path)
    store.ensure_active(now=T0)
    store.rotate(now=T0 + timedelta(hours=1))
    at = T0 + timedelta(days=1)
    jwks = json.loads(json.dumps(store.jwks(now=at, validity=VALIDITY)))
    loaded = keys_from_jwks(jwks)
    direct = store.public_keys(now=at, validity=VALIDITY)
    assert set(loaded) == set(direct)
    for kid, key in loaded.items():
        assert key.public_numbers() == direct[kid].public_numbers()


def test_r3_jwks_with_a_borrowed_kid_is_refused(tmp_path):
    real = KeyStore(tmp_path / "a").ensure_active(now=T0)
    other = SigningKey.generate(now=T0)
    jwk = other.public_jwk() | {"kid": real.kid}
    with pytest.raises(KeyStoreError):
        keys_from_jwks({"keys": [jwk]})


def test_r3_naive_datetimes_are_refused(tmp_path):
    store = KeyStore(tmp_path)
    with pytest.raises(ValueError):
        store.ensure_active(now=datetime(2020, 3, 1, 8, 0))
    store.ensure_active(now=T0)
    with pytest.raises(ValueError):
        store.rotate(now=datetime(2020, 3, 2))
    with pytest.raises(ValueError):
        store.jwks(now=datetime(2020, 3, 2), validity=VALIDITY)


def test_r3_no_active_key_is_an_error_not_a_silent_creation(tmp_path):
    with pytest.raises(KeyStoreError):
        KeyStore(tmp_path / "empty").active()
    assert not (tmp_path / "empty").exists()


def test_r3_concurrent_ensure_active_creates_one_key(tmp_path):
    kids: list[str] = []
    barrier = threading.Barrier(8)

    def worker():
        store = KeyStore(tmp_path)
        barrier.wait()
        kids.append(store.ensure_active(now=T0).kid)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(kids)) == 1
    assert len(list(tmp_path.glob("*.pem"))) == 1


def test_r3_passphrase_encrypts_private_keys(tmp_path):
    store = KeyStore(tmp_path, passphrase=b"correct horse battery staple")
    key = store.ensure_active(now=T0)
    assert b"ENCRYPTED" in (tmp_path / f"{key.kid}.pem").read_bytes()
    reopened = KeyStore(tmp_path, passphrase=b"correct horse battery staple").active()
    assert reopened.kid == key.kid
    with pytest.raises(KeyStoreError):
        KeyStore(tmp_path).active()  # no passphrase given for an encrypted key


def test_r3_a_rotation_by_another_process_is_seen(tmp_path):
    reader = KeyStore(tmp_path)
    first = KeyStore(tmp_path).ensure_active(now=T0)
    assert reader.active().kid == first.kid
    second = KeyStore(tmp_path).rotate(now=T0 + timedelta(days=1))
    assert reader.active().kid == second.kid


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '{"keys": [{"kid": "a"}]}',
        '{"keys": [{"kid": "a", "created_at": "2020-03-01T08:00:00", "retired_at": null, "status": "active"}]}',
        '{"keys": [{"kid": "a", "created_at": "2020-03-01T08:00:00+00:00", "retired_at": null, "status": "retired"}]}',
        '{"keys": [{"kid": "a", "created_at": "2020-03-01T08:00:00+00:00", "retired_at": null, "status": "active"},'
        ' {"kid": "b", "created_at": "2020-03-01T08:00:00+00:00", "retired_at": null, "status": "active"}]}',
    ],
)
def test_r3_corrupt_metadata_is_a_keystore_error(tmp_path, body):
    (tmp_path / "keys.json").write_text(body)
    with pytest.raises(KeyStoreError):
        KeyStore(tmp_path).active()


def test_r3_tampered_private_key_file_is_detected(tmp_path):
    store = KeyStore(tmp_path)
    key = store.ensure_active(now=T0)
    other = SigningKey.generate(now=T0)
    from cryptography.hazmat.primitives import serialization

    (tmp_path / f"{key.kid}.pem").write_bytes(
        other.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(KeyStoreError):
        KeyStore(tmp_path).active()

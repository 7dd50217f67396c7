"""ES256 (P-256) signing keys on disk, with rotation and a JWKS (RFC 7517).

Layout of the key directory (mode 0700)::

    keys.json          metadata: [{kid, created_at, retired_at, status}], newest last
    <kid>.pem          PKCS#8 private key, mode 0600 (encrypted if a passphrase is given)
    .lock              advisory lock for read-modify-write (ensure_active, rotate)

``kid`` is the RFC 7638 JWK thumbprint (base64url SHA-256 of the canonical public JWK),
as SMART Health Cards do. Every write goes to a temporary file in the same directory,
is fsynced and then renamed over the target, so a reader never sees half a file.

A retired key stays in the JWKS while ``retired_at + validity`` is in the future:
a pass it signed just before rotation is valid for ``validity`` at most (R2).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ._b64 import b64u_decode, b64u_encode
from .errors import KeyStoreError

__all__ = [
    "SigningKey",
    "KeyStore",
    "jwk_thumbprint",
    "public_jwk",
    "public_key_from_jwk",
    "keys_from_jwks",
]

STATUS_ACTIVE = "active"
STATUS_RETIRED = "retired"
_META = "keys.json"
_LOCK = ".lock"


def _require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat()


def _parse_iso(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    _require_aware("stored timestamp", parsed)
    return parsed


def _coords(public_key: ec.EllipticCurvePublicKey) -> tuple[str, str]:
    numbers = public_key.public_numbers()
    return b64u_encode(numbers.x.to_bytes(32, "big")), b64u_encode(numbers.y.to_bytes(32, "big"))


def jwk_thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order."""
    x, y = _coords(public_key)
    canonical = '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' % (x, y)
    return b64u_encode(hashlib.sha256(canonical.encode("ascii")).digest())


def public_jwk(public_key: ec.EllipticCurvePublicKey, kid: str | None = None) -> dict:
    """Public JWK of a P-256 key with ``use: sig`` and ``alg: ES256``."""
    if not isinstance(public_key.curve, ec.SECP256R1):
        raise KeyStoreError("only P-256 keys are used for ES256")
    x, y = _coords(public_key)
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": x,
        "y": y,
        "kid": kid or jwk_thumbprint(public_key),
        "use": "sig",
        "alg": "ES256",
    }


_jwk_cache: dict[tuple[str, str], ec.EllipticCurvePublicKey] = {}


def public_key_from_jwk(jwk: dict) -> ec.EllipticCurvePublicKey:
    """Load a public P-256 JWK; parsed keys are cached by their coordinates."""
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise KeyStoreError("expected an EC P-256 JWK")
    if jwk.get("alg", "ES256") != "ES256" or jwk.get("use", "sig") != "sig":
        raise KeyStoreError("JWK is not an ES256 signature key")
    cache_key = (jwk["x"], jwk["y"])
    key = _jwk_cache.get(cache_key)
    if key is None:
        x = int.from_bytes(b64u_decode(jwk["x"]), "big")
        y = int.from_bytes(b64u_decode(jwk["y"]), "big")
        # Raises ValueError for a point not on the curve.
        key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        if len(_jwk_cache) > 1024:
            _jwk_cache.clear()
        _jwk_cache[cache_key] = key
    return key


def keys_from_jwks(jwks: dict) -> dict[str, ec.EllipticCurvePublicKey]:
    """``{kid: public key}`` from a JWKS, for a checkpoint that synced ``/.well-known/jwks.json``.

    A key whose ``kid`` is not its RFC 7638 thumbprint is rejected: the kid is not a
    free label here, so a substituted key cannot borrow a trusted kid.
    """
    out: dict[str, ec.EllipticCurvePublicKey] = {}
    for jwk in jwks.get("keys", []):
        key = public_key_from_jwk(jwk)
        kid = jwk.get("kid")
        if kid != jwk_thumbprint(key):
            raise KeyStoreError(f"kid {kid!r} is not the RFC 7638 thumbprint of its key")
        out[kid] = key
    return out


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    created_at: datetime
    retired_at: datetime | None
    status: str

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict:
        return public_jwk(self.public_key, self.kid)

    @classmethod
    def generate(cls, *, now: datetime) -> SigningKey:
        """A fresh in-memory key (tests, tools); KeyStore persists the ones in use."""
        _require_aware("now", now)
        private = ec.generate_private_key(ec.SECP256R1())
        return cls(jwk_thumbprint(private.public_key()), private, now, None, STATUS_ACTIVE)


@dataclass(frozen=True)
class _Meta:
    kid: str
    created_at: datetime
    retired_at: datetime | None
    status: str

    def to_json(self) -> dict:
        return {
            "kid": self.kid,
            "created_at": _iso(self.created_at),
            "retired_at": _iso(self.retired_at) if self.retired_at else None,
            "status": self.status,
        }

    @classmethod
    def from_json(cls, raw: dict) -> _Meta:
        status = raw["status"]
        if status not in (STATUS_ACTIVE, STATUS_RETIRED):
            raise KeyStoreError(f"unknown key status {status!r}")
        created = _parse_iso(raw["created_at"])
        if created is None:
            raise KeyStoreError(f"key {raw.get('kid')!r} has no created_at")
        retired = _parse_iso(raw.get("retired_at"))
        if (status == STATUS_RETIRED) != (retired is not None):
            raise KeyStoreError(f"key {raw.get('kid')!r}: retired_at and status disagree")
        return cls(raw["kid"], created, retired, status)


class KeyStore:
    """Signing keys in a directory. Safe for several processes on one host (flock)."""

    def __init__(self, directory: Path, *, passphrase: bytes | None = None):
        self.directory = Path(directory)
        self._passphrase = passphrase
        self._meta_cache: tuple[tuple[int, int, int], list[_Meta]] | None = None
        self._private_cache: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._public_cache: dict[str, ec.EllipticCurvePublicKey] = {}

    # -- files ---------------------------------------------------------------

    def _prepare_directory(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)  # mkdir's mode is filtered by the umask

    def _atomic_write(self, name: str, data: bytes, mode: int) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory)
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.directory / name)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self._prepare_directory()
        fd = os.open(self.directory / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _load_meta(self) -> list[_Meta]:
        path = self.directory / _META
        try:
            st = path.stat()
        except FileNotFoundError:
            return []
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._meta_cache is not None and self._meta_cache[0] == stamp:
            return self._meta_cache[1]
        try:
            raw = json.loads(path.read_bytes())
            metas = [_Meta.from_json(item) for item in raw["keys"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"{path} is not a valid key metadata file: {exc}") from exc
        if sum(1 for m in metas if m.status == STATUS_ACTIVE) > 1:
            raise KeyStoreError(f"{path} lists more than one active key")
        self._meta_cache = (stamp, metas)
        return metas

    def _write_meta(self, metas: list[_Meta]) -> None:
        body = json.dumps({"version": 1, "keys": [m.to_json() for m in metas]}, indent=2)
        self._atomic_write(_META, body.encode("utf-8") + b"\n", 0o600)

    def _encryption(self) -> serialization.KeySerializationEncryption:
        if self._passphrase:
            return serialization.BestAvailableEncryption(self._passphrase)
        return serialization.NoEncryption()

    def _private(self, kid: str) -> ec.EllipticCurvePrivateKey:
        key = self._private_cache.get(kid)
        if key is None:
            path = self.directory / f"{kid}.pem"
            try:
                loaded = serialization.load_pem_private_key(path.read_bytes(), self._passphrase)
            except FileNotFoundError as exc:
                raise KeyStoreError(f"private key file for {kid} is missing") from exc
            except (TypeError, ValueError) as exc:  # wrong or missing passphrase, bad PEM
                raise KeyStoreError(f"cannot load the private key of {kid}: {exc}") from exc
            if not isinstance(loaded, ec.EllipticCurvePrivateKey) or not isinstance(
                loaded.curve, ec.SECP256R1
            ):
                raise KeyStoreError(f"{path} is not a P-256 private key")
            if jwk_thumbprint(loaded.public_key()) != kid:
                raise KeyStoreError(f"{path} does not match its kid")
            key = self._private_cache[kid] = loaded
        return key

    def _signing_key(self, meta: _Meta) -> SigningKey:
        return SigningKey(meta.kid, self._private(meta.kid), meta.created_at, meta.retired_at, meta.status)

    def _new_key(self, now: datetime) -> _Meta:
        private = ec.generate_private_key(ec.SECP256R1())
        kid = jwk_thumbprint(private.public_key())
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, self._encryption()
        )
        self._atomic_write(f"{kid}.pem", pem, 0o600)
        self._private_cache[kid] = private
        return _Meta(kid, now, None, STATUS_ACTIVE)

    # -- public API ----------------------------------------------------------

    def all_keys(self) -> list[SigningKey]:
        """Every key on record, oldest first (active and retired)."""
        return [self._signing_key(m) for m in self._load_meta()]

    def active(self) -> SigningKey:
        for meta in self._load_meta():
            if meta.status == STATUS_ACTIVE:
                return self._signing_key(meta)
        raise KeyStoreError(f"no active signing key in {self.directory}")

    def ensure_active(self, *, now: datetime | None = None) -> SigningKey:
        """The active key, creating the first one (``created_at = now``) if there is none."""
        if now is None:
            now = datetime.now(timezone.utc)
        _require_aware("now", now)
        with self._locked():
            metas = self._load_meta()
            if not any(m.status == STATUS_ACTIVE for m in metas):
                metas = [*metas, self._new_key(now)]
                self._write_meta(metas)
        return self.active()

    def rotate(self, *, now: datetime) -> SigningKey:
        """Make a new active key; the previous active key is retired at ``now``."""
        _require_aware("now", now)
        with self._locked():
            metas = [
                _Meta(m.kid, m.created_at, now, STATUS_RETIRED) if m.status == STATUS_ACTIVE else m
                for m in self._load_meta()
            ]
            metas.append(self._new_key(now))
            self._write_meta(metas)
        return self.active()

    def _published(self, now: datetime, validity: timedelta) -> list[_Meta]:
        _require_aware("now", now)
        if validity < timedelta(0):
            raise ValueError("validity must not be negative")
        return [
            m
            for m in self._load_meta()
            if m.status == STATUS_ACTIVE or (m.retired_at is not None and m.retired_at + validity > now)
        ]

    def jwks(self, *, now: datetime, validity: timedelta) -> dict:
        """RFC 7517 JWK Set: the active key and every retired key still needed at ``now``."""
        return {"keys": [public_jwk(self._public(m.kid), m.kid) for m in self._published(now, validity)]}

    def public_keys(self, *, now: datetime, validity: timedelta) -> dict[str, ec.EllipticCurvePublicKey]:
        """``{kid: public key}`` for the same keys as :meth:`jwks` (for ``jws.verify``)."""
        return {m.kid: self._public(m.kid) for m in self._published(now, validity)}

    def _public(self, kid: str) -> ec.EllipticCurvePublicKey:
        key = self._public_cache.get(kid)
        if key is None:
            key = self._public_cache[kid] = self._private(kid).public_key()
        return key

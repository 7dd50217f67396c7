"""Checkpoint speed: raw ES256 verify of ``cryptography`` vs the full ``decide()``.

``python -m cases.codes._bench [n]`` prints the numbers. Target: decide ≥ 0.5 × raw.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ._b64 import b64u_decode
from .claims import build_claims
from .jws import sign
from .keys import SigningKey
from .qrtext import to_qr_text
from .verify import decide


def _rate(fn, n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def bench(n: int = 5000, *, repeat: int = 3) -> dict:
    """``{"raw_verify_per_s", "decide_per_s", "ratio"}``, best of ``repeat`` runs of ``n``."""
    now = datetime(2020, 3, 10, 9, 0, tzinfo=timezone.utc)
    key = SigningKey.generate(now=now)
    claims = build_claims(
        pass_id="bench-0001",
        colour="green",
        issued_at=now,
        valid_until=now + timedelta(days=14),
        region="370102",
        name="张小三",
        id_number="11010519491231002X",
        hash_key=b"bench-hash-key-0123456789",
    )
    token = sign(claims, key)
    text = to_qr_text(token)
    keys = {key.kid: key.public_key}
    revoked = frozenset({f"revoked-{i}" for i in range(10_000)})
    check_at = now + timedelta(days=1)

    header, payload, sig = token.split(".")
    raw = b64u_decode(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    data = f"{header}.{payload}".encode("ascii")
    public = key.public_key
    alg = ec.ECDSA(hashes.SHA256())

    def raw_verify() -> None:
        public.verify(der, data, alg)

    def full_decide() -> None:
        decide(token=text, keys=keys, revoked=revoked, now=check_at, temperature=36.5)

    assert decide(token=text, keys=keys, revoked=revoked, now=check_at, temperature=36.5).passed
    raw_rate = _rate(raw_verify, n, repeat)
    decide_rate = _rate(full_decide, n, repeat)
    return {
        "raw_verify_per_s": round(raw_rate, 1),
        "decide_per_s": round(decide_rate, 1),
        "ratio": round(decide_rate / raw_rate, 3),
    }


if __name__ == "__main__":
    print(bench(int(sys.argv[1]) if len(sys.argv) > 1 else 5000))
